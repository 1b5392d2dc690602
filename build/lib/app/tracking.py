"""Stable instances across frames: each detection is matched to the live tracks by mask IoU (box
IoU where the masks barely overlap), recently seen tracks first; it keeps its id (and so its
colour) while visible and for a short while after it was last seen, and its mask map and box are
smoothed over time."""
import numpy as np

from .results import Result


def binary_maps(boxes, maps, frame_size):
    """Masks on the small map grid, cut to their boxes: (N, h*w) bool, for cheap IoU."""
    n, mh, mw = maps.shape
    h, w = frame_size
    xs = (np.arange(mw) + 0.5) * w / mw
    ys = (np.arange(mh) + 0.5) * h / mh
    b = boxes
    inside = ((xs[None, None, :] >= b[:, 0, None, None]) & (xs[None, None, :] <= b[:, 2, None, None]) &
              (ys[None, :, None] >= b[:, 1, None, None]) & (ys[None, :, None] <= b[:, 3, None, None]))
    return ((maps > 0.5) & inside).reshape(n, -1)


def mask_iou(a, b):
    inter = a.astype(np.float32) @ b.T.astype(np.float32)
    union = a.sum(1)[:, None] + b.sum(1)[None, :] - inter
    return np.where(union > 0, inter / np.maximum(union, 1), 0.0)


def box_iou(a, b):
    lt = np.maximum(a[:, None, :2], b[None, :, :2])
    rb = np.minimum(a[:, None, 2:], b[None, :, 2:])
    inter = np.clip(rb - lt, 0, None).prod(2)
    area = lambda x: (x[:, 2] - x[:, 0]) * (x[:, 3] - x[:, 1])  # noqa: E731
    union = area(a)[:, None] + area(b)[None, :] - inter
    return np.where(union > 0, inter / np.maximum(union, 1e-9), 0.0)


class Tracker:
    def __init__(self, smoothing=True, new_weight=0.6, min_iou=0.3, max_missing=15, box_weight=0.8, cascade=True):
        self.smoothing = smoothing
        self.box_weight = box_weight     # box IoU counts this much where masks barely overlap
        self.cascade = cascade           # False: all tracks compete at once (the first version)
        self.new_weight = new_weight
        self.min_iou = min_iou
        self.max_missing = max_missing   # frames a lost track keeps its id (half a second at 30 fps)
        self.next_id = 1
        self.tracks = {}  # id -> dict(box, map, missing)

    def reset(self):
        self.tracks.clear()
        self.next_id = 1

    def match(self, boxes, maps, frame_size):
        """Track id per detection (0 = new). A cascade: tracks seen in the last frame pick first
        (greedy on the best overlaps), tracks lost for longer only take what is left, so a track
        that lingers from a spurious box cannot steal the object from its current track."""
        ids = np.zeros(len(boxes), np.int64)
        track_ids = [t for t in self.tracks if self.tracks[t]["map"].shape == maps.shape[1:]]
        if not len(boxes) or not track_ids:
            return ids
        t_boxes = np.stack([self.tracks[t]["box"] for t in track_ids])
        t_maps = np.stack([self.tracks[t]["map"] for t in track_ids])
        iou = np.maximum(mask_iou(binary_maps(boxes, maps, frame_size), binary_maps(t_boxes, t_maps, frame_size)),
                         self.box_weight * box_iou(boxes, t_boxes))
        missing = np.array([self.tracks[t]["missing"] for t in track_ids]) if self.cascade \
            else np.zeros(len(track_ids), int)
        for level in sorted(set(missing.tolist())):
            cols = np.flatnonzero(missing == level)
            sub = iou[:, cols]
            for flat in np.argsort(-sub, axis=None):
                i, k = divmod(int(flat), len(cols))
                if sub[i, k] < self.min_iou:
                    break
                t = track_ids[cols[k]]
                if ids[i] or t in ids:
                    continue
                ids[i] = t
        return ids

    def update(self, result: Result) -> Result:
        boxes, maps = result.boxes.copy(), result.maps.copy()
        ids = self.match(boxes, maps, result.frame_size)
        for i, t in enumerate(ids):
            if t and self.smoothing:
                a, track = self.new_weight, self.tracks[int(t)]
                boxes[i] = a * boxes[i] + (1 - a) * track["box"]
                maps[i] = a * maps[i] + (1 - a) * track["map"]
        for t in list(self.tracks):
            if t not in ids:
                self.tracks[t]["missing"] += 1
                if self.tracks[t]["missing"] > self.max_missing:
                    del self.tracks[t]
        for i in range(len(ids)):
            if not ids[i]:
                ids[i] = self.next_id
                self.next_id += 1
            self.tracks[int(ids[i])] = {"box": boxes[i], "map": maps[i], "missing": 0}
        return result.replace(boxes=boxes, maps=maps, ids=ids)
