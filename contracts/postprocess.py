"""The one way from a frame to the graph's input and from the graph's outputs back to the frame,
shared by the app's engine and the evaluator (model/evaluate.py), so that what is measured is what
users see.

    graph_input(frame, S)                 (H, W, 3) uint8 BGR -> (1, S, S, 3) uint8
    to_frame(boxes, scores, maps, ...)    the graph's outputs -> Detections in frame pixels
    instance_masks(detections, frame)     Detections -> full-resolution boolean masks, as shown
"""
from dataclasses import dataclass

import numpy as np

from .masks import MASK_CUT, paste_probabilities, tighten_boxes
from .refine import DEFAULT as REFINE_DEFAULT, EdgeGuide, resampled


@dataclass
class Detections:
    """N instances in frame pixels: boxes (N, 4) float32 x1 y1 x2 y2, tightened to their masks;
    scores (N,) float32 best first; maps (N, h, w) float32 the graph's whole-frame probabilities."""
    boxes: np.ndarray
    scores: np.ndarray
    maps: np.ndarray


def graph_input(frame, size):
    """The frame resized to the graph's square input by area averaging, as the training pictures
    were (model/cache.py; bilinear enlarging of small pictures cost human-seg 5 points of AP@0.7),
    with halvings first for large frames (4x faster at 4K)."""
    return resampled(frame, size=(size, size))[None]


def to_frame(boxes, scores, maps, frame_size, input_size, max_instances=None, mask_cut=MASK_CUT):
    """The graph's outputs for one frame in frame pixels. Rows that are not finite (a broken graph)
    are no instances; at most max_instances are kept. The graph's boxes are mask windows (grown by
    the model's mask_box_expand): each is shrunk to its mask's extent, for the user, the tracker and
    every paste downstream (same masks)."""
    boxes, scores, maps = np.asarray(boxes), np.asarray(scores), np.asarray(maps)
    finite = np.isfinite(boxes).all(1) & np.isfinite(scores)
    if not finite.all():
        boxes, scores, maps = boxes[finite], scores[finite], np.nan_to_num(maps[finite])
    n = len(scores) if max_instances is None else min(len(scores), max_instances)
    h, w = frame_size
    s = input_size
    boxes = boxes[:n] * np.array([w / s, h / s, w / s, h / s], np.float32)
    maps = maps[:n].astype(np.float32)
    boxes = tighten_boxes(boxes, maps, (h, w), mask_cut)
    return Detections(boxes.astype(np.float32), scores[:n].astype(np.float32), maps)


def instance_probabilities(detections: Detections, frame, refine=True):
    """Per instance (x0, y0, float32 probabilities inside its box), at full resolution. refine:
    follow the frame's edges (contracts.refine; True: the default settings, or a RefineSettings)."""
    n = len(detections.scores)
    settings = REFINE_DEFAULT if isinstance(refine, bool) else refine
    guide = EdgeGuide(frame, detections.maps.shape[1:], settings) if refine and n else None
    return [paste_probabilities(detections.maps[i], detections.boxes[i], frame.shape[:2], guide) for i in range(n)]


def instance_masks(detections: Detections, frame, refine=True, mask_cut=MASK_CUT):
    """(N, H, W) bool: each instance's mask over the whole frame, as the app shows it."""
    h, w = frame.shape[:2]
    masks = np.zeros((len(detections.scores), h, w), bool)
    for i, (x0, y0, prob) in enumerate(instance_probabilities(detections, frame, refine)):
        masks[i, y0:y0 + prob.shape[0], x0:x0 + prob.shape[1]] = prob > mask_cut
    return masks
