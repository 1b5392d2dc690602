"""The Python API: S4Net salient instances from your own script.

    from app import Segmenter
    seg = Segmenter()                      # the bundled model; device "auto", "cuda" or "cpu"
    result = seg(frame_bgr)                # one Result: boxes, scores, ids, masks, overlay
    for result in seg.stream("clip.mp4"):  # a file, a camera index or a URL: every frame, in order
        ...

Calls on consecutive frames are tracked (ids stay with their objects); `reset()` forgets the
tracks, e.g. before a new, unrelated clip. `stream()` resets by itself.
"""
import dataclasses

import cv2

from .capture import is_stream, parse_source
from .drawing import DrawStyle
from .effects import Effect
from .engine import Engine, EngineError
from .frame_loop import results
from .pipeline import Pipeline
from .selection import Selection
from .tracking import TrackerSettings
from .video_io import Frame, VideoError, VideoReader


class Segmenter:
    def __init__(self, model=None, device="auto", threshold=None, max_instances=None, smoothing=True,
                 effect="overlay", keep_largest=0, refine_masks=True, tracking: TrackerSettings = None,
                 log=lambda msg: None):
        """tracking: the tracker's settings (confirmation, persistence, the weaker threshold that
        continues tracks, merging of parts; app.tracking.TrackerSettings); smoothing overrides its
        smoothing."""
        self.engine = Engine(model, device, threshold, max_instances, log=log, refine_masks=refine_masks)
        try:
            tracking = dataclasses.replace(tracking or TrackerSettings(), smoothing=smoothing).check()
        except (TypeError, ValueError) as e:
            raise EngineError(f"tracking: {e}") from None
        self.pipeline = Pipeline(self.engine, DrawStyle(), tracking,
                                 effect=effect if isinstance(effect, Effect) else Effect(effect),
                                 selection=Selection(largest=keep_largest))

    @property
    def provider(self):
        """The onnxruntime provider the session really runs on."""
        return self.engine.provider

    def __call__(self, frame_bgr):
        """(H, W, 3) uint8 BGR -> Result (its `overlay` is the rendered picture)."""
        return self.pipeline.process(frame_bgr)

    def reset(self):
        if self.pipeline.tracker:
            self.pipeline.tracker.reset()

    def stream(self, source):
        """Results for every frame of a video file, camera (index or '0') or stream URL, in order."""
        self.reset()
        src = parse_source(source)
        if isinstance(src, int) or is_stream(src):
            yield from results(_capture_frames(src), self.pipeline)
            return
        reader = VideoReader(src)
        try:
            yield from results(reader, self.pipeline)
        finally:
            reader.close()


def _capture_frames(src):
    cap = cv2.VideoCapture(src)
    if not cap.isOpened():
        raise VideoError(f"cannot open {'camera ' + str(src) if isinstance(src, int) else src}")
    try:
        i = 0
        while True:
            ok, image = cap.read()
            if not ok:
                return
            yield Frame(image, i)
            i += 1
    finally:
        cap.release()
