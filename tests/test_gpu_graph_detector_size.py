"""A graph whose mask path reads a larger input than its detector (the GPU graph): the detector
sees the input shrunk to the size it was trained at, so the instances are the 320 px model's; the
masks come from the full input, on a finer grid."""
import cv2
import numpy as np
import onnxruntime as ort
import pytest
import torch

from conftest import CHECKPOINT, infer_at, mask_iou, pasted_mask
from export.export_onnx import export
from model.checkpoint import load_checkpoint
from model.s4net import shrink


def test_shrinking_by_a_whole_ratio_is_the_area_average():
    x = torch.arange(2 * 4 * 4, dtype=torch.float32).view(1, 2, 4, 4)
    assert torch.equal(shrink(x, 2), torch.nn.functional.avg_pool2d(x, 2))
    assert shrink(x, 4) is x
    assert shrink(torch.rand(1, 3, 512, 512), 320).shape == (1, 3, 320, 320)


def test_the_detections_are_the_detector_sizes_scaled_and_the_masks_finer(davis_frame):
    small = load_checkpoint(CHECKPOINT)[0]
    big = load_checkpoint(CHECKPOINT)[0]
    big.cfg.detector_size = 320
    big.set_input_size(640)
    b0, s0, m0 = infer_at(small, davis_frame[0], 320)
    b1, s1, m1 = infer_at(big, davis_frame[0], 640)
    # 640 -> 320 inside the graph is the exact 2x2 average; cv2's area resize rounds to uint8
    assert len(s1) == len(s0) >= 1
    assert torch.allclose(s1, s0, atol=0.01)
    assert torch.allclose(b1, b0 * 2, atol=2.0)
    assert m1.shape == (len(s1), 160, 160) and m0.shape == (len(s0), 80, 80)
    # the same objects in the same places, drawn at twice the resolution (they differ at the edges:
    # 0.78 on this frame, a finer cut)
    for box0, box1, x, y in zip(b0, b1, m0, m1):
        assert mask_iou(pasted_mask(x, box0 * 2, 640), pasted_mask(y, box1, 640)) > 0.7


def test_a_detector_size_that_does_not_fit_is_refused():
    net = load_checkpoint(CHECKPOINT)[0]
    net.cfg.detector_size = 640
    with pytest.raises(ValueError, match="larger than the input"):
        net.set_input_size(512)
    net.cfg.detector_size = 300
    with pytest.raises(ValueError, match="multiple of 64"):
        net.set_input_size(512)


def test_a_two_size_graph_exports_and_matches_pytorch(tmp_path, davis_frame):
    net = load_checkpoint(CHECKPOINT)[0]
    net.cfg.detector_size, net.cfg.mask_flip = 320, True
    path = export(net, str(tmp_path / "gpu.onnx"), 512)
    sess = ort.InferenceSession(path, providers=["CPUExecutionProvider"])
    assert sess.get_modelmeta().custom_metadata_map["input_size"] == "512"
    net.set_input_size(512)
    image = cv2.resize(davis_frame[0], (512, 512), interpolation=cv2.INTER_AREA)
    b, s, m = sess.run(None, {"image": image[None], "score_threshold": np.array([0.5], np.float32)})
    tb, ts, tm = infer_at(net, davis_frame[0], 512)
    assert len(s) == len(ts) >= 1 and m.shape[1:] == (128, 128)
    assert np.abs(b - tb.numpy()).max() < 0.1 and np.abs(s - ts.numpy()).max() < 1e-3
    for box, x, y in zip(tb, m, tm):
        assert mask_iou(pasted_mask(x, box, 512), pasted_mask(y, box, 512)) > 0.99
