"""Training really learns: the loss falls on a handful of real images within a few dozen steps."""
import math

import numpy as np
import pytest
import torch

from model.cache import build, unpack
from model.config import LossConfig, NetConfig, TrainConfig
from model.s4net import S4Net
from model.splits import shared_datasets
from model.train import CachedDataset, freeze_early_backbone, training_step


def test_loss_decreases_on_real_images(data_root):
    torch.manual_seed(0)
    rng = np.random.default_rng(0)
    samples = shared_datasets(data_root)
    pick = [s for s in samples if s.group == "davis/bear"][:2] + [s for s in samples if s.group == "balloon"][:2]
    arrays, _ = build(pick, 192)
    data = CachedDataset(unpack(arrays))
    batch = [data.sample(rng, i, augmented=False) for i in range(len(pick))]
    images, targets = [b[0] for b in batch], [b[1] for b in batch]
    net = S4Net(NetConfig(image_size=192)).train()
    freeze_early_backbone(net, TrainConfig().freeze_backbone_stages)
    opt = torch.optim.SGD([p for p in net.parameters() if p.requires_grad], lr=0.005, momentum=0.9)
    losses = []
    for _ in range(25):
        loss, parts = training_step(net, images, targets, LossConfig(), rng)
        opt.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(net.parameters(), 10.0)
        opt.step()
        losses.append(loss.item())
    first, last = np.mean(losses[:3]), np.mean(losses[-3:])
    assert np.isfinite(losses).all()
    assert last < 0.6 * first, (first, last)


def test_saliency_loss_scores_the_union_of_salient_instances_and_skips_unsure_pixels():
    from model.losses import saliency_loss
    masks = torch.zeros(2, 32, 32, dtype=torch.bool)
    masks[0, :, :8] = True      # two salient instances: the left quarter...
    masks[1, :, 8:16] = True    # ...and the one next to it
    unsure = torch.zeros(32, 32, dtype=torch.bool)
    target = {"masks": masks, "unsure": unsure}
    right = torch.full((1, 1, 8, 8), -12.0)
    right[..., :4] = 12.0       # the union (left half) at a quarter of the resolution
    assert saliency_loss([right], [target]) < 1e-3
    assert saliency_loss([-right], [target]) > 10
    half_wrong = right.clone()
    half_wrong[..., 4:] = 12.0  # claims the right half too...
    unsure_right = unsure.clone()
    unsure_right[:, 16:] = True  # ...where the teacher was unsure: not counted
    assert saliency_loss([half_wrong], [target]) > 5
    assert saliency_loss([half_wrong], [{"masks": masks, "unsure": unsure_right}]) < 1e-3
    empty = {"masks": torch.zeros(0, 32, 32, dtype=torch.bool), "unsure": unsure}
    assert saliency_loss([torch.full((1, 1, 8, 8), -12.0)], [empty]) < 1e-3  # nothing salient: all background


def test_saliency_heads_train_with_the_network_and_stay_out_of_inference(data_root):
    rng = np.random.default_rng(0)
    samples = [s for s in shared_datasets(data_root) if s.group == "balloon"][:2]
    data = CachedDataset(unpack(build(samples, 128)[0]))
    batch = [data.sample(rng, i, augmented=False) for i in range(2)]
    net = S4Net(NetConfig(image_size=128, mask_stride=4, saliency_aux=True)).train()
    loss, parts = training_step(net, [b[0] for b in batch], [b[1] for b in batch], LossConfig(saliency_weight=0.5), rng)
    loss.backward()
    assert parts["sal"] > 0 and net.saliency.coarse.weight.grad.abs().sum() > 0
    assert net.saliency.fine.weight.grad.abs().sum() > 0
    plain = S4Net(NetConfig(image_size=128, mask_stride=4), pretrained=False)
    assert plain.saliency is None and "sal" not in training_step(plain, [b[0] for b in batch],
                                                                [b[1] for b in batch], LossConfig(), rng)[1]


def test_dice_term_scores_the_mask_as_a_whole_inside_its_box():
    from model.losses import mask_loss
    gt = torch.zeros(1, 64, 64)
    gt[0, 16:48, 16:40] = 1
    box = torch.tensor([[16.0, 16.0, 40.0, 48.0]])
    target = torch.nn.functional.adaptive_avg_pool2d(gt[:, None], (16, 16))
    right = (target * 2 - 1) * 12            # confident and right
    half = right.clone()
    half[..., 8:, :] = -12                   # the lower half of the object missed
    plain = mask_loss(half, gt, box, 4)
    assert torch.equal(mask_loss(half, gt, box, 4, dice_weight=0.0), plain)
    extra_right = mask_loss(right, gt, box, 4, dice_weight=1.0) - mask_loss(right, gt, box, 4)
    extra_half = mask_loss(half, gt, box, 4, dice_weight=1.0) - plain
    assert extra_right < 1e-3
    # half the object missed: Dice = 1 - 2*0.5/(0.5+1) = 1/3 of a loss, whatever the box size
    assert abs(extra_half.item() - 1 / 3) < 0.01


def test_spill_onto_a_neighbour_costs_more_than_spill_onto_background():
    from model.losses import mask_loss
    gt = torch.zeros(1, 64, 64)
    gt[0, 16:48, 16:32] = 1
    box = torch.tensor([[8.0, 16.0, 56.0, 48.0]])
    neighbour = torch.zeros(1, 64, 64, dtype=torch.bool)
    neighbour[0, 16:48, 32:48] = True        # the object next to it, inside the box
    logits = (torch.nn.functional.adaptive_avg_pool2d(gt[:, None], (16, 16)) * 2 - 1) * 12
    spill_right, spill_left = logits.clone(), logits.clone()
    spill_right[..., 4:12, 8:10] = 12        # two cells onto the neighbour
    spill_left[..., 4:12, 2:4] = 12          # two cells onto background
    weighted = dict(neighbours=neighbour, neighbour_weight=4.0)
    assert torch.allclose(mask_loss(spill_right, gt, box, 4), mask_loss(spill_left, gt, box, 4))
    assert mask_loss(spill_right, gt, box, 4, **weighted) > 2 * mask_loss(spill_left, gt, box, 4, **weighted)
    assert torch.equal(mask_loss(spill_left, gt, box, 4, neighbours=neighbour), mask_loss(spill_left, gt, box, 4))


def test_a_regions_parts_are_not_each_others_neighbours_when_only_boxed_objects_count():
    from model.train import neighbour_maps
    masks = torch.zeros(3, 8, 8, dtype=torch.bool)
    masks[0, :, :2] = True   # an object with a detector box
    masks[1, :, 3:5] = True  # two parts of one region: masks only, no box
    masks[2, :, 6:] = True
    every = neighbour_maps(masks, 3)
    assert torch.equal(every[1], masks[0] | masks[2])
    boxed = neighbour_maps(masks, 1)
    assert torch.equal(boxed[1], masks[0]) and torch.equal(boxed[2], masks[0])
    assert not boxed[0].any()  # the boxed object has no boxed neighbour


def test_training_command_rejects_options_that_would_do_nothing(capsys):
    from model.train import main
    for args, says in ((["--union-parts"], "--union-parts needs --no-union-masks"),
                       (["--neighbour-weight", "0.5"], "--neighbour-weight must be >= 1"),
                       (["--ambiguous-iou", "1.5"], "--ambiguous-iou must be at least 0")):
        with pytest.raises(SystemExit) as stop:
            main(["--cache", "nowhere", *args])
        assert stop.value.code == 2 and says in capsys.readouterr().err


def test_each_object_weighs_one_among_the_detectors_positives_when_asked():
    from model.boxes import make_anchors
    from model.losses import anchor_targets, detection_loss
    anchors = make_anchors((320, 320), (8, 16, 32, 64), (32, 64, 128, 256))
    gt = torch.tensor([[100.0, 100.0, 180.0, 180.0],  # an object a quarter of the frame across: 20 anchors
                       [290.0, 10.0, 300.0, 40.0]])   # a far person of 10 x 30 pixels: 1 anchor
    targets = [dict(boxes=gt, ignore=torch.zeros(0, 4))]
    labels, matched = anchor_targets(anchors, gt, targets[0]["ignore"], LossConfig())
    small = (labels == 1) & (matched == 1)
    large = (labels == 1) & (matched == 0)
    assert large.sum() > 5 * small.sum() > 0
    # the classifier is right everywhere but on the small person's anchors, which it calls background
    logits = torch.zeros(len(anchors), 2)
    logits[:, 0] = 10.0
    logits[large, 1] = 20.0
    deltas = torch.zeros(1, len(anchors), 4)
    wrong = torch.nn.functional.cross_entropy(torch.tensor([[10.0, 0.0]]), torch.tensor([1])).item()
    by_anchor, _ = detection_loss(logits[None], deltas, anchors, targets, LossConfig())
    by_object, _ = detection_loss(logits[None], deltas, anchors, targets, LossConfig(positives="object"))
    share = (small.sum() / (small.sum() + large.sum())).item()
    assert abs(by_anchor.item() - 0.3 * share * wrong) < 1e-3   # the person is a few anchors among many
    assert abs(by_object.item() - 0.3 * 0.5 * wrong) < 1e-3    # the person is one object of two


def test_an_anchor_between_two_overlapping_people_trains_nothing_when_asked():
    from model.boxes import box_iou, make_anchors
    from model.losses import anchor_targets
    anchors = make_anchors((320, 320), (8, 16, 32, 64), (32, 64, 128, 256))
    # two people of 90 x 181 (the tall anchor of 128) side by side, 64 px apart: they overlap by a third
    person = torch.tensor([[66.7452, 53.4903, 157.2548, 234.5097]])
    gt = torch.cat([person, person + torch.tensor([64.0, 0.0, 64.0, 0.0])])
    iou = box_iou(anchors, gt)
    between = (iou >= 0.4).all(1)                     # anchors that would be a positive of either
    assert between.sum() >= 2
    none = torch.zeros(0, 4)
    labels, _ = anchor_targets(anchors, gt, none, LossConfig())
    assert (labels[between] == 1).all()               # by default each is a positive of one of them
    asked, matched = anchor_targets(anchors, gt, none, LossConfig(ambiguous_iou=0.4))
    assert (asked[between] == -1).all()               # asked: neither positive nor negative
    for k in range(2):                                # each person keeps its own positives, its best one first
        own = iou[:, k].argmax()
        assert asked[own] == 1 and matched[own] == k
        assert ((asked == 1) & (matched == k)).sum() >= 5
    assert torch.equal(asked[~between], labels[~between])
    # people apart, or one person alone: nothing is ambiguous
    apart = torch.cat([person, person + torch.tensor([128.0, 0.0, 128.0, 0.0])])
    assert torch.equal(anchor_targets(anchors, apart, none, LossConfig(ambiguous_iou=0.4))[0],
                       anchor_targets(anchors, apart, none, LossConfig())[0])
    assert torch.equal(anchor_targets(anchors, person, none, LossConfig(ambiguous_iou=0.4))[0],
                       anchor_targets(anchors, person, none, LossConfig())[0])


def test_repulsion_costs_a_box_that_runs_onto_the_neighbour_and_nothing_without_one():
    from model.losses import repulsion, smooth_ln
    left = torch.tensor([[0.0, 0.0, 100.0, 200.0]])
    right = left + torch.tensor([80.0, 0.0, 80.0, 0.0])      # a second person, overlapping by 20 px
    gt = torch.cat([left, right])
    anchor = torch.tensor([[10.0, 0.0, 110.0, 200.0]])       # the left person's anchor, touching the right
    matched = torch.tensor([0])
    on_own = repulsion(left, anchor, gt, matched)
    onto_neighbour = repulsion(torch.tensor([[40.0, 0.0, 140.0, 200.0]]), anchor, gt, matched)
    assert on_own.item() == pytest.approx(smooth_ln(torch.tensor(0.2)).item())  # 20 of the right's 100 px
    assert onto_neighbour.item() > 2.5 * on_own.item()       # 60 of 100: pushed back harder
    # one object, or an anchor that touches no other object: no repulsion
    assert repulsion(left, anchor, left, matched).item() == 0
    far = torch.cat([left, left + torch.tensor([300.0, 0.0, 300.0, 0.0])])
    assert repulsion(left, anchor, far, matched).item() == 0
    # smooth_ln: -ln(1 - x) up to 0.5, then linear, finite where the box covers the whole neighbour
    assert smooth_ln(torch.tensor(0.3)).item() == pytest.approx(-math.log(0.7))
    assert torch.isfinite(smooth_ln(torch.tensor(1.0)))


def test_repulsion_adds_to_the_box_loss_only_when_weighted():
    from model.boxes import make_anchors
    from model.losses import detection_loss
    anchors = make_anchors((320, 320), (8, 16, 32, 64), (32, 64, 128, 256))
    person = torch.tensor([[66.7452, 53.4903, 157.2548, 234.5097]])
    gt = torch.cat([person, person + torch.tensor([64.0, 0.0, 64.0, 0.0])])
    targets = [dict(boxes=gt, ignore=torch.zeros(0, 4))]
    logits, deltas = torch.zeros(1, len(anchors), 2), torch.zeros(1, len(anchors), 4)
    _, plain = detection_loss(logits, deltas, anchors, targets, LossConfig())
    _, off = detection_loss(logits, deltas, anchors, targets, LossConfig(repulsion_weight=0.0))
    _, on = detection_loss(logits, deltas, anchors, targets, LossConfig(repulsion_weight=0.5))
    assert off.item() == plain.item() and on.item() > plain.item()
