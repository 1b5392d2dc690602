"""One frame through the chain: engine -> tracker -> masks -> selection -> picture (overlay or
effect), giving one Shown with the time of each stage. Shared by the frame loop (video command,
still images, live session) and the Python API. Every choice it makes is read from its Settings on
each frame, so a change (the live window's controls) applies from the next frame."""
import math
import time
from dataclasses import dataclass
from typing import Optional

import numpy as np

from contracts.refine import resampled

from .effects import render
from .engine import Engine
from .results import Result
from .settings import Settings
from .tracking import Tracker


@dataclass(eq=False)
class Shown:
    """One frame as the app shows it: the instances kept (`result`), its picture (overlay or
    effect; BGRA for a cut-out; None until rendered), every instance before a selection kept only
    some (`whole`, the same as result when nothing is selected), and the source's own frame when
    the result was made at a smaller working size (`source_frame`; None: result.frame is it)."""
    result: Result
    picture: Optional[np.ndarray] = None
    whole: Optional[Result] = None
    source_frame: Optional[np.ndarray] = None

    def __post_init__(self):
        if self.whole is None:
            self.whole = self.result

    @property
    def full_frame(self):
        """The source's frame, at its own resolution."""
        return self.result.frame if self.source_frame is None else self.source_frame


def halvings(frame_size, bound):
    """How many times to halve a frame of frame_size (h, w) to come nearest the size that fits
    bound (w, h) (the view scales the last factor of up to 1.4 either way): halvings are exact and
    ~10x cheaper than other ratios, and the graph's input is made through them anyway."""
    h, w = frame_size
    scale = min(bound[0] / w, bound[1] / h)
    return max(0, round(math.log2(1 / scale))) if scale < 1 else 0


def halved(frame, times):
    h, w = frame.shape[:2]
    return resampled(frame, size=(w >> times, h >> times))


class Pipeline:
    def __init__(self, engine: Engine, settings: Settings = None, track=True, draw_now=True, work_size=None,
                 upsample=False):
        self.engine = engine
        # (w, h) the pictures are shown at (the live window's view): masks are made, refined and
        # drawn at that size; None: at the frame's own. Screenshots and recordings use full_size().
        self.work_size = work_size
        # True: masks made at work_size are enlarged to the frame's own size, where the picture is
        # drawn (the video command on frames larger than 1080p)
        self.upsample = upsample
        self.settings = settings or Settings()
        # stills are unrelated pictures: no tracker, ids are 1..N in score order
        self.tracker = Tracker(self.settings.tracking) if track else None
        # False: results come without their picture; the caller renders (the video command does it
        # in its writer thread, where it overlaps the next frame's inference)
        self.draw_now = draw_now

    def picture(self, shown: Shown, in_place=False):
        """The picture of a shown frame (overlay or effect), drawn now with the current settings
        (in_place: on the frame itself where the effect allows; the caller has no further use of it)."""
        return render(shown.result, self.settings.effect, self.settings.style, in_place)

    def full_size(self, shown: Shown) -> Shown:
        """The shown frame at the source's resolution, its picture drawn: what screenshots and
        recordings keep when the result was made at the working size."""
        if shown.source_frame is None:
            return shown if shown.picture is not None else Shown(shown.result, self.picture(shown), shown.whole)
        result = shown.result.at_frame(shown.source_frame).with_masks()
        whole = result if shown.whole is shown.result else shown.whole.at_frame(shown.source_frame)
        full = Shown(result, whole=whole)
        full.picture = self.picture(full)
        return full

    def process(self, frame, **source) -> Shown:
        """source: index, time, captured_at, name of the frame (stored on the result)."""
        s = self.settings
        shown_at = self.engine.score_threshold if s.threshold is None else s.threshold
        if self.tracker is not None:
            self.tracker.settings = s.tracking
            graph_threshold = self.tracker.detect_threshold(shown_at)
        else:
            graph_threshold = shown_at
        k = halvings(frame.shape[:2], self.work_size) if self.work_size else 0
        work = halved(frame, k) if k else None
        result = self.engine.run(frame, graph_threshold, refine=s.refine, reduced=work)
        t0 = time.perf_counter()
        if self.tracker is not None:
            result = self.tracker.update(result, shown_at)  # in the frame's own pixels
        source_frame = None
        if work is not None:
            source_frame = frame
            result = result.at_frame(work)
        # full-resolution masks (at the working size): part of postprocessing, used by every output
        held = self.tracker.held_edges(result) if self.tracker is not None else None
        whole = result.replace(**source).with_masks(held)
        kept = s.selection.apply(whole)
        if self.tracker is not None:
            self.tracker.remember(kept)
        t1 = time.perf_counter()
        if source_frame is not None and self.upsample:
            kept, whole, source_frame = kept.upsampled(source_frame), None, None
        out = Shown(kept, whole=whole, source_frame=source_frame)
        if self.draw_now:
            out.picture = self.picture(out)
        t2 = time.perf_counter()
        kept.timings.update(postprocess=(t1 - t0) * 1000, draw=(t2 - t1) * 1000)
        return out
