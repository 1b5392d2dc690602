"""Why objects in scenes with touching instances are not found: each salient object of the
validation split's touching scenes is matched (IoU >= 0.5, one-to-one), merged (a shown mask holds
half of it and half of another object), split (two masks hold 20% of it each), poorly matched
(best IoU 0.3-0.5) or missed, with its size; and how large a merging mask is against the largest
object it holds (near 1: one object's mask running onto a neighbour; large: a box round a group).
Also by what the objects are (tools.object_kinds): people in photos apart from the synthetic crowds'
people, animals, other COCO objects; which kinds each merging mask holds; and, for each object not
matched, whether the detector drew a box for it (box IoU >= 0.5 with the object's own box, after the
graph's NMS): shown, under the display threshold, or none (then no mask can match it). Last, the
**selection ceiling**: how many objects the graph's candidates (every mask it gives at score 0.05 or
more) could match one-to-one if a perfect score showed exactly the right ones: no re-scoring,
suppression or display threshold can do better with these candidates.

    python -m tools.touching_failures --onnx assets/s4net.onnx --data ../shared/data --teacher-maps TM
"""
import argparse
from collections import Counter, defaultdict

import numpy as np
from tqdm import tqdm

from contracts.postprocess import graph_input, instance_masks, to_frame
from model.config import SHIPPED_RECIPE
from model.evaluate import OnnxPredictor
from model.instance_metrics import FALSE_SHARE, MERGE_SHARE, SPLIT_SHARE, one_to_one, reachable, touching_pairs
from model.splits import add_person_rule_flag, shared_datasets
from tools.object_kinds import ObjectKinds


def size_class(share):
    return "under 1%" if share < 0.01 else "1-5%" if share < 0.05 else "over 5%"


def box_iou(a, b):
    """(n, 4) x (m, 4) x0y0x1y1 -> (n, m)."""
    lo, hi = np.maximum(a[:, None, :2], b[None, :, :2]), np.minimum(a[:, None, 2:], b[None, :, 2:])
    inter = np.clip(hi - lo, 0, None).prod(-1)
    area = lambda x: (x[:, 2:] - x[:, :2]).prod(-1)
    return inter / (area(a)[:, None] + area(b)[None] - inter)


def detector_boxes(windows, expand):
    """The detector's boxes from the graph's mask windows (each side grown by `expand` of the box)."""
    centre, half = (windows[:, :2] + windows[:, 2:]) / 2, (windows[:, 2:] - windows[:, :2]) / 2 / (1 + 2 * expand)
    return np.concatenate([centre - half, centre + half], 1)


def mask_boxes(masks):
    out = []
    for m in masks:
        ys, xs = np.nonzero(m)
        out.append([xs.min(), ys.min(), xs.max() + 1, ys.max() + 1])
    return np.array(out, np.float64).reshape(-1, 4)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--onnx", required=True)
    p.add_argument("--data", default="../shared/data")
    p.add_argument("--teacher-maps")
    add_person_rule_flag(p)
    p.add_argument("--threshold", type=float, default=0.5, help="display threshold (the app's)")
    p.add_argument("--mask-box-expand", type=float, default=SHIPPED_RECIPE["mask_box_expand"],
                   help="how much the model grows each box into its mask window (the graph does not say)")
    a = p.parse_args(argv)
    predictor = OnnxPredictor(a.onnx)
    samples = [s for s in shared_datasets(a.data, a.teacher_maps, not a.no_person_rule)
               if s.split == "val" and not s.union_mask]
    outcome, by_source, sizes, merge_ratio = Counter(), defaultdict(Counter), defaultdict(Counter), []
    kinds_of, by_kind, merged_kinds = ObjectKinds(a.data), defaultdict(Counter), Counter()
    unmatched_box = defaultdict(Counter)
    scenes, reachable_kinds = 0, Counter()  # objects some choice of the candidates matches, by kind
    for s in tqdm(samples, unit="img"):
        image, gm, gs = s.load()
        gt = gm[np.asarray(gs, bool)]
        if not touching_pairs(gt):
            continue
        scenes += 1
        kinds = kinds_of(s, gt)
        if s.group.startswith("crowds/"):
            kinds = ["person (crowds)"] * len(gt)
        else:
            kinds = ["person (photos)" if k == "person" else k for k in kinds]
        windows, scores, maps = predictor(graph_input(image, predictor.size)[0], 0.05)
        found = to_frame(windows, scores, maps, image.shape[:2], predictor.size)
        masks, scores = instance_masks(found, image), found.scores  # as model.evaluate: what users see
        h, w = image.shape[:2]
        size = predictor.size
        det = detector_boxes(np.asarray(windows[:len(scores)], np.float64) * [w / size, h / size, w / size, h / size],
                             a.mask_box_expand)
        own = box_iou(det, mask_boxes(gt)) if len(det) else np.zeros((0, len(gt)))
        shown = masks[scores >= a.threshold]
        gt_area = gt.reshape(len(gt), -1).sum(1).astype(np.float64)
        if len(shown):
            inter = shown.reshape(len(shown), -1).astype(np.float32) @ gt.reshape(len(gt), -1).T.astype(np.float32)
            area = shown.reshape(len(shown), -1).sum(1).astype(np.float64)
            iou = inter / (area[:, None] + gt_area[None] - inter)
            held = inter / gt_area[None]
            for i in range(len(shown)):
                js = np.flatnonzero(held[i] >= MERGE_SHARE)
                if len(js) >= 2:
                    merge_ratio.append(area[i] / gt_area[js].max())
                    merged_kinds[" + ".join(sorted(kinds[j] for j in js))] += 1
        else:
            iou = held = np.zeros((0, len(gt)))
        matched = one_to_one(iou)
        for j in reachable(masks, gt):
            reachable_kinds[kinds[j]] += 1
        for j in range(len(gt)):
            if j in matched:
                kind = "matched"
            elif any(held[i, j] >= MERGE_SHARE and (held[i] >= MERGE_SHARE).sum() >= 2 for i in range(len(shown))):
                kind = "merged"
            elif (held[:, j] >= SPLIT_SHARE).sum() >= 2:
                kind = "split"
            elif len(shown) and iou[:, j].max() >= 0.3:
                kind = "poor (IoU 0.3-0.5)"
            else:
                kind = "missed"
            outcome[kind] += 1
            if kind != "matched":
                hit = own[:, j] >= 0.5
                box = ("shown" if (scores[hit] >= a.threshold).any() else "under the display threshold") if hit.any() \
                    else "none"
                unmatched_box[kinds[j]][box] += 1
            by_source[s.group.split("/")[0]][kind] += 1
            by_kind[kinds[j]][kind] += 1
            sizes[kind][size_class(gt_area[j] / gt[0].size)] += 1
    total = max(sum(outcome.values()), 1)
    print(f"{a.onnx}: {scenes} scenes with touching instances, {total} salient objects "
          f"(shown masks with under {FALSE_SHARE:.0%} on anything salient are false, counted by model.evaluate)")
    for kind, n in outcome.most_common():
        print(f"  {kind:<20} {n:4d}  {n / total:5.1%}  by size: {dict(sizes[kind])}")
    for source, c in sorted(by_source.items()):
        print(f"  {source:<14} {dict(c)}")
    for what, c in sorted(by_kind.items()):
        n = sum(c.values())
        print(f"  {what:<16} {n:4d} objects, recall@0.5 {c['matched'] / n:.3f}: {dict(c)}")
    for what, c in sorted(unmatched_box.items()):
        print(f"  {what:<16} not matched: the detector's box for it {dict(c)}")
    n_reachable = sum(reachable_kinds.values())
    print(f"  selection ceiling: the candidates (score >= 0.05) can match at most {n_reachable} "
          f"of the {total} objects one-to-one (recall {n_reachable / total:.3f}); by kind: "
          + ", ".join(f"{k} {n} of {sum(by_kind[k].values())}" for k, n in sorted(reachable_kinds.items())))
    if merged_kinds:
        print("  merging masks hold: " + ", ".join(f"{k} ({n})" for k, n in merged_kinds.most_common()))
    if merge_ratio:
        print(f"  merging masks: {len(merge_ratio)}, area over the largest object held: median "
              f"{np.median(merge_ratio):.2f}, quartiles {np.percentile(merge_ratio, 25):.2f}-"
              f"{np.percentile(merge_ratio, 75):.2f}")


if __name__ == "__main__":
    main()
