"""Test-time flip for the mask path (the GPU graph): the detections stay the single pass's, each mask
averages the logits of the image and of its mirror (its export: tests/test_gpu_graph_detector_size.py)."""
import numpy as np
import torch

from conftest import CHECKPOINT, infer_at, infer_twice, mask_iou, pasted_mask
from model.checkpoint import load_checkpoint


def pasted(mask_map, box):
    return pasted_mask(mask_map, box, 320)


def test_flip_keeps_the_detections_and_refines_the_masks_it_had(davis_frame):
    net = load_checkpoint(CHECKPOINT)[0]
    (b0, s0, m0), (b1, s1, m1) = infer_twice(net, davis_frame[0], lambda n: setattr(n.cfg, "mask_flip", True))
    assert len(s0) >= 1 and torch.equal(s0, s1) and torch.equal(b0, b1)
    assert m1.shape == m0.shape and not torch.equal(m0, m1)
    # an average of two views of one object: the same object, not another one
    for box, x, y in zip(b0, m0, m1):
        assert mask_iou(pasted(x, box), pasted(y, box)) > 0.85


def test_on_a_mirrored_frame_the_masks_are_the_mirror_of_the_frames_masks(davis_frame):
    """Both passes see the frame and its mirror, so mirroring the input mirrors the masks (up to the
    strided convolutions' half-pixel asymmetry), whereas a single pass has no such symmetry."""
    net = load_checkpoint(CHECKPOINT)[0]
    net.cfg.mask_flip = True
    image = davis_frame[0]
    b0, s0, m0 = infer_at(net, image)
    bm, sm, mm = infer_at(net, np.ascontiguousarray(image[:, ::-1]))
    i, k = int(s0.argmax()), int(sm.argmax())
    mirrored = pasted(mm[k], bm[k])[:, ::-1]
    assert mask_iou(mirrored, pasted(m0[i], b0[i])) > 0.97  # a single pass: 0.92
