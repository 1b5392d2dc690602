"""The third model's faster layout, piece by piece: each rewrite that claims "same numbers" is
checked against the plain computation, and each warm-start step against what it promises."""
import copy

import cv2
import numpy as np
import pytest
import torch
import torch.nn.functional as F

from conftest import CHECKPOINT
from model.backbones import EfficientNetLite
from model.checkpoint import load_checkpoint
from model.config import NetConfig
from model.s4net import DetectionHead, MaskRefiner, S4Net
from model.warm_start import least_squares_1x1, prune_segmentation_channels, rank1_separable, \
    separable_from_dense, warm_start


def test_bgr_and_std_folded_into_the_stem_change_no_output(davis_frame):
    """The export takes BGR pixels minus the mean straight into the first conv: same boxes, scores
    and masks as flipping to RGB and dividing by the std first, on a real frame."""
    net = load_checkpoint(CHECKPOINT)[0]
    folded = copy.deepcopy(net).fold_input_conversion()
    x = torch.from_numpy(cv2.resize(davis_frame[0], (320, 320), interpolation=cv2.INTER_AREA)[None])
    with torch.no_grad():
        (b1, s1, m1), (b2, s2, m2) = net.infer(x, torch.tensor([0.3])), folded.infer(x, torch.tensor([0.3]))
    assert len(s1) >= 1 and len(s1) == len(s2)
    assert torch.allclose(b1, b2, atol=1e-2) and torch.allclose(s1, s2, atol=1e-4)
    assert (m1 - m2).abs().max() < 1e-3
    assert not torch.equal(net.backbone._conv_stem.weight, folded.backbone._conv_stem.weight)


@pytest.mark.parametrize("separable", [False, True])
def test_refiner_shares_the_image_term_of_its_first_conv(separable):
    """The refiner computes its first conv's feature part once per image; per instance it adds the
    logit channel's part. Same result as convolving the concatenation for every instance."""
    torch.manual_seed(0)
    r = MaskRefiner(24, 16, separable).eval()
    for p in r.parameters():
        torch.nn.init.normal_(p, std=0.2)
    fine, coarse = torch.randn(1, 24, 32, 32), torch.randn(3, 1, 16, 16)
    with torch.no_grad():
        got = r(coarse, r.image_features(fine))
        up = F.interpolate(coarse, scale_factor=2.0, mode="bilinear", align_corners=False)
        feats = F.relu(r.reduce(fine)).expand(3, -1, -1, -1)
        x = F.relu(r.conv1(torch.cat([up, feats], 1)))
        want = up + r.out(F.relu(r.conv2(x)))
    assert got.shape == (3, 1, 32, 32) and torch.allclose(got, want, atol=1e-4)


def test_head_runs_classes_and_deltas_as_one_conv():
    torch.manual_seed(0)
    head = DetectionHead(32, 32, 3, separable=True).eval()
    level = torch.randn(2, 32, 8, 8)
    with torch.no_grad():
        logits, deltas = head([level])
        h = F.relu(head.conv(level))
        want_l = head.cls(h).permute(0, 2, 3, 1).reshape(2, -1, 2)
        want_d = head.reg(h).permute(0, 2, 3, 1).reshape(2, -1, 4)
    assert torch.allclose(logits, want_l, atol=1e-5) and torch.allclose(deltas, want_d, atol=1e-5)


def test_trimmed_backbone_takes_stride_32_from_stage_6():
    torch.manual_seed(0)
    full, trimmed = EfficientNetLite("lite0").eval(), EfficientNetLite("lite0", trim_last_stage=True).eval()
    trimmed.load_state_dict(full.state_dict())
    x = torch.randn(1, 3, 128, 128)
    with torch.no_grad():
        a, b = full(x), trimmed(x)
    assert full.out_channels == [40, 112, 320] and trimmed.out_channels == [40, 112, 192]
    assert [t.shape[-1] for t in b] == [32, 16, 8, 4]
    for u, v in zip(a[:3], b[:3]):
        assert torch.equal(u, v)
    assert trimmed.classify(x).shape == (1, 1000)  # the classifier still runs the whole network


def test_rank1_factors_reproduce_a_separable_kernel_exactly():
    torch.manual_seed(0)
    d, p = torch.randn(8, 1, 3, 3), torch.randn(6, 8, 1, 1)
    dense = p * d.transpose(0, 1)  # (6, 8, 3, 3), rank 1 per input channel
    d2, p2, kept = rank1_separable(dense)
    assert kept == pytest.approx(1.0, abs=1e-5)
    x = torch.randn(1, 8, 10, 10)
    want = F.conv2d(x, dense, padding=1)
    got = F.conv2d(F.conv2d(x, d2, padding=1, groups=8), p2)
    assert torch.allclose(got, want, atol=1e-4)


def test_separable_from_dense_fills_exactly_the_separable_keys():
    dense = S4Net(NetConfig(image_size=128, mask_stride=4, mask_separable=False), pretrained=False)
    sep = S4Net(NetConfig(image_size=128, mask_stride=4, mask_separable=True), pretrained=False)
    out, kept = separable_from_dense(dense.state_dict(), sep.state_dict())
    own = sep.state_dict()
    assert set(kept) == {"branch.res1.conv1", "branch.res1.conv2", "branch.dilated", "branch.res2.conv1",
                         "branch.res2.conv2", "refiner.conv1", "refiner.conv2", "refiner.out"}
    assert all(own[k].shape == v.shape for k, v in out.items())
    assert all(0 <= v <= 1 + 1e-6 for v in kept.values())  # refiner.out starts at zero: nothing to keep


def test_least_squares_1x1_recovers_a_linear_map():
    torch.manual_seed(0)
    w, b = torch.randn(5, 7, 1, 1), torch.randn(5)
    src = torch.randn(4, 7, 6, 6)
    w2, b2 = least_squares_1x1(src, F.conv2d(src, w, b), ridge=0.0)
    assert torch.allclose(w2, w, atol=1e-4) and torch.allclose(b2, b, atol=1e-4)


def test_pruning_dead_channels_keeps_the_masks(davis_frame):
    """Channels that are zero in the segmentation map and in the first residual block carry nothing:
    pruning must drop exactly those, and the narrower network gives the same masks."""
    torch.manual_seed(0)
    old = S4Net(NetConfig(image_size=128), pretrained=False).eval()
    with torch.no_grad():  # channels 32..63 dead in the map and the residual stream; the rest active
        for conv in (old.seg_feature, old.branch.res1.conv1, old.branch.res1.conv2):
            conv.weight[32:] = 0
            conv.bias[32:] = 0
        old.seg_feature.bias[:32] = 0.5
    x = torch.from_numpy(cv2.resize(davis_frame[0], (128, 128))[None][..., ::-1].copy())
    images = old.normalise(x)
    pruned = prune_segmentation_channels(old, images, 32)
    new = S4Net(NetConfig(image_size=128, seg_channels=32, branch_channels=(32, 32)), pretrained=False).eval()
    state = {**old.state_dict(), **pruned}
    new.load_state_dict({k: v for k, v in state.items() if k in new.state_dict()})
    with torch.no_grad():
        _, _, seg_old, fine = old.features(images)
        _, _, seg_new, _ = new.features(images)
        assert torch.equal(seg_new, seg_old[:, :32])
        boxes = torch.tensor([[10.0, 20.0, 90.0, 100.0], [40.0, 8.0, 70.0, 60.0]])
        idx = torch.zeros(2, dtype=torch.long)
        assert torch.allclose(old.mask_logits(seg_old, idx, boxes, fine), new.mask_logits(seg_new, idx, boxes, fine),
                              atol=1e-4)


def test_warm_start_from_the_second_models_layout(tmp_path, davis_frame):
    """From a checkpoint of the old layout (dense mask path, 64-channel map, full backbone) to the
    new one: every tensor is filled, and the top lateral is fitted, not left at random."""
    torch.manual_seed(0)
    old_cfg = NetConfig(image_size=128, separable=True, mask_stride=4)
    old = S4Net(old_cfg, pretrained=True)  # ImageNet backbone: features that vary over the image
    path = str(tmp_path / "old.pt")
    torch.save({"model": old.state_dict(), "net_config": old_cfg.to_dict()}, path)
    new = S4Net(NetConfig(image_size=128, separable=True, mask_stride=4, mask_separable=True, seg_channels=32,
                          branch_channels=(32, 32), trim_last_stage=True), pretrained=False)
    x = torch.from_numpy(np.stack([cv2.resize(davis_frame[0], (128, 128))] * 2)[..., ::-1].copy())
    notes = warm_start(path, new, new.normalise(x))
    text = " ".join(notes)
    n = len(new.state_dict())
    assert f"{n} of {n} tensors" in text
    assert "pruned 64 -> 32" in text and "fitted by least squares" in text and "branch.res1.conv1" in text
    with torch.no_grad():
        target = old.eval().fpn.lateral[-1](old.backbone(new.normalise(x))[-1])
        got = new.eval().fpn.lateral[-1](new.backbone(new.normalise(x))[-1])
    assert ((got - target) ** 2).mean() < 0.5 * ((target - target.mean((0, 2, 3), keepdim=True)) ** 2).mean()
