"""The one frame loop: any source of Frames in, Results out, for the video command, still images
and the live session alike. Each result's timings start with 'decode' (reading the frame)."""
import sys
import time

import cv2

from .pipeline import Pipeline
from .video_io import Frame


def results(frames, pipeline: Pipeline):
    """Yields one Result per Frame, in order; timings: decode, preprocess, inference, postprocess, draw."""
    it = iter(frames)
    while True:
        t0 = time.perf_counter()
        frame = next(it, None)
        if frame is None:
            return
        decode = frame.decode_ms if frame.decode_ms is not None else (time.perf_counter() - t0) * 1000
        result = pipeline.process(frame.image, index=frame.index, time=frame.time, captured_at=frame.captured_at,
                                  name=frame.name)
        result.timings = {"decode": decode, **result.timings}
        yield result


def image_frames(paths, warn=lambda msg: print(msg, file=sys.stderr)):
    """Frames from still image files; unreadable ones are reported and skipped."""
    for i, path in enumerate(paths):
        image = cv2.imread(path, cv2.IMREAD_COLOR)
        if image is None:
            warn(f"skipped {path}: not a readable image")
            continue
        yield Frame(image, i, name=path)
