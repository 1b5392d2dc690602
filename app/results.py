"""One frame's result: the frame, its salient instances and the stage timings, and every way out
of it (id mask, JSON/RLE records, cut-outs). The engine makes it, the tracker gives it ids, the
pipeline makes its masks and picks what is shown; the video command, still images, mask files,
screenshots, the live session and the GUI read it. No Qt and no torch here.

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

from contracts.masks import MASK_CUT, rle
from contracts.postprocess import Detections, instance_probabilities


HOLD = 0.1  # the tracked masks' hysteresis about the mask cut


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


PER_INSTANCE = ("boxes", "scores", "maps", "ids")  # one row per instance, all the same length


@dataclass(eq=False)
class Result:
    """The instances of one frame: every per-instance field has one row per instance (checked), and
    full-resolution masks, once made, have one too. Nothing about how it is shown lives here
    (app.pipeline.Shown holds the picture and the selection)."""
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
    refine: bool = True                           # masks follow the frame's edges (contracts.refine)
    _instances: Optional[list] = field(default=None, repr=False)  # one Instance per row, once made

    def __post_init__(self):
        n = len(self.scores)
        shapes = {"boxes": (n, 4), "scores": (n,), "maps": (n,) + tuple(np.shape(self.maps)[1:]),
                  "ids": (n,)}
        for name in PER_INSTANCE:
            value = getattr(self, name)
            if value is None and name == "ids":
                continue
            if np.shape(value) != shapes[name] or (name == "maps" and np.ndim(value) != 3):
                raise ValueError(f"Result.{name} has shape {np.shape(value)}; {n} instances need {shapes[name]}")
        if self._instances is not None and len(self._instances) != n:
            raise ValueError(f"Result has {len(self._instances)} masks for {n} instances")

    def __len__(self):
        return len(self.scores)

    @property
    def frame_size(self):
        return self.frame.shape[:2]

    def track_ids(self):
        return self.ids if self.ids is not None else np.arange(1, len(self) + 1, dtype=np.int64)

    def replace(self, **changes):
        """A new Result with some fields changed (full-resolution masks are made again)."""
        return dataclasses.replace(self, _instances=None, **changes)

    def at_frame(self, frame):
        """The same instances on the same picture at another resolution (boxes scaled; masks made
        again there): the live window works at the size it shows, screenshots at the source's."""
        (h, w), (nh, nw) = self.frame_size, frame.shape[:2]
        scale = np.array([nw / w, nh / h, nw / w, nh / h], np.float32)
        return self.replace(frame=frame, boxes=(self.boxes * scale).astype(np.float32))

    def upsampled(self, frame):
        """This result's instances, masks made, on the same picture at a higher resolution: boxes
        scaled and each mask enlarged (nearest), not made again (the video command makes a large
        frame's masks at a working size, ~4x cheaper at 4K)."""
        (h, w), (nh, nw) = self.frame_size, frame.shape[:2]
        fx, fy = nw / w, nh / h
        scale = np.array([fx, fy, fx, fy], np.float32)
        made = []
        for inst in self.instances():
            x0, y0 = int(round(inst.x0 * fx)), int(round(inst.y0 * fy))
            mh, mw = inst.mask.shape
            x1, y1 = min(int(round((inst.x0 + mw) * fx)), nw), min(int(round((inst.y0 + mh) * fy)), nh)
            mask = cv2.resize(inst.mask.view(np.uint8), (x1 - x0, y1 - y0), interpolation=cv2.INTER_NEAREST) \
                if mh and mw and x1 > x0 and y1 > y0 else np.zeros((max(y1 - y0, 0), max(x1 - x0, 0)), np.uint8)
            made.append(Instance(inst.id, inst.score, inst.box * scale, x0, y0, mask.view(bool)))
        return dataclasses.replace(self, frame=frame, boxes=(self.boxes * scale).astype(np.float32), _instances=made)

    def select(self, keep):
        """The instances where keep (bool (N,) or indices) holds, in that order; every per-instance
        field and the masks already made follow."""
        keep = np.asarray(keep)
        rows = np.flatnonzero(keep) if keep.dtype == bool else keep.astype(np.int64)
        changes = {name: getattr(self, name)[rows] for name in PER_INSTANCE if getattr(self, name) is not None}
        made = None if self._instances is None else [self._instances[i] for i in rows]
        return dataclasses.replace(self, _instances=made, **changes)

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

    def instances(self):
        """One full-resolution Instance per row, its mask inside its box (made once; see with_masks)."""
        if self._instances is None:
            self._instances = self._cut_masks()
        return self._instances

    def with_masks(self, held=None):
        """This result with its full-resolution masks made, the instances whose mask is empty left
        out (ids kept as they were). held: track id -> its Instance on the last frame, for the
        tracker's still objects: a pixel whose probability lies within HOLD of the cut keeps the
        state it had there, so that sensor noise does not move the edge."""
        made = self._cut_masks(held)
        full = dataclasses.replace(self, ids=self.track_ids(), _instances=made) if self.ids is None and \
            not all(i.mask.any() for i in made) else dataclasses.replace(self, _instances=made)
        return full.select(np.array([i.mask.any() for i in made], bool)) if len(made) else full

    def _cut_masks(self, held=None):
        found = Detections(self.boxes, self.scores, self.maps)
        probs = instance_probabilities(found, self.frame, self.refine) if len(self) else []
        return [Instance(int(track_id), float(self.scores[i]), self.boxes[i], x0, y0,
                         _cut(prob, x0, y0, held.get(int(track_id)) if held else None))
                for i, (track_id, (x0, y0, prob)) in enumerate(zip(self.track_ids(), probs))]

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


def _cut(prob, x0, y0, before=None):
    """The mask from its probabilities: above the cut; with a hysteresis of HOLD about it where
    the instance's mask on the last frame (before) is given."""
    mask = prob > MASK_CUT
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
    return np.where(np.abs(prob - MASK_CUT) <= HOLD, was, mask)
