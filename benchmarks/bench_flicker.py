"""Flicker of tracked masks with and without temporal smoothing, on real clips.

    python -m benchmarks.bench_flicker --data ../shared/data

Flicker = 1 - IoU between a tracked instance's full-resolution mask in consecutive frames, averaged
over every pair of consecutive frames where the same id is visible (lower is steadier). Measured
on the DAVIS validation sequences (every frame pair of each) and on the bundled sample clip.
"""
import argparse
import os
import sys

import cv2
import numpy as np

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from app.drawing import instances  # noqa: E402
from app.engine import Engine  # noqa: E402
from app.tracking import Tracker  # noqa: E402
from app.video_io import VideoReader  # noqa: E402
from benchmarks.common import SAMPLE  # noqa: E402
from model.splits import DAVIS_VAL_EVERY, DAVIS_VAL_OFFSET  # noqa: E402


def flicker(detections, smoothing):
    tracker = Tracker(smoothing=smoothing)
    prev, changes = {}, []
    for det in detections:
        cur = {}
        for inst in instances(tracker.update(det)):
            cur[inst.id] = inst.full_mask(det.frame_size)
            if inst.id in prev:
                a, b = prev[inst.id], cur[inst.id]
                changes.append(1 - (a & b).sum() / max((a | b).sum(), 1))
        prev = cur
    return float(np.mean(changes)) if changes else float("nan"), len(changes)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data", default=None, help="../shared/data (DAVIS validation sequences)")
    p.add_argument("--model", default=None)
    a = p.parse_args(argv)
    engine = Engine(a.model, "cpu")
    clips = {}
    if a.data:
        root = os.path.join(a.data, "davis2016-train", "JPEGImages")
        seqs = sorted(os.listdir(root))
        for i, seq in enumerate(seqs):
            if i % DAVIS_VAL_EVERY == DAVIS_VAL_OFFSET:
                clips[f"DAVIS {seq}"] = [cv2.imread(os.path.join(root, seq, f)) for f in sorted(os.listdir(os.path.join(root, seq)))]
    clips["sample.mp4"] = [f.copy() for f in VideoReader(SAMPLE)]
    print(f"{'clip':<22} {'frames':>6} {'flicker raw':>12} {'smoothed':>9}")
    totals = {False: [], True: []}
    for name, frames in clips.items():
        dets = [engine.run(f) for f in frames]
        raw, n = flicker(dets, False)
        smooth, _ = flicker(dets, True)
        totals[False].append(raw)
        totals[True].append(smooth)
        print(f"{name:<22} {len(frames):>6} {raw:>12.3f} {smooth:>9.3f}")
    print(f"{'mean':<22} {'':>6} {np.nanmean(totals[False]):>12.3f} {np.nanmean(totals[True]):>9.3f}")


if __name__ == "__main__":
    main()
