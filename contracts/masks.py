"""Mask geometry shared by the app and the evaluator: a whole-frame probability map (the graph's
stride-8 output) becomes a full-resolution mask inside its box, refined along the frame's edges
when the frame is given (contracts.refine); masks become COCO RLE."""
import numpy as np
from pycocotools import mask as mask_utils

from .refine import EdgeGuide, sample_grid

MASK_CUT = 0.5  # a pixel belongs to an instance where its probability is above this


def box_window(box, frame_size):
    """Integer pixel window (x0, y0, x1, y1) of a float box, clipped to the frame."""
    h, w = frame_size
    x0, y0 = max(int(np.floor(box[0])), 0), max(int(np.floor(box[1])), 0)
    x1, y1 = min(int(np.ceil(box[2])), w), min(int(np.ceil(box[3])), h)
    return x0, y0, max(x1, x0), max(y1, y0)


def paste_probabilities(prob_map, box, frame_size, guide=None):
    """Probabilities at full resolution inside the box: (x0, y0, float32 crop). The small
    whole-frame map is sampled bilinearly at the frame's pixel centres. guide: the frame (H, W, 3)
    uint8 BGR, or its contracts.refine.EdgeGuide (made once per frame, for all its instances); the
    probabilities are then refined by the frame's colours, over a window wide enough that the
    box's pixels do not depend on where the window ends."""
    h, w = frame_size
    if guide is not None:
        guide = guide if isinstance(guide, EdgeGuide) else EdgeGuide(guide, prob_map.shape)
        if guide.frame_size != (h, w):
            raise ValueError(f"guide is {guide.frame_size[1]}x{guide.frame_size[0]}, the frame {w}x{h}")
    x0, y0, x1, y1 = box_window(box, frame_size)
    if x1 <= x0 or y1 <= y0:
        return x0, y0, np.zeros((0, 0), np.float32)
    if guide is not None:
        return x0, y0, guide.refine(prob_map, (x0, y0, x1, y1))
    mh, mw = prob_map.shape
    return x0, y0, sample_grid(np.asarray(prob_map, np.float32), mw / w, mh / h, x0, y0, (x1 - x0, y1 - y0))


def tighten_boxes(boxes, maps, frame_size, threshold=MASK_CUT):
    """Each box (N,4, frame pixels) shrunk to the extent its mask can reach, the same masks
    (paste_mask gives the same pixels in the tighter box). The graph returns mask *windows*,
    loose by design (NetConfig.mask_box_expand); users, the tracker and every paste want the object's
    box. A pixel is above the cut only within one cell of a cell above it (bilinear sampling), so
    the box is the cells above the cut inside the box, one cell more each side, inside the box.
    A box with no such cell stays as it is (its mask is empty either way). With a guide, the refined
    pixels inside the tighter box are the same too; a refined edge that would reach past it (by a few
    pixels) is cut there."""
    n, mh, mw = maps.shape
    if n == 0:
        return boxes
    h, w = frame_size
    cw, chh = w / mw, h / mh
    xs, ys = (np.arange(mw) + 0.5) * cw, (np.arange(mh) + 0.5) * chh   # cell centres in pixels
    inx = (xs[None] >= boxes[:, 0, None] - cw) & (xs[None] <= boxes[:, 2, None] + cw)
    iny = (ys[None] >= boxes[:, 1, None] - chh) & (ys[None] <= boxes[:, 3, None] + chh)
    on = (maps > threshold) & iny[:, :, None] & inx[:, None, :]
    cols, rows = on.any(1), on.any(2)                                  # (N, mw), (N, mh)
    x0 = np.where(cols, xs[None], np.inf).min(1) - cw
    x1 = np.where(cols, xs[None], -np.inf).max(1) + cw
    y0 = np.where(rows, ys[None], np.inf).min(1) - chh
    y1 = np.where(rows, ys[None], -np.inf).max(1) + chh
    tight = np.stack([np.maximum(boxes[:, 0], x0), np.maximum(boxes[:, 1], y0),
                      np.minimum(boxes[:, 2], x1), np.minimum(boxes[:, 3], y1)], 1)
    return np.where(cols.any(1)[:, None], tight, boxes).astype(boxes.dtype)


def paste_mask(prob_map, box, frame_size, threshold=MASK_CUT, guide=None):
    """Full-resolution boolean mask of one instance, only inside its box: (x0, y0, bool crop).
    guide: the frame, to refine the mask along its edges (see paste_probabilities)."""
    x0, y0, crop = paste_probabilities(prob_map, box, frame_size, guide)
    return x0, y0, crop > threshold


def rle(full_mask):
    """COCO RLE of a full-frame boolean mask, JSON-ready (counts as a string)."""
    r = mask_utils.encode(np.asfortranarray(full_mask.astype(np.uint8)))
    return {"size": [int(v) for v in r["size"]], "counts": r["counts"].decode("ascii")}
