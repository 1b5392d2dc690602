"""One frame through the chain: engine -> tracker -> selection -> rendering (overlay or effect),
giving one Result with its picture and the time of each stage. Shared by the frame loop (video
command, still images, live session) and the Python API."""
import time

from .drawing import DrawStyle
from .effects import Effect, render
from .engine import Engine
from .results import Result
from .selection import Selection
from .tracking import Tracker, TrackerSettings


class Pipeline:
    def __init__(self, engine: Engine, style: DrawStyle = None, tracking: TrackerSettings = None, track=True,
                 effect: Effect = None, selection: Selection = None, render=True):
        self.engine = engine
        self.style = style or DrawStyle()
        # stills are unrelated pictures: no tracker, ids are 1..N in score order
        self.tracker = Tracker(tracking) if track else None
        self.effect = effect or Effect()
        self.selection = selection or Selection()
        # False: results come without their picture; the caller renders (the video command does it
        # in its writer thread, where it overlaps the next frame's inference)
        self.render = render

    def rendered(self, result: Result):
        """The result's picture (overlay or effect), drawn now."""
        return render(result, self.effect, self.style)

    def process(self, frame, **source) -> Result:
        """source: index, time, captured_at, name of the frame (stored on the result)."""
        if self.tracker is None:
            result = self.engine.run(frame)
            t0 = time.perf_counter()
        else:
            shown = self.engine.score_threshold
            result = self.engine.run(frame, self.tracker.detect_threshold(shown))
            t0 = time.perf_counter()
            result = self.tracker.update(result, shown)
        result = self.selection.apply(result.replace(**source))
        result.instances()  # full-resolution masks: part of postprocessing, used by every output
        if self.tracker is not None:
            self.tracker.remember(result)
        t1 = time.perf_counter()
        if self.render:
            result.overlay = self.rendered(result)
        t2 = time.perf_counter()
        result.timings.update(postprocess=(t1 - t0) * 1000, draw=(t2 - t1) * 1000)
        return result
