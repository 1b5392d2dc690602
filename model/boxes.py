"""Anchors, box coding (Faster R-CNN deltas), IoU and greedy NMS, all in torch tensors."""
import math

import torch

ANCHOR_RATIOS = (0.5, 1.0, 2.0)
BBOX_CLIP = math.log(1000.0 / 16)  # clamp for log-scale deltas, as in Detectron


def make_anchors(image_size, strides, sizes, ratios=ANCHOR_RATIOS):
    """(sum_l H_l*W_l*A, 4) x1y1x2y2 anchors, level by level, row-major cells, ratio fastest."""
    all_anchors = []
    for stride, size in zip(strides, sizes):
        h, w = math.ceil(image_size[0] / stride), math.ceil(image_size[1] / stride)
        ys, xs = torch.meshgrid(torch.arange(h, dtype=torch.float32), torch.arange(w, dtype=torch.float32),
                                indexing="ij")
        cx, cy = (xs.reshape(-1, 1) + 0.5) * stride, (ys.reshape(-1, 1) + 0.5) * stride
        r = torch.tensor(ratios, dtype=torch.float32).reshape(1, -1)  # ratio = h / w
        aw, ah = size / torch.sqrt(r), size * torch.sqrt(r)
        all_anchors.append(torch.stack([cx - aw / 2, cy - ah / 2, cx + aw / 2, cy + ah / 2], -1).reshape(-1, 4))
    return torch.cat(all_anchors)


def encode(boxes, anchors):
    aw, ah = anchors[:, 2] - anchors[:, 0], anchors[:, 3] - anchors[:, 1]
    ax, ay = anchors[:, 0] + aw / 2, anchors[:, 1] + ah / 2
    bw, bh = boxes[:, 2] - boxes[:, 0], boxes[:, 3] - boxes[:, 1]
    bx, by = boxes[:, 0] + bw / 2, boxes[:, 1] + bh / 2
    return torch.stack([(bx - ax) / aw, (by - ay) / ah, torch.log(bw / aw), torch.log(bh / ah)], -1)


def decode(deltas, anchors):
    aw, ah = anchors[..., 2] - anchors[..., 0], anchors[..., 3] - anchors[..., 1]
    ax, ay = anchors[..., 0] + aw / 2, anchors[..., 1] + ah / 2
    cx, cy = ax + deltas[..., 0] * aw, ay + deltas[..., 1] * ah
    w = aw * torch.exp(deltas[..., 2].clamp(max=BBOX_CLIP))
    h = ah * torch.exp(deltas[..., 3].clamp(max=BBOX_CLIP))
    return torch.stack([cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2], -1)


def expand_boxes(boxes, fraction, size):
    """(N,4) boxes with each side moved out by `fraction` of the box's width (left, right) or
    height (top, bottom), clipped to [0, size]."""
    wh = (boxes[:, 2:] - boxes[:, :2]) * fraction
    return torch.cat([boxes[:, :2] - wh, boxes[:, 2:] + wh], 1).clamp(min=0.0).clamp(max=size)


def box_iou(a, b):
    """(N,4) x (M,4) -> (N,M) IoU."""
    area_a = (a[:, 2] - a[:, 0]).clamp(min=0) * (a[:, 3] - a[:, 1]).clamp(min=0)
    area_b = (b[:, 2] - b[:, 0]).clamp(min=0) * (b[:, 3] - b[:, 1]).clamp(min=0)
    lt = torch.maximum(a[:, None, :2], b[None, :, :2])
    rb = torch.minimum(a[:, None, 2:], b[None, :, 2:])
    inter = (rb - lt).clamp(min=0).prod(-1)
    return inter / (area_a[:, None] + area_b[None, :] - inter).clamp(min=1e-6)


def greedy_nms(boxes, scores, iou_threshold, max_keep, score_threshold):
    """Indices kept by greedy NMS, highest score first: the semantics of ONNX NonMaxSuppression
    (boxes below score_threshold dropped first, suppression when IoU > iou_threshold)."""
    order = torch.argsort(scores, descending=True)
    order = order[scores[order] > score_threshold]
    keep = []
    while order.numel() and len(keep) < max_keep:
        i = order[0]
        keep.append(i)
        iou = box_iou(boxes[i:i + 1], boxes[order[1:]])[0]
        order = order[1:][iou <= iou_threshold]
    return torch.stack(keep) if keep else torch.zeros(0, dtype=torch.long)
