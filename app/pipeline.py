"""One frame through the chain: engine -> tracker -> masks -> selection -> picture (overlay or
effect), giving one Shown with the time of each stage. Shared by the frame loop (video command,
still images, live session) and the Python API. Every choice it makes is read from its Settings on
each frame, so a change (the live window's controls) applies from the next frame."""
import time
from dataclasses import dataclass
from typing import Optional

import numpy as np

from .effects import render
from .engine import Engine
from .results import Result
from .settings import Settings
from .tracking import Tracker


@dataclass(eq=False)
class Shown:
    """One frame as the app shows it: the instances kept (`result`), its picture (overlay or
    effect; BGRA for a cut-out; None until rendered), and every instance before a selection kept
    only some (`whole`, the same as result when nothing is selected)."""
    result: Result
    picture: Optional[np.ndarray] = None
    whole: Optional[Result] = None

    def __post_init__(self):
        if self.whole is None:
            self.whole = self.result


class Pipeline:
    def __init__(self, engine: Engine, settings: Settings = None, track=True, draw_now=True):
        self.engine = engine
        self.settings = settings or Settings()
        # stills are unrelated pictures: no tracker, ids are 1..N in score order
        self.tracker = Tracker(self.settings.tracking) if track else None
        # False: results come without their picture; the caller renders (the video command does it
        # in its writer thread, where it overlaps the next frame's inference)
        self.draw_now = draw_now

    def picture(self, shown: Shown):
        """The picture of a shown frame (overlay or effect), drawn now with the current settings."""
        return render(shown.result, self.settings.effect, self.settings.style)

    def process(self, frame, **source) -> Shown:
        """source: index, time, captured_at, name of the frame (stored on the result)."""
        s = self.settings
        shown_at = self.engine.score_threshold if s.threshold is None else s.threshold
        if self.tracker is None:
            result = self.engine.run(frame, shown_at, refine=s.refine)
            t0 = time.perf_counter()
            held = None
        else:
            self.tracker.settings = s.tracking
            result = self.engine.run(frame, self.tracker.detect_threshold(shown_at), refine=s.refine)
            t0 = time.perf_counter()
            result = self.tracker.update(result, shown_at)
            held = self.tracker.held_edges(result)
        # full-resolution masks: part of postprocessing, used by every output
        whole = result.replace(**source).with_masks(held)
        kept = s.selection.apply(whole)
        if self.tracker is not None:
            self.tracker.remember(kept)
        t1 = time.perf_counter()
        out = Shown(kept, whole=whole)
        if self.draw_now:
            out.picture = self.picture(out)
        t2 = time.perf_counter()
        kept.timings.update(postprocess=(t1 - t0) * 1000, draw=(t2 - t1) * 1000)
        return out
