"""One frame's result: the frame, its salient instances and the stage timings, and every way out
of it (overlay, id mask, JSON/RLE records, cut-outs). The engine makes it, the tracker gives it
ids, the pipeline draws it, and the video command, still images, mask files, screenshots, the live
session and the GUI all read it. No Qt and no torch here.

Shapes: N instances; frame (H, W, 3) uint8 BGR; boxes (N, 4) float32 x1 y1 x2 y2 in frame pixels;
scores (N,) float32 best first; maps (N, h, w) float32 mask probabilities over the whole frame at
the graph's mask stride (pasted at full resolution, refined along the frame's edges, on demand);
ids (N,) int64 track ids (1..N in order when no tracker ran).
"""
import dataclasses
from dataclasses import dataclass, field
from typing import Optional

import cv2
import numpy as np

from contracts.masks import paste_probabilities, rle
from contracts.refine import EdgeGuide


HOLD = 0.1  # the tracked masks' hysteresis about the 0.5 cut


@dataclass
class Instance:
    """One instance at full resolution: its boolean mask is a crop placed at (x0, y0)."""
    id: int
    score: float
    box: np.ndarray
    x0: int
    y0: int
    mask: np.ndarray

    def full_mask(self, frame_size):
        m = np.zeros(frame_size, bool)
        h, w = self.mask.shape
        m[self.y0:self.y0 + h, self.x0:self.x0 + w] = self.mask
        return m

    def record(self, frame_size):
        """JSON-ready: id, score, box and the COCO RLE of the full-frame mask."""
        return {"id": self.id, "score": round(self.score, 4), "box": [round(float(v), 1) for v in self.box],
                "rle": rle(self.full_mask(frame_size))}


@dataclass(eq=False)
class Result:
    frame: np.ndarray
    boxes: np.ndarray
    scores: np.ndarray
    maps: np.ndarray
    ids: Optional[np.ndarray] = None
    timings: dict = field(default_factory=dict)   # milliseconds per stage, in pipeline order
    index: int = 0                                # frame number in its source
    time: Optional[float] = None                  # the frame's timestamp in its source, seconds
    captured_at: Optional[float] = None           # time.monotonic() when a live source delivered it
    name: Optional[str] = None                    # the source file of a still image
    overlay: Optional[np.ndarray] = None          # the rendered frame (overlay or effect; BGRA for cut-outs)
    unselected: Optional["Result"] = None         # before a Selection kept only some instances
    refine: bool = True                           # masks follow the frame's edges (contracts.refine)
    previous: Optional[dict] = None               # track id -> its Instance on the last frame (the tracker's)
    _instances: Optional[list] = field(default=None, repr=False)

    def __len__(self):
        return len(self.scores)

    @property
    def frame_size(self):
        return self.frame.shape[:2]

    def track_ids(self):
        return self.ids if self.ids is not None else np.arange(1, len(self) + 1, dtype=np.int64)

    def replace(self, **changes):
        """A new Result with some fields changed (full-resolution masks are recomputed)."""
        return dataclasses.replace(self, _instances=None, **changes)

    def id_at(self, x, y):
        """The id of the instance at frame pixel (x, y), or 0 (the highest score wins on overlaps)."""
        h, w = self.frame_size
        if not (0 <= x < w and 0 <= y < h):
            return 0
        for inst in sorted(self.instances(), key=lambda i: -i.score):
            mh, mw = inst.mask.shape
            if inst.x0 <= x < inst.x0 + mw and inst.y0 <= y < inst.y0 + mh and inst.mask[y - inst.y0, x - inst.x0]:
                return inst.id
        return 0

    def select(self, keep):
        """The instances where keep (bool (N,) or indices) holds, everything else unchanged."""
        keep = np.asarray(keep)
        ids = None if self.ids is None else self.ids[keep]
        return self.replace(boxes=self.boxes[keep], scores=self.scores[keep], maps=self.maps[keep], ids=ids)

    def instances(self):
        """Full-resolution masks inside each box (computed once); empty masks are left out."""
        if self._instances is None:
            out = []
            guide = EdgeGuide(self.frame, self.maps.shape[1:]) if self.refine and len(self) else None
            for i, track_id in enumerate(self.track_ids()):
                x0, y0, prob = paste_probabilities(self.maps[i], self.boxes[i], self.frame_size, guide)
                crop = self._cut(int(track_id), x0, y0, prob)
                if crop.any():
                    out.append(Instance(int(track_id), float(self.scores[i]), self.boxes[i], x0, y0, crop))
            self._instances = out
        return self._instances

    def _cut(self, track_id, x0, y0, prob):
        """The mask from its probabilities: above 0.5; for a tracked instance with a hysteresis of
        HOLD, so that a pixel that sensor noise moves about the cut keeps the state it had."""
        mask = prob > 0.5
        before = self.previous.get(track_id) if self.previous else None
        if before is None or not mask.size:
            return mask
        was = np.zeros_like(mask)
        h, w = mask.shape
        bh, bw = before.mask.shape
        ox0, oy0 = max(x0, before.x0), max(y0, before.y0)
        ox1, oy1 = min(x0 + w, before.x0 + bw), min(y0 + h, before.y0 + bh)
        if ox1 > ox0 and oy1 > oy0:
            was[oy0 - y0:oy1 - y0, ox0 - x0:ox1 - x0] = before.mask[oy0 - before.y0:oy1 - before.y0,
                                                                    ox0 - before.x0:ox1 - before.x0]
        return np.where(np.abs(prob - 0.5) <= HOLD, was, mask)

    def id_mask(self):
        """uint16 (H, W): pixel = instance id, 0 = background; higher scores win where masks overlap."""
        m = np.zeros(self.frame_size, np.uint16)
        for inst in sorted(self.instances(), key=lambda i: i.score):
            h, w = inst.mask.shape
            m[inst.y0:inst.y0 + h, inst.x0:inst.x0 + w][inst.mask] = inst.id
        return m

    def records(self):
        """Per-instance JSON records (id, score, box, RLE), the one format every file uses."""
        return [inst.record(self.frame_size) for inst in self.instances()]

    def cutouts(self):
        """(instance, BGRA crop of its box with alpha = its mask) per instance."""
        out = []
        for inst in self.instances():
            h, w = inst.mask.shape
            cut = cv2.cvtColor(self.frame[inst.y0:inst.y0 + h, inst.x0:inst.x0 + w], cv2.COLOR_BGR2BGRA)
            cut[..., 3] = inst.mask.astype(np.uint8) * 255
            out.append((inst, cut))
        return out
