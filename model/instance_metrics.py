"""What a user sees of the instances, counted per image: masks on nothing salient, objects split
into several masks, several objects merged into one mask, and objects found as their own mask.
Union IoU (J) and AP hide all three faults; these count them.

Per image, with the shown predictions (score at or above the display threshold) and the salient
ground-truth instances:
- false instance: a prediction with under FALSE_SHARE of its pixels on any salient ground truth
  (on an image with one union mask, such as a DAVIS frame, the union is the ground truth);
- split: a ground-truth instance that two or more predictions each hold at least SPLIT_SHARE of;
- merge: a prediction that holds at least MERGE_SHARE of each of two or more ground-truth instances;
- recall: ground-truth instances matched one-to-one (greedily, best IoU first) by a prediction
  with IoU >= 0.5;
- reachable: ground-truth instances that some choice among *all* the model's masks (shown or not)
  would match so: the recall a perfect score could reach with these masks (the selection ceiling).
Splits, merges and recall need real instances: images with only a union mask count false instances
and predictions only.
"""
import numpy as np

FALSE_SHARE, SPLIT_SHARE, MERGE_SHARE, MATCH_IOU = 0.2, 0.2, 0.5, 0.5
COUNTS = ("images", "predictions", "false", "instances", "splits", "merges", "matched", "reachable")


def _overlaps(pred, gt):
    """(P, G) intersection pixel counts of two boolean stacks of the same frame."""
    p = pred.reshape(len(pred), -1).astype(np.float32)
    g = gt.reshape(len(gt), -1).astype(np.float32)
    return p @ g.T


def mask_iou(pred, gt, inter=None):
    """(P, H, W) x (G, H, W) bool -> (P, G) IoU; inter: their _overlaps, when already computed."""
    inter = _overlaps(pred, gt) if inter is None else inter
    p_area = pred.reshape(len(pred), -1).sum(1).astype(np.float32)
    g_area = gt.reshape(len(gt), -1).sum(1).astype(np.float32)
    return inter / np.maximum(p_area[:, None] + g_area[None] - inter, 1)


def one_to_one(iou):
    """The ground-truth columns of iou (P, G) matched greedily, best IoU first, at MATCH_IOU or more."""
    used_p, used_g = set(), set()
    for flat in np.argsort(-iou, axis=None, kind="stable"):
        i, j = divmod(int(flat), iou.shape[1])
        if iou[i, j] < MATCH_IOU:
            break
        if i not in used_p and j not in used_g:
            used_p.add(i)
            used_g.add(j)
    return used_g


def reachable(candidates, gt):
    """The objects of gt (G, H, W) (a set of indices) that the best choice among the candidate
    masks (P, H, W) matches one-to-one: what a perfect score could show, whatever the model scored."""
    if not len(candidates) or not len(gt):
        return set()
    return one_to_one(mask_iou(candidates, gt))


def image_counts(gt_masks, gt_salient, pred_masks, union_only=False, candidates=None):
    """Counts of one image. gt_masks (G, H, W) bool with gt_salient (G,) bool; pred_masks (P, H, W)
    bool, the shown predictions; candidates: every mask the model gave (shown or not; default the
    shown ones). union_only: the ground truth is one union mask (no instances)."""
    gt = gt_masks[np.asarray(gt_salient, bool)] if len(gt_masks) else gt_masks
    n_pred = len(pred_masks)
    c = dict.fromkeys(COUNTS, 0)
    c["images"], c["predictions"] = 1, n_pred
    h, w = (pred_masks.shape[1:] if n_pred else gt_masks.shape[1:] if len(gt_masks) else (1, 1))
    salient_any = gt.any(0) if len(gt) else np.zeros((h, w), bool)
    if n_pred:
        area = pred_masks.reshape(n_pred, -1).sum(1)
        on_salient = (pred_masks & salient_any[None]).reshape(n_pred, -1).sum(1)
        c["false"] = int((on_salient < FALSE_SHARE * np.maximum(area, 1)).sum())
    if union_only or not len(gt):
        return c
    c["instances"] = len(gt)
    if candidates is not None:
        c["reachable"] = len(reachable(candidates, gt))
    if not n_pred:
        return c
    inter = _overlaps(pred_masks, gt)
    gt_area = gt.reshape(len(gt), -1).sum(1).astype(np.float32)
    held = inter / np.maximum(gt_area[None], 1)                     # share of each GT a prediction holds
    c["splits"] = int(((held >= SPLIT_SHARE).sum(0) >= 2).sum())
    c["merges"] = int(((held >= MERGE_SHARE).sum(1) >= 2).sum())
    c["matched"] = len(one_to_one(mask_iou(pred_masks, gt, inter)))
    if candidates is None:  # the shown masks are all there is to choose from
        c["reachable"] = c["matched"]
    return c


def summarise(counts):
    """Rates from summed counts: false instances and predictions per image, splits, recall and its
    ceiling per ground-truth instance, merges per image, and the raw counts."""
    t = {k: sum(c[k] for c in counts) for k in COUNTS}
    n, g = max(t["images"], 1), t["instances"]
    return {**t,
            "false_per_image": t["false"] / n,
            "predictions_per_image": t["predictions"] / n,
            "merges_per_image": t["merges"] / n,
            "split_rate": t["splits"] / g if g else None,
            "recall50": t["matched"] / g if g else None,
            "recall50_ceiling": t["reachable"] / g if g else None}


def touching_pairs(masks, gap=3):
    """Whether at least two of the masks touch or overlap (within `gap` pixels)."""
    if len(masks) < 2:
        return False
    boxes = []
    for m in masks:
        ys, xs = np.nonzero(m)
        if len(ys):
            boxes.append((xs.min() - gap, ys.min() - gap, xs.max() + gap, ys.max() + gap))
    for a in range(len(boxes)):
        for b in range(a + 1, len(boxes)):
            if boxes[a][0] <= boxes[b][2] and boxes[b][0] <= boxes[a][2] and \
                    boxes[a][1] <= boxes[b][3] and boxes[b][1] <= boxes[a][3]:
                return True
    return False
