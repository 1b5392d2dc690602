"""S4Net losses: anchor classification (all positives + OHEM negatives), smooth-L1 box deltas
(plus, when asked, RepGT: a box pushed off its neighbour), and per-pixel mask cross-entropy inside
the ground-truth box."""
import math

import torch
import torch.nn.functional as F

from . import boxes as B
from .config import LossConfig
from .s4net import roi_masking_weights


def anchor_targets(anchors, gt_boxes, ignore_boxes, cfg: LossConfig):
    """labels: 1 positive, 0 negative, -1 ignored; matched: index of the GT box of each anchor."""
    labels = torch.zeros(len(anchors), dtype=torch.long, device=anchors.device)
    matched = torch.zeros(len(anchors), dtype=torch.long, device=anchors.device)
    if len(ignore_boxes):
        labels[B.box_iou(anchors, ignore_boxes).max(1).values >= cfg.positive_iou] = -1
    if len(gt_boxes):
        iou = B.box_iou(anchors, gt_boxes)
        best, matched = iou.max(1)
        labels[best >= cfg.positive_iou] = 1
        if cfg.ambiguous_iou and len(gt_boxes) > 1:
            labels[(iou >= cfg.ambiguous_iou).sum(1) >= 2] = -1
        # every GT box gets at least its best anchor, or small objects would have no positive
        labels[iou.argmax(0)] = 1
        matched[iou.argmax(0)] = torch.arange(len(gt_boxes), device=anchors.device)
    return labels, matched


def positive_weights(matched_pos, how):
    """Weight of each positive anchor (matched_pos: the GT index of each): "anchor" 1 each;
    "object" 1 / (its object's positive anchors), so that every object weighs one."""
    if how == "anchor":
        return torch.ones(len(matched_pos), device=matched_pos.device)
    if how == "object":
        return 1.0 / torch.bincount(matched_pos)[matched_pos].float()
    raise ValueError(f"unknown positives weighting {how!r} (anchor or object)")


def smooth_ln(x, sigma=0.5):
    """-ln(1 - x), continued linearly above sigma (finite at x = 1)."""
    x = x.clamp(0, 1)
    low = -torch.log1p(-x.clamp(max=sigma))
    return torch.where(x <= sigma, low, (x - sigma) / (1 - sigma) - math.log1p(-sigma))


def repulsion(pred_boxes, anchors, gt_boxes, matched):
    """RepGT per positive: pred_boxes (P,4) decoded from its deltas, anchors (P,4), matched (P,)
    its GT; the repelling object is the other GT its anchor overlaps most. Returns (P,)
    smooth_ln(intersection of the prediction and that object / the object's area); 0 where the
    anchor overlaps no other object."""
    if len(gt_boxes) < 2 or not len(pred_boxes):
        return pred_boxes.new_zeros(len(pred_boxes))
    iou = B.box_iou(anchors, gt_boxes)
    iou[torch.arange(len(anchors), device=anchors.device), matched] = -1
    best, other = iou.max(1)
    g = gt_boxes[other]
    lo, hi = torch.maximum(pred_boxes[:, :2], g[:, :2]), torch.minimum(pred_boxes[:, 2:], g[:, 2:])
    inter = (hi - lo).clamp(min=0).prod(1)
    iog = inter / (g[:, 2:] - g[:, :2]).prod(1).clamp(min=1e-6)
    return torch.where(best > 0, smooth_ln(iog), torch.zeros_like(iog))


def detection_loss(logits, deltas, anchors, targets, cfg: LossConfig):
    """(classification, box) losses; the box loss holds cfg.repulsion_weight x RepGT too."""
    pos_ce, pos_w, neg_ce, box_l = [], [], [], []
    beta = 1.0 / cfg.smooth_l1_sigma ** 2
    for i, t in enumerate(targets):
        labels, matched = anchor_targets(anchors, t["boxes"], t["ignore"], cfg)
        ce = F.cross_entropy(logits[i], labels.clamp(min=0), reduction="none")
        pos = labels == 1
        pos_ce.append(ce[pos])
        pos_w.append(positive_weights(matched[pos], cfg.positives))
        neg = ce[labels == 0]
        neg_ce.append(neg.topk(min(cfg.hard_negatives, len(neg))).values)
        target = B.encode(t["boxes"][matched[pos]], anchors[pos])  # empty where no positive
        box = F.smooth_l1_loss(deltas[i][pos], target, beta=beta, reduction="none").sum(1)
        if cfg.repulsion_weight:
            pred = B.decode(deltas[i][pos], anchors[pos])
            box = box + cfg.repulsion_weight * repulsion(pred, anchors[pos], t["boxes"], matched[pos])
        box_l.append(box)
    pos_ce, pos_w, neg_ce, box_l = torch.cat(pos_ce), torch.cat(pos_w), torch.cat(neg_ce), torch.cat(box_l)
    zero = logits.sum() * 0
    pos_mean = (pos_ce * pos_w).sum() / pos_w.sum() if len(pos_ce) else zero
    cls = cfg.cls_weight * (pos_mean + (neg_ce.mean() if len(neg_ce) else zero))
    box = (box_l * pos_w).sum() / pos_w.sum() if len(box_l) else zero
    return cls, box


def mask_loss(logits, gt_masks, boxes, stride, unsure=None, dice_weight=0.0, neighbours=None,
              neighbour_weight=1.0):
    """logits (K,1,h,w) over the map; gt_masks (K,H,W) at image resolution, turned into soft
    targets on the stride grid; loss averaged over the cells of each box given (the one the mask
    branch saw: ground truth, or grown and jittered with loose boxes), leaving out
    cells that are mostly `unsure` (K,H,W) pixels (where a teacher's pseudo-label is not sure).
    dice_weight: adds that much of a soft Dice loss over the same cells, which scores each mask as a
    whole, like the IoU that J and AP measure, where cross-entropy scores cells one by one.
    neighbours (K,H,W): the other objects of each mask's image; their cells count neighbour_weight
    times, since a mask that runs onto a neighbour merges two objects for the user."""
    if len(logits) == 0:
        return logits.sum() * 0
    h, w = logits.shape[-2:]
    target = F.adaptive_avg_pool2d(gt_masks[:, None].float(), (h, w))
    # the box's cells, exactly as RoIMasking marks them (+1, no band)
    weight = roi_masking_weights(boxes, h, w, stride, 0.0, ternary=False)
    if unsure is not None:
        weight = weight * (F.adaptive_avg_pool2d(unsure[:, None].float(), (h, w)) < 0.5)
    if neighbours is not None and neighbour_weight != 1.0:
        weight = weight * (1 + (neighbour_weight - 1) * F.adaptive_avg_pool2d(neighbours[:, None].float(), (h, w)))
    ce = F.binary_cross_entropy_with_logits(logits, target, reduction="none")
    loss = ((ce * weight).sum((1, 2, 3)) / weight.sum((1, 2, 3)).clamp(min=1)).mean()
    if dice_weight:
        p = torch.sigmoid(logits) * weight
        t = target * weight
        dice = 1 - (2 * (p * t).sum((1, 2, 3)) + 1) / (p.sum((1, 2, 3)) + t.sum((1, 2, 3)) + 1)
        loss = loss + dice_weight * dice.mean()
    return loss


def saliency_loss(logits, targets):
    """Dense auxiliary loss: each of `logits` (list of (N,1,h,w)) against the union of the image's
    salient instance masks (targets[i]["masks"], (K,H,W)) pooled to (h, w); cells that are mostly
    `unsure` are left out. Mean over the kept cells, then over the maps."""
    unions = torch.stack([t["masks"].any(0) if len(t["masks"]) else torch.zeros_like(t["unsure"])
                          for t in targets])[:, None].float()
    unsure = torch.stack([t["unsure"] for t in targets])[:, None].float()
    parts = []
    for lg in logits:
        size = lg.shape[-2:]
        target = F.adaptive_avg_pool2d(unions, size)
        weight = (F.adaptive_avg_pool2d(unsure, size) < 0.5).float()
        ce = F.binary_cross_entropy_with_logits(lg, target, reduction="none")
        parts.append((ce * weight).sum() / weight.sum().clamp(min=1))
    return torch.stack(parts).mean()
