"""One frame through the whole chain: engine -> tracker -> full-res instances -> overlay.
Shared by the video command, the still-image command and the GUI worker."""
import time
from dataclasses import dataclass

from .drawing import DrawStyle, draw, instances
from .engine import Detections, Engine
from .tracking import Tracker


@dataclass
class FrameResult:
    frame: object         # the input frame (BGR)
    overlay: object       # the drawn frame (BGR)
    detections: Detections
    instances: list
    times: dict           # milliseconds per stage


class Pipeline:
    def __init__(self, engine: Engine, style: DrawStyle = None, smoothing=True):
        self.engine = engine
        self.style = style or DrawStyle()
        self.tracker = Tracker(smoothing=smoothing)

    def process(self, frame) -> FrameResult:
        det = self.engine.run(frame)
        t0 = time.perf_counter()
        det = self.tracker.update(det)
        insts = instances(det)
        t1 = time.perf_counter()
        overlay = draw(frame, insts, self.style)
        t2 = time.perf_counter()
        times = dict(self.engine.last_times)
        times.update(postprocess=(t1 - t0) * 1000, draw=(t2 - t1) * 1000)
        return FrameResult(frame, overlay, det, insts, times)
