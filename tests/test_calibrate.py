"""The mask cut calibration: a logit bias moves the 0.5 cut exactly; it is chosen on training images."""
import subprocess
import sys

import pytest
import torch

from conftest import CHECKPOINT, MODEL, ROOT, infer_twice
from model import calibrate as C
from model.checkpoint import load_checkpoint
from model.splits import shared_datasets


@pytest.mark.parametrize("t", [0.3, 0.4, 0.5, 0.55, 0.7])
def test_bias_moves_the_half_cut_to_the_chosen_probability(t):
    x = torch.linspace(-8, 8, 20001, dtype=torch.float64)
    biased = torch.sigmoid(x + C.bias_for(t)) > 0.5
    plain = torch.sigmoid(x) > t
    # only the one grid point that sits on the cut itself may fall either way (rounding)
    assert (biased != plain).sum() <= 1


def test_calibration_images_are_training_images_every_kth_per_source(data_root):
    samples = shared_datasets(data_root)
    picked = C.training_subset(samples, 6)
    assert picked and all(s.split == "train" for s in picked)
    for source, step in (("davis", 12), ("ccp-person", 6)):
        train = [s for s in samples if s.split == "train" and s.group.split("/")[0] == source]
        assert [s for s in picked if s.group.split("/")[0] == source] == train[::step]


def test_a_checkpoint_with_a_mask_bias_cuts_where_the_calibration_said(davis_frame):
    net = load_checkpoint(CHECKPOINT)[0]
    net.cfg.mask_bias = 0.0
    (b0, s0, m0), (b1, s1, m1) = infer_twice(net, davis_frame[0],
                                             lambda n: setattr(n.cfg, "mask_bias", C.bias_for(0.4)))
    assert len(s0) >= 1
    # the detector is untouched; only where the masks are cut moves
    assert torch.equal(b0, b1) and torch.equal(s0, s1)
    assert ((m1 > 0.5) != (m0 > 0.4)).float().mean() < 1e-4
    assert (m1 > 0.5).sum() > (m0 > 0.5).sum()


def test_each_cut_is_scored_as_the_graph_with_its_bias_would_give_the_masks(davis_frame):
    import cv2
    from model.evaluate import OnnxPredictor
    graph = OnnxPredictor(MODEL)
    image = cv2.resize(davis_frame[0], (320, 320), interpolation=cv2.INTER_AREA)
    b0, s0, m0 = graph(image, 0.5)
    b1, s1, m1 = C.BiasedPredictor(graph, C.bias_for(0.4))(image, 0.5)
    assert len(s0) >= 1 and (b0 == b1).all() and (s0 == s1).all()
    assert ((m1 > 0.5) != (m0 > 0.4)).mean() < 1e-4 and (m1 > 0.5).sum() > (m0 > 0.5).sum()


def test_calibration_scores_every_cut_and_picks_the_best(data_root):
    from model.evaluate import OnnxPredictor
    train = C.training_subset(shared_datasets(data_root), 6)
    picked = [s for s in train if s.group.startswith("davis")][:3] + [s for s in train if s.group.startswith("balloon")][:2]
    table, best = C.calibrate(OnnxPredictor(MODEL), picked, thresholds=(0.3, 0.5, 0.7))
    assert set(table) == {0.3, 0.5, 0.7} and all(r["images"] == 5 for r in table.values())
    assert C.score(table[best]) == max(C.score(r) for r in table.values())
    # the cut reaches the masks: J differs between cuts
    assert len({round(r["J_mean"], 6) for r in table.values()}) > 1


@pytest.mark.parametrize("make", ["missing", "not a checkpoint"])
def test_a_bad_checkpoint_is_one_line(tmp_path, data_root, make):
    path = tmp_path / "model.pt"
    if make != "missing":
        path.write_bytes(b"not torch")
    r = subprocess.run([sys.executable, "-m", "model.calibrate", "--checkpoint", str(path), "--data", data_root],
                       capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert r.returncode != 0 and r.stderr.strip().startswith("error:") and len(r.stderr.strip().splitlines()) == 1


def test_calibrating_the_gpu_layout_writes_a_checkpoint_in_that_layout(tmp_path, data_root):
    out = tmp_path / "gpu.pt"
    r = subprocess.run([sys.executable, "-m", "model.calibrate", "--checkpoint", CHECKPOINT, "--data", data_root,
                        "--every", "150", "--input-size", "512", "--mask-flip", "--out", str(out)],
                       capture_output=True, text=True, cwd=ROOT, timeout=600)
    assert r.returncode == 0, r.stderr
    net, ckpt = load_checkpoint(str(out))
    shipped = load_checkpoint(CHECKPOINT)[0]
    assert (net.cfg.image_size, net.cfg.detector_size, net.cfg.mask_flip) == (512, 320, True)
    assert len(net.anchors) == len(shipped.anchors)  # the detector's anchors: still 320 px
    assert all(torch.equal(v, shipped.state_dict()[k]) for k, v in net.state_dict().items())
    bad = subprocess.run([sys.executable, "-m", "model.calibrate", "--checkpoint", CHECKPOINT, "--data", data_root,
                          "--input-size", "300"], capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert bad.returncode != 0 and bad.stderr.strip().startswith("error:") and "multiple of 64" in bad.stderr
    assert len(bad.stderr.strip().splitlines()) == 1
