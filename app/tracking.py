"""Stable instances across frames: each detection is matched to last frame's tracks by mask IoU,
keeps its id (and so its colour) while visible, and its mask map and box are smoothed over time."""
import numpy as np

from .engine import Detections


def binary_maps(det: Detections):
    """Masks on the small map grid, cut to their boxes: (N, h*w) bool, for cheap IoU."""
    n, mh, mw = det.maps.shape
    h, w = det.frame_size
    xs = (np.arange(mw) + 0.5) * w / mw
    ys = (np.arange(mh) + 0.5) * h / mh
    b = det.boxes
    inside = ((xs[None, None, :] >= b[:, 0, None, None]) & (xs[None, None, :] <= b[:, 2, None, None]) &
              (ys[None, :, None] >= b[:, 1, None, None]) & (ys[None, :, None] <= b[:, 3, None, None]))
    return ((det.maps > 0.5) & inside).reshape(n, -1)


def mask_iou(a, b):
    inter = a.astype(np.float32) @ b.T.astype(np.float32)
    union = a.sum(1)[:, None] + b.sum(1)[None, :] - inter
    return np.where(union > 0, inter / np.maximum(union, 1), 0.0)


class Tracker:
    def __init__(self, smoothing=True, new_weight=0.6, min_iou=0.3, max_missing=5):
        self.smoothing = smoothing
        self.new_weight = new_weight
        self.min_iou = min_iou
        self.max_missing = max_missing
        self.next_id = 1
        self.tracks = {}  # id -> dict(box, map, missing)

    def reset(self):
        self.tracks.clear()
        self.next_id = 1

    def update(self, det: Detections) -> Detections:
        ids = np.zeros(len(det), np.int64)
        boxes, maps = det.boxes.copy(), det.maps.copy()
        track_ids = list(self.tracks)
        matched_tracks = set()
        if len(det) and track_ids:
            prev = Detections(np.stack([self.tracks[t]["box"] for t in track_ids]), np.zeros(len(track_ids)),
                              np.stack([self.tracks[t]["map"] for t in track_ids]), det.frame_size)
            if prev.maps.shape[1:] == det.maps.shape[1:]:
                iou = mask_iou(binary_maps(det), binary_maps(prev))
                # greedy: best pairs first
                for flat in np.argsort(-iou, axis=None):
                    i, j = divmod(int(flat), len(track_ids))
                    if iou[i, j] < self.min_iou:
                        break
                    if ids[i] or track_ids[j] in matched_tracks:
                        continue
                    ids[i] = track_ids[j]
                    matched_tracks.add(track_ids[j])
                    if self.smoothing:
                        a = self.new_weight
                        t = self.tracks[track_ids[j]]
                        boxes[i] = a * boxes[i] + (1 - a) * t["box"]
                        maps[i] = a * maps[i] + (1 - a) * t["map"]
        for t in track_ids:
            if t not in matched_tracks:
                self.tracks[t]["missing"] += 1
                if self.tracks[t]["missing"] > self.max_missing:
                    del self.tracks[t]
        for i in range(len(det)):
            if not ids[i]:
                ids[i] = self.next_id
                self.next_id += 1
            self.tracks[int(ids[i])] = {"box": boxes[i], "map": maps[i], "missing": 0}
        return Detections(boxes, det.scores, maps, det.frame_size, ids)
