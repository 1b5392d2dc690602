"""Loose boxes for the mask branch: detected boxes grow before the masks are cut to them, the branch
trains on boxes as loose or as short as a detector's, and a mask-path fine-tune keeps the detector."""
import numpy as np
import torch

from conftest import CHECKPOINT, infer_twice
from model.boxes import expand_boxes
from model.cache import build, unpack
from model.checkpoint import load_checkpoint
from model.config import LossConfig
from model.splits import shared_datasets
from model.train import CachedDataset, freeze_detector, mask_branch_boxes, training_step


def test_each_side_grows_by_its_share_of_the_box_and_stays_in_the_image():
    boxes = torch.tensor([[100.0, 50.0, 200.0, 250.0], [2.0, 300.0, 42.0, 318.0]])
    grown = expand_boxes(boxes, 0.1, 320.0)
    assert torch.allclose(grown[0], torch.tensor([90.0, 30.0, 210.0, 270.0]))
    # 4 px out on the left would leave the image: clipped at 0
    assert torch.allclose(grown[1], torch.tensor([0.0, 298.2, 46.0, 319.8]))
    assert torch.equal(expand_boxes(boxes, 0.0, 320.0), boxes)
    assert expand_boxes(torch.tensor([[0.0, 0.0, 320.0, 320.0]]), 0.2, 320.0).tolist() == [[0, 0, 320, 320]]


def test_training_boxes_are_grown_then_jittered_within_bounds():
    rng = np.random.default_rng(0)
    gt = torch.tensor([[100.0, 100.0, 200.0, 160.0]]).repeat(2000, 1)
    assert torch.equal(mask_branch_boxes(gt, 0.0, 0.0, rng, 320.0), gt)
    assert torch.allclose(mask_branch_boxes(gt, 0.1, 0.0, rng, 320.0)[0], torch.tensor([90.0, 94.0, 210.0, 166.0]))
    b = mask_branch_boxes(gt, 0.1, 0.1, rng, 320.0)
    # each side within the grown box +- 10% of the ground-truth size (1e-4: float rounding)
    out = (b - gt) * torch.tensor([-1, -1, 1, 1]) / torch.tensor([100.0, 60.0, 100.0, 60.0])
    assert out.min() >= -1e-4 and out.max() <= 0.2 + 1e-4
    # sides move independently and cover the range: some boxes are as short as the object
    assert out.min() < 0.01 and out.max() > 0.19 and out.std(0).min() > 0.05


def test_a_jittered_box_never_collapses():
    rng = np.random.default_rng(1)
    tiny = torch.tensor([[10.0, 10.0, 11.0, 11.0]]).repeat(500, 1)
    b = mask_branch_boxes(tiny, 0.0, 0.5, rng, 320.0)
    assert ((b[:, 2:] - b[:, :2]) >= 2.0 - 1e-5).all()


def test_grown_boxes_are_returned_and_the_detections_are_unchanged(davis_frame):
    net = load_checkpoint(CHECKPOINT)[0]
    net.cfg.mask_box_expand = 0.0
    (b0, s0, m0), (b1, s1, m1) = infer_twice(net, davis_frame[0],
                                             lambda n: setattr(n.cfg, "mask_box_expand", 0.15))
    assert len(s0) >= 1 and torch.equal(s0, s1)
    assert torch.allclose(b1, expand_boxes(b0, 0.15, 320.0))
    # the mask branch sees the larger box: its masks change
    assert not torch.equal(m0, m1)


def test_a_mask_path_fine_tune_leaves_the_detector_as_it_was(data_root):
    rng = np.random.default_rng(0)
    pick = [s for s in shared_datasets(data_root) if s.group == "davis/bear"][:2]
    data = CachedDataset(unpack(build(pick, 320)[0]))
    batch = [data.sample(rng, i, augmented=False) for i in range(len(pick))]
    net = load_checkpoint(CHECKPOINT)[0].train()
    freeze_detector(net)
    before = {k: v.clone() for k, v in net.state_dict().items()}
    params = [p for p in net.parameters() if p.requires_grad]
    opt = torch.optim.SGD(params, lr=0.01)
    loss, _ = training_step(net, [b[0] for b in batch], [b[1] for b in batch], LossConfig(mask_box_jitter=0.1), rng)
    opt.zero_grad()
    loss.backward()
    opt.step()
    after = net.state_dict()
    changed = {k for k in before if not torch.equal(before[k], after[k])}
    assert changed and all(k.startswith(("seg_feature.", "branch.", "refiner.")) for k in changed), changed
