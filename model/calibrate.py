"""Choose where a trained model's masks are cut, on training images (the validation split stays
held out), and write it into a copy of the checkpoint as a bias on the mask logits.

    python -m model.calibrate --checkpoint runs/s4net/last.pt --data ../shared/data \\
        --teacher-maps teacher_maps/isnet --out runs/s4net/calibrated.pt

Every consumer (app, tracker, effects, evaluator) cuts mask probabilities at 0.5. A model that is
less sure on images it never saw gives masks that are too small at 0.5; the cut that scores best
is found on every k-th training image of each source (DAVIS every 2k: its frames are near
duplicates), by the mean of mask AP@0.5, AP@0.7 and DAVIS J. The graph then adds
log((1 - t) / t) to the mask logits, so that its probability 0.5 is the model's t. Each cut is
scored with that bias applied to the probabilities, then the app's paste (refined along the
image's edges, which is not the same as cutting the unbiased probabilities at t) cut at 0.5.

--input-size / --mask-flip calibrate the GPU graph's layout (S4Net.enlarge_mask_path: the mask
path at a larger input, the detector at its own size), and the copy keeps that layout:

    python -m model.calibrate --checkpoint assets/s4net_lite0.pt --data ../shared/data \
        --teacher-maps teacher_maps/isnet --input-size 512 --mask-flip --out runs/s4net/gpu.pt
"""
import argparse
import json
import math
import os
import sys

import numpy as np
import torch
from tqdm import tqdm

from . import formats
from .checkpoint import CheckpointError, read_checkpoint
from .evaluate import TorchPredictor, evaluate
from .splits import add_person_rule_flag, shared_datasets

THRESHOLDS = (0.3, 0.35, 0.4, 0.45, 0.5, 0.55)


class CachedPredictor:
    """Runs the network once per image however many cuts are scored."""

    def __init__(self, predictor):
        self.predictor, self.size, self.memo = predictor, predictor.size, {}

    def __call__(self, image, threshold):
        key = (hash(image.tobytes()), threshold)
        if key not in self.memo:
            self.memo[key] = self.predictor(image, threshold)
        return self.memo[key]


def training_subset(samples, every):
    """Every `every`-th training sample of each source (DAVIS: every 2 * every-th)."""
    by_source = {}
    for s in samples:
        if s.split == "train":
            by_source.setdefault(s.group.split("/")[0], []).append(s)
    return [s for src, items in sorted(by_source.items()) for s in items[::every * (2 if src == "davis" else 1)]]


def score(result):
    """The calibration criterion: mean of AP@0.5, AP@0.7 (percent) and J (x100, when there is DAVIS)."""
    parts = [100 * result["AP50"], 100 * result["AP70"]] + ([100 * result["J_mean"]] if "J_mean" in result else [])
    return sum(parts) / len(parts)


def bias_for(threshold):
    """The logit bias b with sigmoid(x + b) > 0.5 exactly where sigmoid(x) > threshold."""
    return math.log((1 - threshold) / threshold)


class BiasedPredictor:
    """The predictor's mask probabilities as the graph would give them with `bias` more on the logits."""

    def __init__(self, predictor, bias):
        self.predictor, self.size, self.bias = predictor, predictor.size, bias

    def __call__(self, image, threshold):
        boxes, scores, maps = self.predictor(image, threshold)
        p = np.clip(maps.astype(np.float64), 1e-7, 1 - 1e-7)
        return boxes, scores, (1 / (1 + (1 - p) / p * math.exp(-self.bias))).astype(np.float32)


def calibrate(predictor, samples, thresholds=THRESHOLDS, refine=True):
    """{threshold: evaluation result} and the best threshold (refine=False: masks as the graph gives them)."""
    cached = CachedPredictor(predictor)
    table = {t: evaluate(BiasedPredictor(cached, bias_for(t)), samples, progress=False, refine=refine)
             for t in tqdm(thresholds, desc="cuts", unit="cut")}
    return table, max(table, key=lambda t: score(table[t]))


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--checkpoint", required=True)
    p.add_argument("--data", required=True, help="../shared/data (its training split)")
    p.add_argument("--teacher-maps", help="teacher maps (as for model.cache / model.evaluate)")
    add_person_rule_flag(p)
    p.add_argument("--every", type=int, default=6, help="every N-th training image of each source")
    p.add_argument("--out", help="write the checkpoint with the chosen mask bias here")
    p.add_argument("--json", help="write the table here")
    p.add_argument("--input-size", type=int, help="the mask path's input size (the detector keeps its own)")
    p.add_argument("--mask-flip", action="store_true", help="average each mask with its mirror image's")
    p.add_argument("--raw-masks", action="store_true", help="score the graph's masks without the app's edge refinement")
    a = p.parse_args(argv)
    try:
        predictor = TorchPredictor(a.checkpoint)
        if a.input_size or a.mask_flip:
            predictor.net.enlarge_mask_path(a.input_size or predictor.size, a.mask_flip)
        samples = training_subset(shared_datasets(a.data, a.teacher_maps, not a.no_person_rule), a.every)
    except (FileNotFoundError, formats.AnnotationError, CheckpointError, ValueError) as e:
        sys.exit(f"error: {e}")
    if not samples:
        sys.exit(f"error: no training images found under {a.data}")
    table, best = calibrate(predictor, samples, refine=not a.raw_masks)
    print(f"{len(samples)} training images; mask cut: AP@0.5 / AP@0.7 / J / score")
    for t, r in table.items():
        j = f"{r['J_mean']:.3f}" if "J_mean" in r else "-"
        print(f"  {t:.2f}  {100 * r['AP50']:5.1f}  {100 * r['AP70']:5.1f}  {j}  {score(r):.2f}{'  <- best' if t == best else ''}")
    old = predictor.net.cfg.mask_bias
    print(f"mask bias {old:+.3f} -> {old + bias_for(best):+.3f} (cut at {best} of the current probabilities)")
    if a.json:
        with open(a.json, "w") as f:
            json.dump({"images": len(samples), "best": best, "masks": "raw" if a.raw_masks else "refined",
                       "table": {str(t): r for t, r in table.items()}}, f, indent=1)
    if a.out:
        ckpt = read_checkpoint(a.checkpoint)
        ckpt["net_config"] = dict(predictor.net.cfg.to_dict(), mask_bias=old + bias_for(best))
        torch.save(ckpt, a.out + ".tmp")
        os.replace(a.out + ".tmp", a.out)
        print(f"wrote {a.out}")


if __name__ == "__main__":
    main()
