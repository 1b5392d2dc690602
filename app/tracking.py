"""Stable instances across frames, so that nothing blinks on a still scene.

Each frame's detections (the graph run at the lower `low_threshold`) are matched to the tracks in
two stages, as ByteTrack does: detections at or above the shown threshold first, against every
track (tracks seen in the last frame pick first, so a lingering track cannot steal an object);
then the weaker ones, which may only continue a confirmed track that is still unmatched. Matching
is by mask IoU on the small map grid (box IoU where the masks barely overlap).

A track is shown once it is confirmed: seen on `confirm_frames` consecutive frames, or at once when
its score reaches `instant_score`, so a one-frame false detection never shows. A confirmed track
that is missed keeps showing its last (smoothed) mask and box for up to `persist_frames` frames
(one at least; no longer than half the frames it has been shown, and one only when its last score
was under `persist_score`: a doubtful instance is not held on screen), then hides; it keeps its id
for re-identification for `forget_frames` frames. A track whose mask lies
mostly inside another's, scoring no higher, for `merge_frames` frames becomes its hidden part (a
part is not an object), and a new detection inside a shown track starts a hidden part at once: the
part is still followed, so it cannot come back as a new instance, and is shown again only after it
has left its whole for `merge_frames` frames. (An object inside a larger false region scores higher
than it, and stays.) Matched masks and boxes are
smoothed over time (`smoothing`).
"""
import dataclasses
from dataclasses import dataclass
from typing import Optional

import numpy as np

from .results import Result


@dataclass(frozen=True)
class TrackerSettings:
    """Every setting of the tracker, in one place (the API, the CLI and the live window set them)."""
    low_threshold: float = 0.3    # the graph runs here; weaker detections than shown only continue tracks
    confirm_frames: int = 2       # consecutive frames before a new track is shown (1: at once)
    instant_score: float = 0.85   # ... unless its score reaches this
    persist_frames: int = 5       # a confirmed track missed this many frames still shows (0.2 s at 25 fps)
    persist_score: float = 0.6    # ... when its last score reached this (else one frame)
    forget_frames: int = 15       # ... and keeps its id this long (half a second at 30 fps)
    merge_inside: float = 0.8     # share of a track's mask inside another's that makes it a part
    merge_frames: int = 3         # frames a part must stay inside before it is merged (0: never)
    smoothing: bool = True        # average matched masks and boxes over time
    hold_edges: bool = True       # a still object's mask edges keep their place against sensor noise
    new_weight: float = 0.6       # weight of the new detection in the average, for a moving object
    still_weight: float = 0.25    # ... for a still one (its mask overlaps the track's by STILL_IOU[1])
    min_iou: float = 0.3          # least overlap for a detection to continue a track
    box_weight: float = 0.8       # box IoU counts this much where masks barely overlap
    cascade: bool = True          # tracks seen last frame pick first (False: all compete at once)

    def check(self):
        """The settings, or ValueError naming the first one out of range."""
        for name in ("low_threshold", "instant_score", "persist_score", "merge_inside", "new_weight", "still_weight", "min_iou",
                     "box_weight"):
            if not 0 <= getattr(self, name) <= 1:
                raise ValueError(f"tracker setting {name} must be in [0, 1], not {getattr(self, name)}")
        for name in ("confirm_frames",):
            if getattr(self, name) < 1:
                raise ValueError(f"tracker setting {name} must be at least 1, not {getattr(self, name)}")
        for name in ("persist_frames", "forget_frames", "merge_frames"):
            if getattr(self, name) < 0:
                raise ValueError(f"tracker setting {name} must be at least 0, not {getattr(self, name)}")
        return self


STILL_IOU = (0.8, 0.95)  # mask IoU with its track from which an object counts as moving / still
HOLD_STILL = 0.75        # from this stillness on, a track's mask edges are held (Result's hysteresis)

# the tracker as it was before confirmation, persistence, two thresholds and merging: one threshold,
# every detection shown at once, a missed track hidden at once (benchmarks print it beside the default)
PLAIN = TrackerSettings(low_threshold=1.0, confirm_frames=1, instant_score=0.0, persist_frames=0, merge_frames=0,
                        still_weight=0.6, hold_edges=False)


def binary_maps(boxes, maps, frame_size):
    """Masks on the small map grid, cut to their boxes: (N, h*w) bool, for cheap IoU."""
    n, mh, mw = maps.shape
    h, w = frame_size
    xs = (np.arange(mw) + 0.5) * w / mw
    ys = (np.arange(mh) + 0.5) * h / mh
    b = boxes
    inside = ((xs[None, None, :] >= b[:, 0, None, None]) & (xs[None, None, :] <= b[:, 2, None, None]) &
              (ys[None, :, None] >= b[:, 1, None, None]) & (ys[None, :, None] <= b[:, 3, None, None]))
    return ((maps > 0.5) & inside).reshape(n, mh * mw)


def mask_iou(a, b):
    inter = a.astype(np.float32) @ b.T.astype(np.float32)
    union = a.sum(1)[:, None] + b.sum(1)[None, :] - inter
    return np.where(union > 0, inter / np.maximum(union, 1), 0.0)


def inside_share(a, b):
    """(Na, Nb): the share of each mask of a that lies inside each mask of b."""
    inter = a.astype(np.float32) @ b.T.astype(np.float32)
    return inter / np.maximum(a.sum(1)[:, None], 1)


def box_iou(a, b):
    lt = np.maximum(a[:, None, :2], b[None, :, :2])
    rb = np.minimum(a[:, None, 2:], b[None, :, 2:])
    inter = np.clip(rb - lt, 0, None).prod(2)
    area = lambda x: (x[:, 2] - x[:, 0]) * (x[:, 3] - x[:, 1])  # noqa: E731
    union = area(a)[:, None] + area(b)[None, :] - inter
    return np.where(union > 0, inter / np.maximum(union, 1e-9), 0.0)


@dataclass
class Track:
    id: int
    box: np.ndarray       # (4,) smoothed
    map: np.ndarray       # (h, w) smoothed
    score: float          # the last detection's
    hits: int = 1         # consecutive frames matched
    missing: int = 0      # consecutive frames missed
    confirmed: bool = False
    inside: int = 0       # consecutive frames inside another shown track (for a part: outside its whole)
    part_of: int = 0      # the id of the shown track this one is a hidden part of (0: none)
    shown: bool = False   # shown on the last frame
    age: int = 0          # frames shown
    still: float = 0.0    # how still it was at its last match (0: moving, 1: its mask as before)


class Tracker:
    def __init__(self, settings: Optional[TrackerSettings] = None, **changes):
        self.settings = dataclasses.replace(settings or TrackerSettings(), **changes).check()
        self.next_id = 1
        self.tracks = {}  # id -> Track
        self._last = None  # the last shown Result: its masks, where they were made, hold their edges

    @property
    def smoothing(self):
        return self.settings.smoothing

    @smoothing.setter
    def smoothing(self, on):
        self.settings = dataclasses.replace(self.settings, smoothing=bool(on))

    def reset(self):
        self.tracks.clear()
        self.next_id = 1
        self._last = None

    def remember(self, result: Result):
        """The result as it was finally shown (after selection, its masks pasted): the next frame
        holds its still objects' edges where these masks had them."""
        self._last = result

    def detect_threshold(self, show_threshold):
        """Where the graph should cut detections for a shown threshold (never above it)."""
        return min(self.settings.low_threshold, show_threshold)

    def _overlaps(self, boxes, maps, frame_size, track_ids):
        t_boxes = np.stack([self.tracks[t].box for t in track_ids])
        t_maps = np.stack([self.tracks[t].map for t in track_ids])
        return np.maximum(mask_iou(binary_maps(boxes, maps, frame_size), binary_maps(t_boxes, t_maps, frame_size)),
                          self.settings.box_weight * box_iou(boxes, t_boxes))

    def _greedy(self, iou, rows, cols, track_ids, ids):
        """Assigns, best overlaps first, detections `rows` to tracks `cols` (indices into iou)."""
        if not len(rows) or not len(cols):
            return
        sub = iou[np.ix_(rows, cols)]
        for flat in np.argsort(-sub, axis=None, kind="stable"):
            i, k = divmod(int(flat), len(cols))
            if sub[i, k] < self.settings.min_iou:
                break
            t = track_ids[cols[k]]
            if ids[rows[i]] or t in ids:
                continue
            ids[rows[i]] = t

    def match(self, boxes, maps, scores, frame_size, show_threshold):
        """(track id per detection (0 = none), the overlap with it): strong detections against every
        track, a cascade by how long each track has been missed; then weak ones against the
        confirmed tracks left."""
        ids = np.zeros(len(boxes), np.int64)
        overlap = np.zeros(len(boxes), np.float32)
        track_ids = [t for t in self.tracks if self.tracks[t].map.shape == maps.shape[1:]]
        if not len(boxes) or not track_ids:
            return ids, overlap
        iou = self._overlaps(boxes, maps, frame_size, track_ids)
        strong = np.flatnonzero(scores >= show_threshold)
        weak = np.flatnonzero(scores < show_threshold)
        missing = np.array([self.tracks[t].missing for t in track_ids])
        if not self.settings.cascade:
            missing = np.zeros_like(missing)
        for level in sorted(set(missing.tolist())):
            self._greedy(iou, strong, np.flatnonzero(missing == level), track_ids, ids)
        left = [k for k, t in enumerate(track_ids) if self.tracks[t].confirmed and t not in ids
                and self.tracks[t].missing <= self.settings.persist_frames]
        self._greedy(iou, weak, np.array(left, int), track_ids, ids)
        for i, t in enumerate(ids):
            if t:
                overlap[i] = iou[i, track_ids.index(t)]
        return ids, overlap

    def update(self, result: Result, show_threshold: Optional[float] = None) -> Result:
        """The shown instances of this frame, with their track ids. result: the engine's detections,
        at the graph's (lower) threshold; show_threshold: the score a detection needs to start or
        show a track by itself (None: every detection given counts as strong)."""
        s = self.settings
        show = -np.inf if show_threshold is None else show_threshold
        if show_threshold is not None and len(result):  # nothing weaker than the tracker asked the graph for
            result = result.select(result.scores >= self.detect_threshold(show_threshold))
        boxes, maps, scores = result.boxes, result.maps, result.scores
        ids, overlap = self.match(boxes, maps, scores, result.frame_size, show)
        for i, t in enumerate(ids):
            if not t:
                continue
            track = self.tracks[int(t)]
            box, map_ = boxes[i], maps[i]
            if s.smoothing:
                # a still object (its new mask nearly the track's) is averaged over more frames, so
                # its outline holds; a moving one follows at once
                track.still = float(np.clip((overlap[i] - STILL_IOU[0]) / (STILL_IOU[1] - STILL_IOU[0]), 0, 1))
                a = s.new_weight + (s.still_weight - s.new_weight) * track.still
                box, map_ = a * box + (1 - a) * track.box, a * map_ + (1 - a) * track.map
            track.box, track.map, track.score = box.astype(np.float32), map_.astype(np.float32), float(scores[i])
            track.hits, track.missing = track.hits + 1, 0
            track.confirmed = track.confirmed or track.hits >= s.confirm_frames
        for t in list(self.tracks):
            track = self.tracks[t]
            if t in ids:
                continue
            track.hits, track.missing = 0, track.missing + 1
            if not track.confirmed or track.missing > s.forget_frames:
                del self.tracks[t]  # a tentative track must be seen on consecutive frames
        self._start_tracks(boxes, maps, scores, ids, result.frame_size, show)
        self._merge_parts(result.frame_size)
        return self._tracked(result)

    def _visible(self):
        return [t for t, k in self.tracks.items() if k.confirmed and not k.part_of and k.missing <= self._persist(k)]

    def _persist(self, track):
        """How many missed frames a track still shows: one at least (a single miss never blinks),
        persist_frames at most, no longer than half the frames it has been shown, and only one when
        its last detection was weak (a doubtful instance is not held on screen)."""
        s = self.settings
        if track.score < s.persist_score:
            return min(s.persist_frames, 1)
        return min(s.persist_frames, max(1, track.age // 2))

    def _grid_masks(self, track_ids, frame_size):
        return binary_maps(np.stack([self.tracks[t].box for t in track_ids]),
                           np.stack([self.tracks[t].map for t in track_ids]), frame_size)

    def _containers(self, masks, scores, grid, exclude=()):
        """For each grid mask: the id of a shown track that holds at least merge_inside of it, is
        larger and scores at least as much (a part scores no higher than its whole, so an object
        inside a large false region is not its part), or 0. grid: id -> grid mask of the tracks seen
        on this frame (made once a frame)."""
        holders = [t for t in self._visible() if t not in exclude and self.tracks[t].missing == 0]
        out = np.zeros(len(masks), np.int64)
        if not holders or not len(masks):
            return out
        held = np.stack([grid[t] for t in holders])
        share = inside_share(masks, held)
        ok = (masks.sum(1)[:, None] < held.sum(1)[None, :]) & \
            (np.asarray(scores)[:, None] <= np.array([self.tracks[t].score for t in holders])[None, :]) & \
            (share >= self.settings.merge_inside)
        share = np.where(ok, share, -1)
        for i in range(len(masks)):
            if ok[i].any():
                out[i] = holders[int(share[i].argmax())]
        return out

    def _start_tracks(self, boxes, maps, scores, ids, frame_size, show):
        s = self.settings
        new = [i for i in range(len(ids)) if not ids[i] and scores[i] >= show]
        if not new:
            return
        part_of = np.zeros(len(new), np.int64)
        if s.merge_frames:
            seen = [t for t in self._visible() if self.tracks[t].missing == 0]
            grid = dict(zip(seen, self._grid_masks(seen, frame_size))) if seen else {}
            part_of = self._containers(binary_maps(boxes[new], maps[new], frame_size), scores[new], grid)
        for k, i in enumerate(new):
            t = self.next_id
            self.next_id += 1
            ids[i] = t
            # a part of an object already shown is followed, hidden, as that object's part
            self.tracks[t] = Track(t, boxes[i].astype(np.float32), maps[i].astype(np.float32), float(scores[i]),
                                   confirmed=s.confirm_frames <= 1 or scores[i] >= s.instant_score,
                                   part_of=int(part_of[k]))

    def _merge_parts(self, frame_size):
        """Parts inside a shown track for merge_frames frames become its hidden parts; a hidden part
        that has left its whole (under half inside) for as long is an instance again."""
        s = self.settings
        seen = [t for t, k in self.tracks.items() if k.missing == 0]
        if not s.merge_frames or not seen:
            return
        grid = dict(zip(seen, self._grid_masks(seen, frame_size)))
        for t, mask in grid.items():
            track = self.tracks[t]
            if track.part_of:
                whole = self.tracks.get(track.part_of)
                if whole is None or whole.part_of:
                    track.part_of, track.inside = 0, 0
                    continue
                held = grid[whole.id] if whole.id in grid else self._grid_masks([whole.id], frame_size)[0]
                share = float(inside_share(mask[None], held[None])[0, 0])
                track.inside = track.inside + 1 if share < 0.5 else 0
                if track.inside >= s.merge_frames:
                    track.part_of, track.inside = 0, 0
                continue
            holder = self._containers(mask[None], [track.score], grid, exclude=(t,))[0]
            track.inside = track.inside + 1 if holder else 0
            # a part that has not been shown yet becomes one at once: it never shows
            if holder and (track.inside >= s.merge_frames or not track.shown):
                track.part_of, track.inside = int(holder), 0

    def shown(self, detections: Result, show_threshold: Optional[float] = None) -> Result:
        """update, then the shown instances' full-resolution masks (still objects' edges held),
        remembered for the next frame: what the pipeline does when nothing is selected."""
        result = self.update(detections, show_threshold)
        result = result.with_masks(self.held_edges(result))
        self.remember(result)
        return result

    def held_edges(self, result: Result):
        """Track id -> its Instance on the last shown frame, for the still objects whose mask edges
        are held against sensor noise on this one (Result.with_masks); a moving object's edges follow
        it at once. None when nothing is held."""
        last, s = self._last, self.settings
        if last is None or last._instances is None or last.frame_size != result.frame_size \
                or not (s.smoothing and s.hold_edges):
            return None
        return {i.id: i for i in last.instances() if i.id in self.tracks and self.tracks[i.id].still >= HOLD_STILL}

    def _tracked(self, result: Result) -> Result:
        shown = sorted(self._visible(), key=lambda t: -self.tracks[t].score)
        for t, track in self.tracks.items():
            track.shown = t in shown
            track.age += track.shown
        h, w = result.maps.shape[1:] if result.maps.ndim == 3 else (0, 0)
        if not shown:
            return result.replace(boxes=np.zeros((0, 4), np.float32), scores=np.zeros(0, np.float32),
                                  maps=np.zeros((0, h, w), np.float32), ids=np.zeros(0, np.int64))
        boxes, maps = zip(*(self._with_parts(t, result.frame_size) for t in shown))
        return result.replace(boxes=np.stack(boxes).astype(np.float32),
                              scores=np.array([self.tracks[t].score for t in shown], np.float32),
                              maps=np.stack(maps).astype(np.float32), ids=np.array(shown, np.int64))

    def _with_parts(self, t, frame_size):
        """(box, map) of a shown track, its parts seen this frame joined to it: one instance whose
        mask keeps what the parts add at its edges."""
        whole = self.tracks[t]
        parts = [k for k in self.tracks.values() if k.part_of == t and k.missing == 0]
        if not parts:
            return whole.box, whole.map
        members = [whole] + parts
        boxes = np.stack([k.box for k in members])
        cells = binary_maps(boxes, np.stack([np.ones_like(k.map) for k in members]), frame_size)
        inside = cells.reshape(len(members), *whole.map.shape)
        joined = np.max(np.where(inside, np.stack([k.map for k in members]), 0), axis=0)
        box = np.concatenate([boxes[:, :2].min(0), boxes[:, 2:].max(0)])
        return box, joined
