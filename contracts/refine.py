"""Edge-aware mask refinement: a colour guided filter (He, Sun and Tang, "Guided image filtering",
TPAMI 2013) in its fast, subsampled form (He and Sun, 2015). The graph's mask probabilities come on
a coarse grid (80x80 for the 320 px graph); pasted bilinearly onto the frame their edges are blobs
a few grid cells wide. The filter fits the probabilities, in every window, as a linear function of
the frame's colours there, so the edge moves to where the colours change: along the object's
outline. It is linear in the probabilities and cheap (box filters on a grid twice the mask's).

Shapes: guide (h, w, 3) uint8 BGR crop of the frame; prob (h, w) float32; both the same window.
"""
from dataclasses import dataclass

import cv2
import numpy as np


@dataclass(frozen=True)
class RefineSettings:
    """Chosen on DAVIS *training* sequences (docs/mask_refine_search.py and .json)."""
    radius_cells: float = 2.5      # the filter's window radius, in mask grid cells
    eps: float = 3e-5              # colour variance (0..1 scale) below which a window counts as flat
    work_px_per_cell: float = 6    # the filter is applied where a cell spans this many pixels
    low_px_per_cell: float = 2     # and its statistics computed where a cell spans this many


DEFAULT = RefineSettings()


class EdgeGuide:
    """A frame at the filter's working resolution for masks on a grid of grid_shape cells: about
    work_px_per_cell pixels a cell (the frame's own pixels where its cells are smaller). Made once
    per frame and shared by its instances; refining at this resolution and resampling to the frame
    scores as well as refining at the frame's own (docs/mask_refine_search.json) for less work."""

    def __init__(self, frame, grid_shape, settings: RefineSettings = DEFAULT):
        h, w = frame.shape[:2]
        self.frame_size, self.settings = (h, w), settings
        scale = min(1.0, settings.work_px_per_cell / max(h / grid_shape[0], w / grid_shape[1]))
        size = (max(1, round(w * scale)), max(1, round(h * scale)))
        self.image = frame if size == (w, h) else cv2.resize(frame, size, interpolation=cv2.INTER_AREA)
        self.cell_px = max(size[1] / grid_shape[0], size[0] / grid_shape[1])   # a cell, in working pixels


def _box(x, r):
    return cv2.boxFilter(x, -1, (2 * r + 1, 2 * r + 1), borderType=cv2.BORDER_REFLECT)


def guided_filter(guide, prob, cell_px, settings: RefineSettings = DEFAULT):
    """prob refined by the colours of guide; cell_px: the mask grid's cell size in guide pixels."""
    h, w = prob.shape
    if h == 0 or w == 0:
        return prob
    eps = settings.eps
    scale = min(1.0, settings.low_px_per_cell / max(cell_px, 1e-6))
    lh, lw = max(1, round(h * scale)), max(1, round(w * scale))
    r = max(1, round(settings.radius_cells * cell_px * scale))
    full = guide.astype(np.float32) * (1 / 255)
    # the statistics in float64: E[xy] - E[x]E[y] in float32 can come out negative in flat windows,
    # and the covariance below then stops being invertible
    low = cv2.resize(full, (lw, lh), interpolation=cv2.INTER_AREA).astype(np.float64).reshape(lh, lw, 3)
    p = cv2.resize(prob, (lw, lh), interpolation=cv2.INTER_AREA).astype(np.float64).reshape(lh, lw)
    i0, i1, i2 = low[..., 0], low[..., 1], low[..., 2]
    m0, m1, m2, mp = _box(i0, r), _box(i1, r), _box(i2, r), _box(p, r)
    c0, c1, c2 = _box(i0 * p, r) - m0 * mp, _box(i1 * p, r) - m1 * mp, _box(i2 * p, r) - m2 * mp
    # the colours' 3x3 covariance per pixel (symmetric), regularised
    v00 = np.maximum(_box(i0 * i0, r) - m0 * m0, 0) + eps
    v01 = _box(i0 * i1, r) - m0 * m1
    v02 = _box(i0 * i2, r) - m0 * m2
    v11 = np.maximum(_box(i1 * i1, r) - m1 * m1, 0) + eps
    v12 = _box(i1 * i2, r) - m1 * m2
    v22 = np.maximum(_box(i2 * i2, r) - m2 * m2, 0) + eps
    # its inverse by cofactors (positive definite thanks to eps), times the colour-probability covariance
    k00, k01, k02 = v11 * v22 - v12 * v12, v02 * v12 - v01 * v22, v01 * v12 - v02 * v11
    k11, k12, k22 = v00 * v22 - v02 * v02, v01 * v02 - v00 * v12, v00 * v11 - v01 * v01
    inv_det = 1 / np.maximum(v00 * k00 + v01 * k01 + v02 * k02, eps ** 3)
    a0 = (k00 * c0 + k01 * c1 + k02 * c2) * inv_det
    a1 = (k01 * c0 + k11 * c1 + k12 * c2) * inv_det
    a2 = (k02 * c0 + k12 * c1 + k22 * c2) * inv_det
    b = mp - a0 * m0 - a1 * m1 - a2 * m2
    coef = cv2.merge([_box(v, r).astype(np.float32) for v in (a0, a1, a2, b)])
    coef = cv2.resize(coef, (w, h), interpolation=cv2.INTER_LINEAR)
    return (coef[..., 0] * full[..., 0] + coef[..., 1] * full[..., 1] + coef[..., 2] * full[..., 2]
            + coef[..., 3])
