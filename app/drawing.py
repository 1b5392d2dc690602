"""Turning detections into pixels: full-resolution instance masks, the overlay, and id masks."""
import colorsys
from dataclasses import dataclass

import cv2
import numpy as np

from .engine import Detections, paste_mask


@dataclass
class Instance:
    id: int
    score: float
    box: np.ndarray   # x1 y1 x2 y2, frame pixels
    x0: int
    y0: int
    mask: np.ndarray  # bool crop at (x0, y0)

    def full_mask(self, frame_size):
        m = np.zeros(frame_size, bool)
        h, w = self.mask.shape
        m[self.y0:self.y0 + h, self.x0:self.x0 + w] = self.mask
        return m


@dataclass
class DrawStyle:
    alpha: float = 0.5
    contours: bool = True
    boxes: bool = False


def instances(det: Detections):
    ids = det.ids if det.ids is not None else np.arange(1, len(det) + 1)
    out = []
    for i in range(len(det)):
        x0, y0, crop = paste_mask(det.maps[i], det.boxes[i], det.frame_size)
        if crop.any():
            out.append(Instance(int(ids[i]), float(det.scores[i]), det.boxes[i], x0, y0, crop))
    return out


def colour(track_id):
    """A distinct, stable BGR colour per id (golden-ratio hue steps)."""
    r, g, b = colorsys.hsv_to_rgb((track_id * 0.618033988749895) % 1.0, 0.85, 1.0)
    return np.array([b * 255, g * 255, r * 255], np.float32)


def draw(frame, insts, style: DrawStyle):
    """Overlay on a copy of the frame: colour fill, contour, optional box with id and score."""
    out = frame.copy()
    for inst in insts:
        c = colour(inst.id)
        h, w = inst.mask.shape
        region = out[inst.y0:inst.y0 + h, inst.x0:inst.x0 + w]
        fill = np.empty_like(region)
        fill[:] = c.astype(np.uint8)
        blended = cv2.addWeighted(region, 1 - style.alpha, fill, style.alpha, 0)  # uint8 SIMD, no float copies
        np.copyto(region, blended, where=inst.mask[..., None])
        if style.contours:
            cnts, _ = cv2.findContours(inst.mask.astype(np.uint8), cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
            cv2.drawContours(out, cnts, -1, c.tolist(), 2, lineType=cv2.LINE_AA, offset=(inst.x0, inst.y0))
        if style.boxes:
            x1, y1, x2, y2 = [int(round(v)) for v in inst.box]
            cv2.rectangle(out, (x1, y1), (x2 - 1, y2 - 1), c.tolist(), 2)
            label = f"#{inst.id} {inst.score:.2f}"
            cv2.putText(out, label, (x1 + 3, max(y1 - 5, 12)), cv2.FONT_HERSHEY_SIMPLEX, 0.5, c.tolist(), 1,
                        cv2.LINE_AA)
    return out


def id_mask(insts, frame_size):
    """uint16 image: pixel = instance id, 0 = background; higher scores win where masks overlap."""
    m = np.zeros(frame_size, np.uint16)
    for inst in sorted(insts, key=lambda i: i.score):
        h, w = inst.mask.shape
        m[inst.y0:inst.y0 + h, inst.x0:inst.x0 + w][inst.mask] = inst.id
    return m
