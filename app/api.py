"""The Python API: S4Net salient instances from your own script.

    from app import Segmenter
    seg = Segmenter()                      # the bundled model; device "auto", "cuda" or "cpu"
    shown = seg(frame_bgr)                 # one Shown: .result (boxes, scores, ids, masks), .picture
    for shown in seg.stream("clip.mp4"):   # a file, a camera index or a URL: every frame, in order
        ...

Calls on consecutive frames are tracked (ids stay with their objects); `reset()` forgets the
tracks, e.g. before a new, unrelated clip. `stream()` resets by itself. `seg.settings` (an
app.settings.Settings) holds every choice and may be changed between calls.
"""
import dataclasses

from .effects import Effect, parse_effect
from .engine import Engine
from .errors import EngineError
from .frame_loop import results
from .pipeline import Pipeline, Shown
from .selection import Selection
from .settings import Settings
from .sources import open_source
from .tracking import TrackerSettings


class Segmenter:
    def __init__(self, model=None, device="auto", threshold=None, max_instances=None, smoothing=True,
                 effect="overlay", keep_largest=0, refine=True, tracking: TrackerSettings = None,
                 settings: Settings = None, log=lambda msg: None):
        """settings: every choice at once (app.settings.Settings); otherwise the keywords build them.
        tracking: the tracker's settings (confirmation, persistence, the weaker threshold that
        continues tracks, merging of parts; app.tracking.TrackerSettings); smoothing overrides its
        smoothing. effect: a name ("blur"), words (["blur", "20"]) or an app.effects.Effect."""
        if settings is None:
            try:
                effect = effect if isinstance(effect, Effect) else parse_effect([effect] if isinstance(effect, str)
                                                                                 else list(effect))
                settings = Settings(model=model, device=device, threshold=threshold, max_instances=max_instances,
                                    refine=refine, effect=effect, selection=Selection(largest=keep_largest),
                                    tracking=dataclasses.replace(tracking or TrackerSettings(), smoothing=smoothing))
            except (TypeError, ValueError) as e:
                raise EngineError(f"settings: {e}") from None
        self.settings = settings
        self.engine = Engine.for_settings(settings, log=log)
        self.pipeline = Pipeline(self.engine, settings)

    @property
    def provider(self):
        """The onnxruntime provider the session really runs on."""
        return self.engine.provider

    def __call__(self, frame_bgr) -> Shown:
        """(H, W, 3) uint8 BGR -> Shown: `.result` the instances, `.picture` the rendered frame."""
        return self.pipeline.process(frame_bgr)

    def reset(self):
        if self.pipeline.tracker:
            self.pipeline.tracker.reset()

    def stream(self, source):
        """A Shown for every frame of a video file, camera (index or '0'), stream URL or folder of
        pictures, in order."""
        self.reset()
        frames = open_source(source)
        try:
            yield from results(frames, self.pipeline)
        finally:
            frames.close()
