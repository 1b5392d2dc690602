"""The network's fast layout, piece by piece: each rewrite that claims "same numbers" is
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
from model.crop_op import crop_windows, crop_windows_reference
from model.s4net import DetectionHead, MaskRefiner, S4Net, upsample_matrix
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


def _sample_frames(n_every=40):
    from app.sources import VideoReader
    from conftest import SAMPLE
    return [cv2.resize(f.image, (320, 320), interpolation=cv2.INTER_AREA) for f in VideoReader(SAMPLE)
            if f.index % n_every == 0]


def _cells_the_app_reads(box, stride=4):
    """The mask cells that paste_mask samples for a box (bilinear: one cell beyond each edge)."""
    c = torch.floor(box / stride).long()
    return slice(max(int(c[1]) - 1, 0), int(c[3]) + 2), slice(max(int(c[0]) - 1, 0), int(c[2]) + 2)


def test_refiner_in_windows_gives_the_whole_map_masks_inside_every_box(davis_frame):
    """The graph refines each instance only in a window around its box: on real frames, the same
    boxes and scores, and inside every box the same mask probabilities as refining the whole map,
    while the windows really are smaller than the map."""
    net = load_checkpoint(CHECKPOINT)[0]
    frames = _sample_frames() + [cv2.resize(davis_frame[0], (320, 320), interpolation=cv2.INTER_AREA)]
    checked, window_share = 0, []
    for image in frames:
        x = torch.from_numpy(image[None])
        with torch.no_grad():
            net.refine_in_windows = False
            b1, s1, m1 = net.infer(x, torch.tensor([0.3]))
            net.refine_in_windows = True
            b2, s2, m2 = net.infer(x, torch.tensor([0.3]))
        assert torch.equal(b1, b2) and torch.equal(s1, s2)
        for i, box in enumerate(b1):
            ys, xs = _cells_the_app_reads(box)
            assert (m1[i, ys, xs] - m2[i, ys, xs]).abs().max() < 1e-5
            checked += 1
        if len(b1):
            rows, cols = crop_windows_reference(b1, 4, MaskRefiner.RECEPTIVE_RADIUS + 1, 80)
            window_share.append(rows.shape[1] * cols.shape[1] / 80 ** 2)
    assert checked >= 8
    # the saving is real on these frames (the windows grow with the model's mask_box_expand:
    # with 0.15 the smallest is 0.61 of the map)
    assert min(window_share) < 0.7


def test_crop_windows_cover_the_box_and_its_margin_inside_the_map():
    boxes = torch.tensor([[0.0, 0.0, 30.0, 20.0],       # at the top-left corner
                          [300.0, 250.0, 320.0, 320.0],  # at the bottom-right corner
                          [100.0, 120.0, 180.0, 140.0]])
    rows, cols = crop_windows_reference(boxes, 4, 4, 80)
    # the tallest box spans cells 62..80 (y2 = 320 lands on cell 80), the widest 25..45; + 4 cells each side
    assert rows.shape[1] == (80 - 62) + 1 + 8 and cols.shape[1] == (45 - 25) + 1 + 8
    for k, b in enumerate(boxes.long() // 4):
        assert rows[k, 0] >= 0 and rows[k, -1] <= 79 and cols[k, 0] >= 0 and cols[k, -1] <= 79
        assert rows[k, 0] <= max(b[1] - 4, 0) and rows[k, -1] >= min(b[3] + 4, 79)
        assert cols[k, 0] <= max(b[0] - 4, 0) and cols[k, -1] >= min(b[2] + 4, 79)
    r0, c0 = crop_windows_reference(torch.zeros(0, 4), 4, 4, 80)
    assert r0.shape == (0, 1) and c0.shape == (0, 1)


def test_crop_windows_onnx_translation_matches_torch(tmp_path):
    """The exported arithmetic of s4net::crop_windows equals the eager one, 0 boxes included."""
    import onnxruntime as ort
    from export.onnx_ops import TRANSLATIONS

    class Windows(torch.nn.Module):
        def forward(self, boxes):
            return crop_windows(boxes, 4, 4, 80)

    path = str(tmp_path / "w.onnx")
    example = torch.tensor([[10.0, 20.0, 60.0, 200.0], [0.0, 0.0, 320.0, 320.0], [5.0, 6.0, 7.0, 8.0]])
    torch.onnx.export(Windows().eval(), (example,), path, dynamo=True, custom_translation_table=TRANSLATIONS,
                      opset_version=18, input_names=["boxes"], dynamic_shapes={"boxes": {0: torch.export.Dim.DYNAMIC}})
    sess = ort.InferenceSession(path, providers=["CPUExecutionProvider"])
    rng = np.random.default_rng(0)
    for k in (0, 1, 3, 7):
        xy = rng.uniform(0, 320, (k, 2, 2)).astype(np.float32)
        boxes = np.concatenate([xy.min(1), xy.max(1)], 1).reshape(k, 4)
        rows, cols = sess.run(None, {"boxes": boxes})
        want = crop_windows_reference(torch.from_numpy(boxes), 4, 4, 80)
        assert np.array_equal(rows, want[0].numpy()) and np.array_equal(cols, want[1].numpy())


def test_upsample_matrix_is_bilinear_interpolation():
    torch.manual_seed(0)
    coarse = torch.randn(2, 1, 7, 9)
    want = F.interpolate(coarse, scale_factor=2.0, mode="bilinear", align_corners=False)[:, 0]
    got = upsample_matrix(7, coarse) @ coarse[:, 0] @ upsample_matrix(9, coarse).t()
    assert torch.allclose(got, want, atol=1e-6)


def test_every_anchor_as_candidate_gives_the_top_5000_detections():
    """Without the paper's top-5000 cut (6,375 anchors at 320x320), NMS sees a few more low-score
    candidates and drops them at the score threshold: the same detections on real frames."""
    net = load_checkpoint(CHECKPOINT)[0]
    found = 0
    for image in _sample_frames(60):
        x = torch.from_numpy(image[None])
        with torch.no_grad():
            net.cfg.pre_nms_topk = 5000
            b1, s1, m1 = net.infer(x, torch.tensor([0.3]))
            net.cfg.pre_nms_topk = 0
            b2, s2, m2 = net.infer(x, torch.tensor([0.3]))
        assert torch.equal(b1, b2) and torch.equal(s1, s2) and torch.allclose(m1, m2)
        found += len(s1)
    assert found >= 3
