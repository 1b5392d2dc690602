"""The graph's boxes are loose mask windows; the engine hands on each object's own box, with the
very same masks."""
import cv2
import numpy as np

from conftest import MODEL
from contracts.masks import paste_mask, tighten_boxes
from model.evaluate import OnnxPredictor


def full_masks(boxes, maps, frame_size):
    out = np.zeros((len(boxes), *frame_size), bool)
    for i, (b, m) in enumerate(zip(boxes, maps)):
        x0, y0, crop = paste_mask(m, b, frame_size)
        out[i, y0:y0 + crop.shape[0], x0:x0 + crop.shape[1]] = crop
    return out


def test_tight_boxes_keep_every_mask_pixel_and_hug_the_mask(data_root):
    graph = OnnxPredictor(MODEL)
    frames = [cv2.imread(f"{data_root}/davis2016-train/JPEGImages/{seq}/00020.jpg")
              for seq in ("boat", "stroller", "kite-walk", "elephant")]
    shrunk = 0
    for frame in frames:
        h, w = frame.shape[:2]
        boxes, _, maps = graph(cv2.resize(frame, (320, 320), interpolation=cv2.INTER_AREA), 0.3)
        boxes = boxes * np.array([w / 320, h / 320, w / 320, h / 320], np.float32)
        tight = tighten_boxes(boxes, maps, (h, w))
        assert len(boxes) >= 1
        assert np.array_equal(full_masks(tight, maps, (h, w)), full_masks(boxes, maps, (h, w)))
        assert (tight[:, :2] >= boxes[:, :2]).all() and (tight[:, 2:] <= boxes[:, 2:]).all()
        masks = full_masks(boxes, maps, (h, w))
        for b, m in zip(tight, masks):
            if m.any():
                ys, xs = np.nonzero(m)
                # about one cell of the 80x80 mask grid beyond the mask each side, one more where a
                # cell barely above the cut gives no pixel above it (bilinear sampling between cells)
                assert xs.min() - b[0] <= 3 * w / 80 and b[2] - xs.max() <= 3 * w / 80 + 1
                assert ys.min() - b[1] <= 3 * h / 80 and b[3] - ys.max() <= 3 * h / 80 + 1
        shrunk += int((tight != boxes).any(1).sum())
    assert shrunk >= 4  # the windows really were loose


def test_a_box_without_mask_cells_and_no_boxes_stay_as_they_are():
    boxes = np.array([[10, 10, 50, 50]], np.float32)
    assert np.array_equal(tighten_boxes(boxes, np.zeros((1, 80, 80), np.float32), (320, 320)), boxes)
    assert tighten_boxes(np.zeros((0, 4), np.float32), np.zeros((0, 80, 80), np.float32), (320, 320)).shape == (0, 4)
