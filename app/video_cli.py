"""The file commands: `--video IN --out OUT` (a whole video) and `--image PATH|DIR` (stills).
Both run the one frame loop; every failure a user can cause is a UserError (one line, exit 2)."""
import os
import statistics
import sys
import time

import av
from tqdm import tqdm

from .cli import tracker_settings
from .drawing import DrawStyle
from .engine import Engine, EngineError
from .frame_loop import image_frames, prefetch, results
from .mask_files import IMAGE_WRITE_EXTS, MaskWriter, OutputError, make_folder, write_image_atomic
from .pipeline import Pipeline
from .selection import Selection
from .video_io import ALPHA_FORMATS, VIDEO_FORMATS, BackgroundWriter, VideoError, VideoReader, VideoWriter, \
    check_output, disk_error, shown_name

IMAGE_READ_EXTS = (".jpg", ".jpeg", ".png", ".bmp", ".webp", ".tif", ".tiff")
STAGES = ("decode", "inference", "postprocess", "draw", "encode")


class UserError(Exception):
    """Printed as one line, exit status 2."""


def warn(message):
    print(message, file=sys.stderr)


def make_engine(args):
    try:
        return Engine(args.model, args.device, args.threshold, args.max_instances, log=print,
                      refine_masks=not args.raw_masks)
    except EngineError as e:
        raise UserError(str(e)) from None


def make_pipeline(args, engine, track, render=True):
    style = DrawStyle(alpha=args.alpha, contours=not args.no_contours, boxes=args.boxes)
    selection = Selection(args.keep_ids or frozenset(), args.keep_largest or 0)
    return Pipeline(engine, style, tracker_settings(args), track=track, effect=args.effect,
                    selection=selection, render=render)


def make_mask_writer(args, source):
    if not args.save_masks:
        return None
    try:
        return MaskWriter(args.save_masks, os.path.abspath(source))
    except OutputError as e:
        raise UserError(str(e)) from None


def summary(n, out, elapsed, provider, times):
    med = {k: statistics.median(times[k]) if times[k] else 0.0 for k in STAGES}
    return (f"{n} frames -> {out} | {n / max(elapsed, 1e-9):.1f} fps | provider {provider} | median ms: "
            + ", ".join(f"{k} {v:.1f}" for k, v in med.items()))


def run_video(args):
    if args.out is None:
        raise UserError("--video needs --out OUT.mp4")
    alpha = args.effect.name == "cutout"
    try:
        check_output(args.out, args.video, ALPHA_FORMATS if alpha else VIDEO_FORMATS)  # before any work
        reader = VideoReader(args.video)
    except VideoError as e:
        raise UserError(str(e)) from None
    for note in reader.notes:
        warn(f"note: {note}")
    masks = make_mask_writer(args, args.video)
    engine = make_engine(args)
    pipe = make_pipeline(args, engine, track=True, render=False)
    try:
        # drawing happens in the writer thread, overlapping the next frame's inference
        writer = BackgroundWriter(VideoWriter(args.out, reader.width, reader.height, reader.rate,
                                              audio_from=args.video if reader.audio else None, alpha=alpha),
                                  prepare=pipe.rendered)
    except VideoError as e:
        raise UserError(str(e)) from None
    audio = writer.writer.audio
    if audio is not None and audio.downmixed:
        warn(f"note: the audio's channels were mixed down to {audio.layout}: the output format's encoder "
             f"does not take the input's layout")
    times = {k: [] for k in STAGES}
    seen_ids = set()
    interrupted = False
    bar = tqdm(total=reader.expected_frames, unit="frame", desc="video", dynamic_ncols=True)
    t_start = time.perf_counter()
    try:
        for r in results(prefetch(reader), pipe):
            writer.write(r, r.time)
            seen_ids.update(r.track_ids().tolist())
            if masks:
                masks.add(r)
            times["inference"].append(r.timings["preprocess"] + r.timings["inference"])
            for k in ("decode", "postprocess"):
                times[k].append(r.timings[k])
            bar.update(1)
    except KeyboardInterrupt:  # Ctrl-C, and SIGTERM (main turns it into this)
        interrupted = True
    except (OSError, av.FFmpegError, OutputError) as e:
        bar.close()
        writer.discard()
        if masks:
            masks.discard()
        msg = str(e) if isinstance(e, OutputError) else f"cannot write {args.out}: {disk_error(e)}"
        raise UserError(msg) from None
    except BaseException:
        bar.close()
        writer.discard()
        if masks:
            masks.discard()
        raise
    bar.total = bar.n  # the frame count from the header is only an estimate
    bar.close()
    elapsed = time.perf_counter() - t_start
    try:
        if masks:  # first: a video must not stay without the masks asked for
            masks.finish()
        out = writer.finish()
    except (OSError, av.FFmpegError, OutputError) as e:
        writer.discard()
        if masks:
            masks.discard()
        raise UserError(str(e) if isinstance(e, OutputError) else f"cannot write {args.out}: {disk_error(e)}") \
            from None
    times["encode"], times["draw"] = writer.write_ms, writer.prepare_ms
    n = writer.frames
    if interrupted:
        print(f"interrupted: {out} holds the {n} frames done so far" if out else "interrupted before any frame")
    elif reader.error:
        warn(f"warning: input stopped at frame {n}: {reader.error}")
    never = sorted(set(args.keep_ids or ()) - seen_ids)
    if never and not interrupted:
        warn(f"warning: --keep-ids {', '.join(map(str, never))} never appeared (ids are in --save-masks' "
             f"masks.json or drawn with --boxes)")
    if out is None:
        raise UserError(f"no frame could be decoded from {args.video}")
    print(summary(n, out, elapsed, engine.provider, times))
    return 130 if interrupted else 0


def list_images(path):
    if os.path.isdir(path):
        files = sorted(os.path.join(path, f) for f in os.listdir(path) if f.lower().endswith(IMAGE_READ_EXTS))
        if not files:
            raise UserError(f"no images in {shown_name(path)}")
        return files
    if not os.path.isfile(path):
        raise UserError(f"input not found: {shown_name(path)}")
    return [path]


def output_names(files):
    """One output PNG name per input; inputs that share a stem (a.jpg, a.png) keep their extension."""
    stems = [os.path.splitext(os.path.basename(f))[0] for f in files]
    names = {}
    for f, stem in zip(files, stems):
        ext = os.path.splitext(f)[1].lower().lstrip(".")
        names[f] = f"{stem}_{ext}.png" if stems.count(stem) > 1 else f"{stem}.png"
    return names


ALPHA_IMAGE_EXTS = (".png", ".webp", ".tif", ".tiff")


def run_images(args):
    if args.keep_ids:
        raise UserError("--keep-ids follows tracks across video frames; for images use --keep-largest")
    files = list_images(args.image)
    many = os.path.isdir(args.image)
    # by default beside the input: photo.jpg -> photo_s4net.png, folder/ -> folder_s4net/
    out = args.out or (os.path.normpath(args.image) + "_s4net" if many else os.path.splitext(args.image)[0] + "_s4net.png")
    try:
        if many:
            if os.path.splitext(out)[1].lower() in IMAGE_WRITE_EXTS and not os.path.isdir(out):
                raise UserError(f"--image is a folder, so --out must be a folder, not the image name {out}")
            make_folder(out, "output folder")
        else:
            if args.effect.name == "cutout" and os.path.splitext(out)[1].lower() not in ALPHA_IMAGE_EXTS:
                raise UserError(f"a cut-out needs an image format with transparency: {', '.join(ALPHA_IMAGE_EXTS)}")
            if os.path.splitext(out)[1].lower() not in IMAGE_WRITE_EXTS:
                raise UserError(f"cannot write {os.path.splitext(out)[1] or 'a file without extension'} images: "
                                f"use {', '.join(IMAGE_WRITE_EXTS)}")
            if os.path.exists(out) and os.path.samefile(out, args.image):
                raise UserError(f"--out is the input file {args.image}: choose another name")
            check_output(out, formats=dict.fromkeys(IMAGE_WRITE_EXTS))
    except (OutputError, VideoError) as e:
        raise UserError(str(e)) from None
    masks = make_mask_writer(args, args.image)
    engine = make_engine(args)
    pipe = make_pipeline(args, engine, track=False)
    names = output_names(files)
    done = 0
    try:
        for r in results(tqdm(image_frames(files), total=len(files), unit="image", desc="images",
                              disable=len(files) < 2), pipe):
            target = os.path.join(out, names[r.name]) if many else out
            write_image_atomic(target, r.overlay)
            if masks:
                masks.add(r, name=os.path.splitext(names[r.name])[0] + "_ids.png")
            done += 1
            if not many:
                print(f"{len(r.instances())} instances -> {target} (provider {engine.provider})")
        if masks:
            masks.finish()
    except OutputError as e:
        raise UserError(str(e)) from None
    if done == 0:
        raise UserError("no readable image")
    if many:
        print(f"{done} images -> {out} (provider {engine.provider})")
    return 0
