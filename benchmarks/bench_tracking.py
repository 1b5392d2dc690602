"""Tracking quality on real clips: id switches per 100 frames and flicker, with and without
temporal smoothing, for the tracker's settings (and any others given).

    python -m benchmarks.bench_tracking --data ../shared/data

Id switch: a detection in frame t+1 whose raw mask (before smoothing) overlaps a detection of
frame t with IoU >= 0.5 but carries another id, while that earlier id is gone from frame t+1: the
object changed id (and colour). (A second, duplicate detection of an object that keeps its id is
not a switch; duplicates are counted apart.)
Flicker: 1 - IoU between a tracked instance's full-resolution mask in consecutive frames, averaged
over every pair of consecutive frames where the same id is visible (lower is steadier).
Clips: the DAVIS validation sequences (never trained on) and the bundled sample.
"""
import argparse
import os
import sys

import cv2
import numpy as np

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from app.engine import Engine  # noqa: E402
from app.tracking import Tracker, binary_maps, mask_iou  # noqa: E402
from app.video_io import VideoReader  # noqa: E402
from benchmarks.common import SAMPLE  # noqa: E402
from model.splits import davis_val_sequences  # noqa: E402


def track(results, **tracker_options):
    """(id switches, frames, flicker) of one clip's untracked results under one tracker setting."""
    tracker = Tracker(**tracker_options)
    switches, duplicates, changes = 0, 0, []
    prev_raw, prev_ids, prev_masks = None, None, {}
    for r in results:
        raw = binary_maps(r.boxes, r.maps, r.frame_size)
        tracked = tracker.update(r)
        if prev_raw is not None and len(raw) and len(prev_raw):
            iou = mask_iou(raw, prev_raw)
            for i in range(len(raw)):
                j = int(iou[i].argmax())
                if iou[i, j] >= 0.5 and tracked.ids[i] != prev_ids[j]:
                    if prev_ids[j] in tracked.ids:
                        duplicates += 1
                    else:
                        switches += 1
        masks = {inst.id: inst.full_mask(r.frame_size) for inst in tracked.instances()}
        for k, m in masks.items():
            if k in prev_masks:
                changes.append(1 - (m & prev_masks[k]).sum() / max((m | prev_masks[k]).sum(), 1))
        prev_raw, prev_ids, prev_masks = raw, tracked.ids, masks
    return switches, duplicates, len(results), float(np.mean(changes)) if changes else float("nan")


SETTINGS = {
    "previous (v1: mask IoU only, no cascade, lost after 5)": dict(max_missing=5, box_weight=0.0, cascade=False),
    "current": {},
}


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data", default=None, help="../shared/data (DAVIS validation sequences)")
    p.add_argument("--model", default=None)
    a = p.parse_args(argv)
    engine = Engine(a.model, "cpu")
    clips = {}
    if a.data:
        root = os.path.join(a.data, "davis2016-train")
        for seq in davis_val_sequences(root):
            d = os.path.join(root, "JPEGImages", seq)
            clips[f"DAVIS {seq}"] = [cv2.imread(os.path.join(d, f)) for f in sorted(os.listdir(d))]
    clips["sample.mp4"] = [f.image for f in VideoReader(SAMPLE)]
    runs = {name: [engine.run(f) for f in frames] for name, frames in clips.items()}
    for label, options in SETTINGS.items():
        print(f"\ntracker: {label}")
        print(f"{'clip':<20} {'frames':>6} {'id switches/100':>16} {'duplicates/100':>15} {'flicker raw':>12} "
              f"{'smoothed':>9}")
        total_sw, total_dup, total_n, fl = 0, 0, 0, {False: [], True: []}
        for name, results in runs.items():
            sw, dup, n, raw = track(results, smoothing=False, **options)
            _, _, _, smooth = track(results, smoothing=True, **options)
            total_sw, total_dup, total_n = total_sw + sw, total_dup + dup, total_n + n
            fl[False].append(raw)
            fl[True].append(smooth)
            print(f"{name:<20} {n:>6} {100 * sw / n:>16.2f} {100 * dup / n:>15.2f} {raw:>12.3f} {smooth:>9.3f}")
        print(f"{'all':<20} {total_n:>6} {100 * total_sw / total_n:>16.2f} {100 * total_dup / total_n:>15.2f} "
              f"{np.nanmean(fl[False]):>12.3f} {np.nanmean(fl[True]):>9.3f}")


if __name__ == "__main__":
    main()
