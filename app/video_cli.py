"""The file commands: `--video IN --out OUT` (a whole video) and `--image PATH|DIR` (stills)."""
import os
import statistics
import sys
import time

import cv2
from tqdm import tqdm

from .drawing import DrawStyle
from .engine import Engine, EngineError
from .mask_files import MaskWriter, write_png_atomic
from .pipeline import Pipeline
from .video_io import VideoError, VideoReader, VideoWriter, check_writable

IMAGE_EXTS = (".jpg", ".jpeg", ".png", ".bmp", ".webp", ".tif", ".tiff")


class UserError(Exception):
    """Printed as one line, exit status 2."""


def make_engine(args):
    try:
        return Engine(args.model, args.device, args.threshold, args.max_instances, log=print)
    except EngineError as e:
        raise UserError(str(e)) from None


def make_pipeline(args, engine, smoothing):
    style = DrawStyle(alpha=args.alpha, contours=not args.no_contours, boxes=args.boxes)
    return Pipeline(engine, style, smoothing=smoothing)


def run_video(args):
    if args.out is None:
        raise UserError("--video needs --out OUT.mp4")
    try:
        check_writable(args.out)  # before any work
        reader = VideoReader(args.video)
    except VideoError as e:
        raise UserError(str(e)) from None
    masks = None
    if args.save_masks:
        try:
            masks = MaskWriter(args.save_masks, os.path.abspath(args.video))
        except OSError as e:
            raise UserError(str(e)) from None
    engine = make_engine(args)
    pipe = make_pipeline(args, engine, smoothing=not args.no_smoothing)
    writer = VideoWriter(args.out, reader.width, reader.height, reader.fps, audio_from=args.video,
                         audio_codec=reader.audio_codec)
    stages = {k: [] for k in ("decode", "inference", "postprocess", "draw", "encode")}
    interrupted = False
    bar = tqdm(total=reader.expected_frames, unit="frame", desc="video", dynamic_ncols=True)
    t_start = time.perf_counter()
    try:
        frames = iter(reader)
        while True:
            t0 = time.perf_counter()
            frame = next(frames, None)
            if frame is None:
                break
            t1 = time.perf_counter()
            res = pipe.process(frame)
            t2 = time.perf_counter()
            writer.write(res.overlay)
            if masks:
                masks.add(writer.frames - 1, res.instances, frame.shape[:2])
            t3 = time.perf_counter()
            stages["decode"].append((t1 - t0) * 1000)
            stages["inference"].append(res.times["preprocess"] + res.times["inference"])
            stages["postprocess"].append(res.times["postprocess"])
            stages["draw"].append(res.times["draw"])
            stages["encode"].append((t3 - t2) * 1000)
            bar.update(1)
    except KeyboardInterrupt:
        interrupted = True
    except BaseException:
        bar.close()
        writer.discard()
        raise
    bar.total = bar.n  # the frame count from the header is only an estimate
    bar.close()
    elapsed = time.perf_counter() - t_start
    out = writer.finish()
    if masks:
        masks.finish()
    n = writer.frames
    if interrupted:
        print(f"interrupted: {out} holds the {n} frames done so far" if out else "interrupted before any frame")
    if reader.error:
        print(f"warning: input stopped at frame {n}: {reader.error}")
    if out is None:
        raise UserError(f"no frame could be decoded from {args.video}")
    med = {k: statistics.median(v) if v else 0.0 for k, v in stages.items()}
    print(f"{n} frames -> {out} | {n / max(elapsed, 1e-9):.1f} fps | provider {engine.provider} | median ms: "
          + ", ".join(f"{k} {v:.1f}" for k, v in med.items()))
    return 130 if interrupted else 0


def list_images(path):
    if os.path.isdir(path):
        files = sorted(os.path.join(path, f) for f in os.listdir(path) if f.lower().endswith(IMAGE_EXTS))
        if not files:
            raise UserError(f"no images in {path}")
        return files
    if not os.path.isfile(path):
        raise UserError(f"input not found: {path}")
    return [path]


def run_images(args):
    files = list_images(args.image)
    many = os.path.isdir(args.image)
    out = args.out or ("annotated" if many else os.path.splitext(args.image)[0] + "_s4net.png")
    if many:
        os.makedirs(out, exist_ok=True)
    try:
        check_writable(os.path.join(out, "x") if many else out)
    except VideoError as e:
        raise UserError(str(e)) from None
    masks = MaskWriter(args.save_masks, os.path.abspath(args.image)) if args.save_masks else None
    engine = make_engine(args)
    pipe = make_pipeline(args, engine, smoothing=False)
    done = 0
    for i, path in enumerate(tqdm(files, unit="image", desc="images", disable=len(files) < 2)):
        frame = cv2.imread(path, cv2.IMREAD_COLOR)
        if frame is None:
            print(f"skipped {path}: not a readable image", file=sys.stderr)
            continue
        pipe.tracker.reset()  # stills are unrelated: ids restart per image
        res = pipe.process(frame)
        stem = os.path.splitext(os.path.basename(path))[0]
        target = os.path.join(out, stem + ".png") if many else out
        try:
            write_png_atomic(target, res.overlay)
        except OSError as e:
            raise UserError(str(e)) from None
        if masks:
            masks.add(i, res.instances, frame.shape[:2], name=stem + "_ids.png")
        done += 1
        if not many:
            print(f"{len(res.instances)} instances -> {target} (provider {engine.provider})")
    if masks:
        masks.finish()
    if done == 0:
        raise UserError("no readable image")
    if many:
        print(f"{done} images -> {out} (provider {engine.provider})")
    return 0
