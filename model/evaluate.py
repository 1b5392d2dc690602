"""Evaluate S4Net: COCO-style mask AP at IoU 0.5 and 0.7 (mAP^r, pycocotools) and, for binary-mask
video sets like DAVIS, the mean region similarity J per sequence and overall.

    python -m model.evaluate --checkpoint assets/s4net_lite0.pt --data ../shared/data
    python -m model.evaluate --onnx assets/s4net.onnx --coco-json ann.json --images imgs/
    python -m model.evaluate --checkpoint ... --instance-pngs imgs/ masks/   (pixel = instance id)
    python -m model.evaluate --baseline centre-box --data ../shared/data

Prints a table, writes JSON (--json). With --data the validation split of model/splits.py is used.
Ground truth instances that are not salient (COCO objects outside the salient rule) are marked
`iscrowd`, so a detection on them is neither a hit nor a false positive.
"""
import argparse
import json
import os
import sys
from collections import defaultdict

import numpy as np
from pycocotools import mask as mask_utils
from pycocotools.coco import COCO
from pycocotools.cocoeval import COCOeval
from tqdm import tqdm

from contracts import graph as G
from contracts.masks import MASK_CUT, rle
from contracts.postprocess import graph_input, instance_masks, to_frame  # the app's own: evaluation sees what users see

from . import formats
from .instance_metrics import image_counts, summarise, touching_pairs
from .splits import add_person_rule_flag, shared_datasets

IOU_THRESHOLDS = (0.5, 0.7)


def coco_mask_ap(gts, preds, max_dets=20):
    """gts: per image (masks (n,H,W) bool, salient (n,) bool); preds: per image (masks, scores).
    Returns {"AP50": .., "AP70": ..} (COCO-style, 101-point interpolated, class-agnostic)."""
    images, anns, dets = [], [], []
    for img_id, ((gm, gs), (pm, ps)) in enumerate(zip(gts, preds), 1):
        h, w = gm.shape[1:] if len(gm) else (pm.shape[1:] if len(pm) else (1, 1))
        images.append({"id": img_id, "height": int(h), "width": int(w)})
        for m, sal in zip(gm, gs):
            r = rle(m)
            anns.append({"id": len(anns) + 1, "image_id": img_id, "category_id": 1, "segmentation": r,
                         "area": float(mask_utils.area(r)), "bbox": list(mask_utils.toBbox(r)),
                         "iscrowd": int(not sal)})
        for m, s in zip(pm, ps):
            dets.append({"image_id": img_id, "category_id": 1, "segmentation": rle(m), "score": float(s)})
    if not any(not a["iscrowd"] for a in anns):
        raise ValueError("no salient ground-truth instance to evaluate against")
    gt = COCO()
    gt.dataset = {"images": images, "annotations": anns, "categories": [{"id": 1, "name": "salient"}]}
    with open(os.devnull, "w") as devnull:
        stdout, sys.stdout = sys.stdout, devnull
        try:
            gt.createIndex()
            dt = gt.loadRes(dets) if dets else None
            if dt is None:
                return {f"AP{int(t * 100)}": 0.0 for t in IOU_THRESHOLDS}
            ev = COCOeval(gt, dt, "segm")
            ev.params.iouThrs = np.array(IOU_THRESHOLDS)
            ev.params.maxDets = [max_dets]
            ev.params.areaRng = [[0, 1e10]]
            ev.params.areaRngLbl = ["all"]
            ev.evaluate()
            ev.accumulate()
        finally:
            sys.stdout = stdout
    prec = ev.eval["precision"]  # (T, R, K, A, M)
    out = {}
    for t, thr in enumerate(IOU_THRESHOLDS):
        p = prec[t, :, 0, 0, 0]
        out[f"AP{int(thr * 100)}"] = float(p[p > -1].mean()) if (p > -1).any() else 0.0
    return out


def region_similarity(pred_union, gt):
    """DAVIS J: IoU of two binary masks (1 when both are empty)."""
    union = np.logical_or(pred_union, gt).sum()
    return 1.0 if union == 0 else float(np.logical_and(pred_union, gt).sum() / union)


class TorchPredictor:
    def __init__(self, checkpoint):
        import torch
        from .checkpoint import load_checkpoint
        self.torch = torch
        self.net, _ = load_checkpoint(checkpoint)

    @property
    def size(self):  # follows the network when its layout changes (model.calibrate --input-size)
        return self.net.cfg.image_size

    def __call__(self, image_bgr320, threshold):
        with self.torch.no_grad():
            b, s, m = self.net.infer(self.torch.from_numpy(image_bgr320[None]), self.torch.tensor([threshold]))
        return b.numpy(), s.numpy(), m.numpy()


class OnnxPredictor:
    def __init__(self, path):
        import onnxruntime as ort
        self.sess = ort.InferenceSession(path, providers=["CPUExecutionProvider"])
        self.size = int(self.sess.get_modelmeta().custom_metadata_map[G.META_INPUT_SIZE])

    def __call__(self, image_bgr320, threshold):
        return self.sess.run(None, {G.INPUT_IMAGE: image_bgr320[None],
                                    G.INPUT_THRESHOLD: np.array([threshold], np.float32)})


class CentreBoxBaseline:
    """Trivial baseline: one instance, the centred box covering the middle half of each side."""
    size = 320

    def __call__(self, image_bgr320, threshold):
        s = self.size
        box = np.array([[s / 4, s / 4, 3 * s / 4, 3 * s / 4]], np.float32)
        return box, np.ones(1, np.float32), np.ones((1, s // 8, s // 8), np.float32)


def predict_full_res(predictor, image, threshold, mask_threshold=MASK_CUT, refine=True):
    """Masks and scores as the app's engine and Result make them (contracts.postprocess): boxes
    tightened to their masks, masks refined along the image's edges (refine=False: the graph's masks
    as they are; a contracts.refine.RefineSettings: refined so)."""
    s = predictor.size
    boxes, scores, maps = predictor(graph_input(image, s)[0], threshold)
    found = to_frame(boxes, scores, maps, image.shape[:2], s, mask_cut=mask_threshold)
    return instance_masks(found, image, refine, mask_threshold), found.scores


def evaluate(predictor, samples, display_threshold=0.5, ap_threshold=0.05, mask_threshold=MASK_CUT, progress=True,
             refine=True):
    """mask_threshold: where the masks are cut (the app cuts at 0.5; model.calibrate tries others).
    refine: masks refined along the image's edges, as the app shows them (contracts.refine)."""
    gts, preds, j_per_seq = [], [], defaultdict(list)
    counts, touching, groups = [], [], []  # per loaded image
    skipped = 0
    for s in tqdm(samples, desc="evaluate", unit="img", disable=not progress):
        try:
            image, gm, gs = s.load()
        except formats.AnnotationError as e:
            tqdm.write(f"skipped: {e}")
            skipped += 1
            continue
        masks, scores = predict_full_res(predictor, image, ap_threshold, mask_threshold, refine)
        gts.append((gm, gs))
        preds.append((masks, scores))
        groups.append(s.group)
        shown = scores >= display_threshold
        counts.append(image_counts(gm, gs, masks[shown], s.union_mask, candidates=masks))
        touching.append(not s.union_mask and touching_pairs(gm[np.asarray(gs, bool)]))
        if s.union_mask:
            keep = scores >= display_threshold
            union = masks[keep].any(0) if keep.any() else np.zeros(image.shape[:2], bool)
            gt_union = gm.any(0) if len(gm) else np.zeros(image.shape[:2], bool)
            j_per_seq[s.group].append(region_similarity(union, gt_union))
    result = {"images": len(gts), "skipped": skipped, **coco_mask_ap(gts, preds)}
    by_source = defaultdict(list)
    for group, g, p in zip(groups, gts, preds):
        by_source[group.split("/")[0]].append((g, p))
    result["per_source"] = {}
    for src, items in by_source.items():
        if any(g[1].any() for g, _ in items):
            result["per_source"][src] = coco_mask_ap(*zip(*items))
    # scenes with two or more salient instances (people side by side, a rider and a horse): where
    # telling touching instances apart matters, the case copy-paste training is for
    multi = [(g, p) for g, p in zip(gts, preds) if g[1].sum() >= 2]
    if multi:
        result["multi_instance"] = {"images": len(multi), **coco_mask_ap(*zip(*multi))}
    # what users see: false, split and merged instances, and instances found one-to-one
    by_source = defaultdict(list)
    for group, c in zip(groups, counts):
        by_source[group.split("/")[0]].append(c)
    result["instances"] = {"all": summarise(counts), "per_source": {k: summarise(v) for k, v in by_source.items()}}
    multi = [c for c, t in zip(counts, touching) if t]
    if multi:
        result["instances"]["multi_instance"] = summarise(multi)
    if j_per_seq:
        result["J_per_sequence"] = {k: float(np.mean(v)) for k, v in sorted(j_per_seq.items())}
        result["J_mean"] = float(np.mean(list(result["J_per_sequence"].values())))
    return result


def print_table(name, r):
    print(f"\n{name}: {r['images']} images")
    print(f"  mask AP@0.5 (mAP^r@0.5)  {r['AP50'] * 100:6.1f}")
    print(f"  mask AP@0.7 (mAP^r@0.7)  {r['AP70'] * 100:6.1f}")
    for src, v in r.get("per_source", {}).items():
        print(f"    {src:<14} AP@0.5 {v['AP50'] * 100:5.1f}  AP@0.7 {v['AP70'] * 100:5.1f}")
    if "multi_instance" in r:
        m = r["multi_instance"]
        print(f"    {'2+ salient':<14} AP@0.5 {m['AP50'] * 100:5.1f}  AP@0.7 {m['AP70'] * 100:5.1f}  ({m['images']} images)")
    if "instances" in r:
        print("  instances shown (score >= display threshold): false/image, splits and recall@0.5 per "
              "instance, merges/image")
        rows = [("all", r["instances"]["all"])] + list(r["instances"]["per_source"].items())
        if "multi_instance" in r["instances"]:
            rows.append(("2+ touching", r["instances"]["multi_instance"]))
        for src, v in rows:
            extra = "" if v["recall50"] is None else \
                f"  split {v['split_rate']:.3f}  recall {v['recall50']:.3f} (ceiling {v['recall50_ceiling']:.3f})  " \
                f"merges/img {v['merges_per_image']:.3f}"
            print(f"    {src:<14} {v['images']:>4} img  shown/img {v['predictions_per_image']:5.2f}  "
                  f"false/img {v['false_per_image']:.3f}{extra}")
    if "J_mean" in r:
        for k, v in r["J_per_sequence"].items():
            print(f"  J {k:<28} {v:.3f}")
        print(f"  J mean (over sequences)   {r['J_mean']:.3f}")


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    src = p.add_mutually_exclusive_group(required=True)
    src.add_argument("--checkpoint", help="PyTorch checkpoint")
    src.add_argument("--onnx", help="exported S4Net graph (onnxruntime, CPU)")
    src.add_argument("--baseline", choices=["centre-box"], help="trivial baseline for comparison")
    data = p.add_mutually_exclusive_group(required=True)
    data.add_argument("--data", help="../shared/data: its validation split")
    data.add_argument("--coco-json", help="COCO-style instances JSON (polygons or RLE); needs --images")
    data.add_argument("--instance-pngs", nargs=2, metavar=("IMAGES", "MASKS"),
                      help="folder of images and folder of PNGs with pixel = instance id")
    data.add_argument("--binary-masks", nargs=2, metavar=("IMAGES", "MASKS"),
                      help="folder of images and folder of binary PNG masks (J and AP, one region each)")
    p.add_argument("--images", help="image folder for --coco-json")
    p.add_argument("--teacher-maps", help="with --data: teacher maps (model.pseudo_label): COCO's salient "
                                          "instances by the teacher rule, and the unlabelled validation photos")
    add_person_rule_flag(p)
    p.add_argument("--threshold", type=float, default=0.5, help="score threshold for J")
    p.add_argument("--raw-masks", action="store_true",
                   help="score the graph's masks as they are, without the app's edge refinement")
    p.add_argument("--limit", type=int, help="evaluate only the first N images (quick checks)")
    p.add_argument("--json", help="write the results here")
    a = p.parse_args(argv)
    try:
        if a.data:
            samples = [s for s in shared_datasets(a.data, a.teacher_maps, not a.no_person_rule) if s.split == "val"]
        elif a.coco_json:
            if not a.images:
                sys.exit("error: --coco-json needs --images")
            samples = formats.coco_json(a.coco_json, a.images)
        elif a.instance_pngs:
            samples = formats.instance_pngs(*a.instance_pngs)
        else:
            samples = formats.instance_pngs(*a.binary_masks)
            for s in samples:
                s.union_mask, s.group = True, "binary/" + os.path.basename(os.path.dirname(s.image_path))
        for path in (a.checkpoint, a.onnx):
            if path and not os.path.isfile(path):
                raise FileNotFoundError(f"model not found: {path}")
        predictor = (TorchPredictor(a.checkpoint) if a.checkpoint else OnnxPredictor(a.onnx) if a.onnx
                     else CentreBoxBaseline())
    except (FileNotFoundError, formats.AnnotationError) as e:
        sys.exit(f"error: {e}")
    samples = samples[:a.limit] if a.limit else samples
    result = evaluate(predictor, samples, a.threshold, refine=not a.raw_masks)
    result["masks"] = "raw" if a.raw_masks else "refined"
    name = a.checkpoint or a.onnx or f"baseline {a.baseline}"
    print_table(name, result)
    if a.json:
        with open(a.json, "w") as f:
            json.dump({"model": name, **result}, f, indent=1)


if __name__ == "__main__":
    main()
