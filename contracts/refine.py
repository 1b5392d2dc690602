"""Edge-aware mask refinement: a colour guided filter (He, Sun and Tang, "Guided image filtering",
TPAMI 2013) in its fast, subsampled form (He and Sun, 2015). The graph's mask probabilities come on
a coarse grid (80x80 for the 320 px graph); pasted bilinearly onto the frame their edges are blobs
a few grid cells wide. The filter fits the probabilities, in every window, as a linear function of
the frame's colours there, so the edge moves to where the colours change: along the object's
outline. It is linear in the probabilities and keeps constants.

Three grids, all the frame resampled: the statistics on a coarse one (low_px_per_cell pixels a mask
cell), the fit applied on a finer one (work_px_per_cell), and the result sampled at the frame's
pixels inside each box. Everything that depends on the frame alone (colour means, the inverse of
each window's colour covariance) is computed once per frame (EdgeGuide); per instance only its
probabilities' window statistics are.
"""
import math
from dataclasses import dataclass

import cv2
import numpy as np


@dataclass(frozen=True)
class RefineSettings:
    """Chosen on DAVIS *training* sequences (tools/mask_refine_search.py; results in docs/results/)."""
    radius_cells: float = 2.5      # the filter's window radius, in mask grid cells
    eps: float = 3e-5              # colour variance (0..1 scale) below which a window counts as flat
    work_px_per_cell: float = 6    # the fit is applied where a cell spans this many pixels
    low_px_per_cell: float = 2     # and its statistics computed where a cell spans this many


DEFAULT = RefineSettings()


def _box(x, r):
    return cv2.boxFilter(x, -1, (2 * r + 1, 2 * r + 1), borderType=cv2.BORDER_REFLECT)


def resampled(frame, scale=None, size=None):
    """The frame area-averaged by scale (or to size (w, h)), cheaply: halvings first, then the rest."""
    h, w = frame.shape[:2]
    size = size or (max(1, round(w * scale)), max(1, round(h * scale)))
    # halvings first: OpenCV's area resize is ~10x faster at exactly half than at other ratios
    while frame.shape[1] >= 2 * size[0] and frame.shape[0] >= 2 * size[1]:
        frame = cv2.resize(frame, (frame.shape[1] // 2, frame.shape[0] // 2), interpolation=cv2.INTER_AREA)
    h, w = frame.shape[:2]
    return frame if size == (w, h) else cv2.resize(frame, size, interpolation=cv2.INTER_AREA)


def sample_grid(image, scale_x, scale_y, x0, y0, size):
    """image sampled bilinearly at the pixel centres of a grid whose pixel (0, 0) lies at image
    coordinates ((x0 + 0.5) * scale_x - 0.5, ...) and whose pixels are scale_x x scale_y apart."""
    to_image = np.array([[scale_x, 0, (x0 + 0.5) * scale_x - 0.5], [0, scale_y, (y0 + 0.5) * scale_y - 0.5]],
                        np.float32)
    return cv2.warpAffine(image, to_image, size, flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP,
                          borderMode=cv2.BORDER_REPLICATE)


class EdgeGuide:
    """One frame, ready to refine the masks of a graph whose maps have grid_shape cells: the frame
    on the working grid and the colour statistics on the coarse grid. Made once per frame and
    shared by its instances (Result.instances, the evaluator)."""

    def __init__(self, frame, grid_shape, settings: RefineSettings = DEFAULT):
        h, w = frame.shape[:2]
        self.frame_size, self.grid_shape, self.settings = (h, w), tuple(grid_shape), settings
        cell = max(h / grid_shape[0], w / grid_shape[1])                    # frame pixels a cell
        work_scale = min(1.0, settings.work_px_per_cell / cell)
        self.image = resampled(frame, work_scale)
        self.work = self.image.astype(np.float32) * (1 / 255)
        # the statistics in float64 with clamped variances: E[xx] - E[x]^2 in float32 can come out
        # negative in flat windows, and the covariance then stops being invertible
        low_scale = min(1.0, settings.low_px_per_cell / cell)
        low = resampled(self.work, low_scale / work_scale).astype(np.float64)
        self.low = low.reshape(low.shape[0], low.shape[1], 3)
        lh, lw = self.low.shape[:2]
        self.r = max(1, round(settings.radius_cells * max(lh / grid_shape[0], lw / grid_shape[1])))
        i = [self.low[..., k] for k in range(3)]
        self.mean = [_box(c, self.r) for c in i]
        v = {}
        for a in range(3):
            for b in range(a, 3):
                v[a, b] = _box(i[a] * i[b], self.r) - self.mean[a] * self.mean[b]
        eps = settings.eps
        v00, v11, v22 = (np.maximum(v[k, k], 0) + eps for k in range(3))
        v01, v02, v12 = v[0, 1], v[0, 2], v[1, 2]
        # the inverse covariance by cofactors (positive definite thanks to eps), symmetric: 6 terms
        k00, k01, k02 = v11 * v22 - v12 * v12, v02 * v12 - v01 * v22, v01 * v12 - v02 * v11
        k11, k12, k22 = v00 * v22 - v02 * v02, v01 * v02 - v00 * v12, v00 * v11 - v01 * v01
        inv_det = 1 / np.maximum(v00 * k00 + v01 * k01 + v02 * k02, eps ** 3)
        self.inv = [[k00 * inv_det, k01 * inv_det, k02 * inv_det],
                    [k01 * inv_det, k11 * inv_det, k12 * inv_det],
                    [k02 * inv_det, k12 * inv_det, k22 * inv_det]]

    def refine(self, prob_map, window):
        """The map's probabilities refined by the frame's colours, sampled at the frame's pixel
        centres of window (x0, y0, x1, y1), a non-empty integer window inside the frame."""
        x0, y0, x1, y1 = window
        h, w = self.frame_size
        mh, mw = prob_map.shape
        if (mh, mw) != self.grid_shape:
            raise ValueError(f"the guide was made for {self.grid_shape} mask grids, not {prob_map.shape}")
        lh, lw = self.low.shape[:2]
        gh, gw = self.image.shape[:2]
        # the coarse grid's window: the box and the filter's reach (two box filters) around it, so
        # the box's pixels do not depend on where the window ends
        reach = 2 * self.r + 1
        l0, m0 = max(int(x0 * lw / w) - reach, 0), max(int(y0 * lh / h) - reach, 0)
        l1, m1 = min(math.ceil(x1 * lw / w) + reach, lw), min(math.ceil(y1 * lh / h) + reach, lh)
        p = sample_grid(np.asarray(prob_map, np.float32), mw / lw, mh / lh, l0, m0, (l1 - l0, m1 - m0))
        p = p.astype(np.float64).reshape(m1 - m0, l1 - l0)
        i = self.low[m0:m1, l0:l1]
        mean = [m[m0:m1, l0:l1] for m in self.mean]
        mp = _box(p, self.r)
        cov = [_box(i[..., k] * p, self.r) - mean[k] * mp for k in range(3)]
        a = [sum(self.inv[k][j][m0:m1, l0:l1] * cov[j] for j in range(3)) for k in range(3)]
        b = mp - sum(a[k] * mean[k] for k in range(3))
        coef = cv2.merge([_box(c, self.r).astype(np.float32) for c in (*a, b)])
        # applied on the working grid over the box (one pixel more a side), then sampled at the box's pixels
        u0, v0 = max(int(x0 * gw / w) - 1, 0), max(int(y0 * gh / h) - 1, 0)
        u1, v1 = min(math.ceil(x1 * gw / w) + 1, gw), min(math.ceil(y1 * gh / h) + 1, gh)
        coef = sample_grid(coef, lw / gw, lh / gh, u0 - l0 * gw / lw, v0 - m0 * gh / lh, (u1 - u0, v1 - v0))
        img = self.work[v0:v1, u0:u1]
        q = coef[..., 0] * img[..., 0] + coef[..., 1] * img[..., 1] + coef[..., 2] * img[..., 2] + coef[..., 3]
        return sample_grid(q, gw / w, gh / h, x0 - u0 * w / gw, y0 - v0 * h / gh, (x1 - x0, y1 - y0))
