"""The video command: `--video IN --out OUT` renders a whole video through the one frame loop,
drawing and encoding in a writer thread; every failure a user can cause is a UserError (one line,
exit 2)."""
import statistics
import sys
import time

import av
from tqdm import tqdm

from .effects import EFFECTS
from .engine import Engine
from .errors import OutputError, UserError, disk_error
from .frame_loop import prefetch, queue_depth, results
from .memory import reuse_blocks_below
from .outputs import FrameWriters
from .pipeline import Pipeline
from .settings import Settings
from .sources import LARGE_FRAME, VideoReader, open_source
from .video_io import ALPHA_FORMATS, VIDEO_FORMATS, BackgroundWriter, VideoWriter, check_output

STAGES = ("decode", "inference", "postprocess", "draw", "encode")


def warn(message):
    print(message, file=sys.stderr)


def summary(n, out, elapsed, provider, times):
    med = {k: statistics.median(times[k]) if times[k] else 0.0 for k in STAGES}
    return (f"{n} frames -> {out} | {n / max(elapsed, 1e-9):.1f} fps | provider {provider} | median ms: "
            + ", ".join(f"{k} {v:.1f}" for k, v in med.items()))


def run_video(args, settings: Settings):
    if args.out is None:
        raise UserError("--video needs --out OUT.mp4")
    alpha = EFFECTS[settings.effect.name].alpha
    check_output(args.out, args.video, ALPHA_FORMATS if alpha else VIDEO_FORMATS)  # before any work
    reader: VideoReader = open_source(args.video, kind="video")
    if reader.width * reader.height > LARGE_FRAME:
        reuse_blocks_below()  # working pictures and masks of megabytes each, reused, not cleared again
    for note in reader.notes:
        warn(f"note: {note}")
    masks = FrameWriters(args, args.video)
    # one graph thread: decoding, drawing and encoding keep the other cores busy, and the graph
    # alone costs 24 ms of CPU a frame against 28 ms on two threads
    engine = Engine.for_settings(settings, threads=1)
    # frames larger than 1080p: masks made at half size (or less) and enlarged, the picture drawn at
    # full size
    pipe = Pipeline(engine, settings, track=True, draw_now=False, work_size=(1920, 1088), upsample=True)
    # drawing happens in the writer thread, overlapping the next frame's inference
    video = VideoWriter(args.out, reader.width, reader.height, reader.rate,
                        audio_from=args.video if reader.audio else None, alpha=alpha)
    depth = queue_depth((reader.height, reader.width))
    # the frame is drawn on in place: once queued here, nothing else reads it
    writer = BackgroundWriter(video, depth=depth, prepare=lambda shown: pipe.picture(shown, in_place=True))
    for note in video.notes:
        warn(f"note: {note}")
    times = {k: [] for k in STAGES}
    seen_ids = set()
    interrupted = False
    bar = tqdm(total=reader.expected_frames, unit="frame", desc="video", dynamic_ncols=True)
    t_start = time.perf_counter()
    try:
        for shown in results(prefetch(reader, depth), pipe):
            r = shown.result
            writer.write(shown, r.time)
            seen_ids.update(r.track_ids().tolist())
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
        masks.discard()
        msg = str(e) if isinstance(e, OutputError) else f"cannot write {args.out}: {disk_error(e)}"
        raise UserError(msg) from None
    except BaseException:
        bar.close()
        writer.discard()
        masks.discard()
        raise
    bar.total = bar.n  # the frame count from the header is only an estimate
    bar.close()
    elapsed = time.perf_counter() - t_start
    try:
        masks.finish()  # first: a video must not stay without the masks asked for
        out = writer.finish()
    except (OSError, av.FFmpegError, OutputError) as e:
        writer.discard()
        masks.discard()
        raise UserError(str(e) if isinstance(e, OutputError) else f"cannot write {args.out}: {disk_error(e)}") \
            from None
    times["encode"], times["draw"] = writer.write_ms, writer.prepare_ms
    n = writer.frames
    if interrupted:
        print(f"interrupted: {out} holds the {n} frames done so far" if out else "interrupted before any frame")
    elif reader.error:
        warn(f"warning: input stopped at frame {n}: {reader.error}")
    never = sorted(set(settings.selection.ids) - seen_ids)
    if never and not interrupted:
        warn(f"warning: --keep-ids {', '.join(map(str, never))} never appeared (ids are in --save-masks' "
             f"masks.json or drawn with --boxes)")
    if out is None:
        raise UserError(f"no frame could be decoded from {args.video}")
    print(summary(n, out, elapsed, engine.provider, times))
    return 130 if interrupted else 0
