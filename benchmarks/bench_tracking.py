"""Tracking on moving video: J, id switches and duplicates per 100 frames, for the plain tracker
(every detection at the shown threshold, shown at once, hidden when missed) and the default one
(two thresholds, confirmation, persistence, merged parts, held edges), on the same detections.

    python -m benchmarks.bench_tracking --data ../shared/data [--model FILE]

Clips: the 5 DAVIS validation sequences (never trained on) and the bundled sample. Everything is
measured on what is shown, as the app shows it (full-resolution masks, refined along the edges):
- J: IoU of the union of the shown masks with the DAVIS mask, the mean over frames, then over
  sequences (the video path's J; the still-image J of model.evaluate has no tracker);
- id switch: a shown instance overlapping one of the previous frame (mask IoU >= 0.5 on the map
  grid) under another id while the earlier id is gone: the object changed id (and colour);
- duplicate: the same, while the earlier id is still shown: a second instance on one object.
"""
import argparse
import os

import cv2
import numpy as np

from app.engine import Engine
from app.tracking import PLAIN, Tracker, TrackerSettings, binary_maps, mask_iou
from app.sources import VideoReader
from benchmarks.common import SAMPLE
from model.splits import davis_val_sequences

SETTINGS = {"plain (one threshold, no confirmation)": PLAIN, "default": TrackerSettings()}


def track(detections, settings, show_threshold, truths=None):
    """(id switches, duplicates, J values) of one clip's detections under one tracker setting."""
    tracker = Tracker(settings)
    switches, duplicates, js = 0, 0, []
    prev = None
    for k, det in enumerate(detections):
        shown = tracker.shown(det, show_threshold)
        grid = binary_maps(shown.boxes, shown.maps, shown.frame_size)
        ids = shown.track_ids()
        if prev is not None and len(grid) and len(prev[0]):
            iou = mask_iou(grid, prev[0])
            for i in range(len(grid)):
                j = int(iou[i].argmax())
                if iou[i, j] >= 0.5 and ids[i] != prev[1][j]:
                    if prev[1][j] in ids:
                        duplicates += 1
                    else:
                        switches += 1
        prev = grid, ids
        if truths is not None:
            fg = np.zeros(shown.frame_size, bool)
            for inst in shown.instances():
                h, w = inst.mask.shape
                fg[inst.y0:inst.y0 + h, inst.x0:inst.x0 + w] |= inst.mask
            union = (fg | truths[k]).sum()
            js.append(1.0 if union == 0 else (fg & truths[k]).sum() / union)
    return switches, duplicates, js


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data", default=None, help="../shared/data (DAVIS validation sequences)")
    p.add_argument("--model", default=None)
    a = p.parse_args(argv)
    engine = Engine(a.model, "cpu", log=lambda msg: None)
    show = engine.score_threshold
    low = min(s.low_threshold for s in SETTINGS.values())
    clips = {}
    if a.data:
        root = os.path.join(a.data, "davis2016-train")
        for seq in davis_val_sequences(root):
            d, m = os.path.join(root, "JPEGImages", seq), os.path.join(root, "Annotations", seq)
            names = sorted(os.listdir(d))
            clips[f"DAVIS {seq}"] = ([cv2.imread(os.path.join(d, f)) for f in names],
                                     [cv2.imread(os.path.join(m, f[:-4] + ".png"), cv2.IMREAD_GRAYSCALE) > 127
                                      for f in names])
    clips["sample.mp4"] = ([f.image for f in VideoReader(SAMPLE)], None)
    print(f"model: {engine.describe()}; shown threshold {show}, graph run at {low}")
    runs = {name: ([engine.run(f, low) for f in frames], truths) for name, (frames, truths) in clips.items()}
    for label, settings in SETTINGS.items():
        print(f"\ntracker: {label}")
        print(f"{'clip':<20} {'frames':>6} {'id switches/100':>16} {'duplicates/100':>15} {'J':>6}")
        total_sw, total_dup, total_n, seq_j = 0, 0, 0, []
        for name, (detections, truths) in runs.items():
            sw, dup, js = track(detections, settings, show, truths)
            n = len(detections)
            total_sw, total_dup, total_n = total_sw + sw, total_dup + dup, total_n + n
            j = f"{np.mean(js):6.3f}" if js else f"{'':>6}"
            if js:
                seq_j.append(np.mean(js))
            print(f"{name:<20} {n:>6} {100 * sw / n:>16.2f} {100 * dup / n:>15.2f} {j}")
        print(f"{'all':<20} {total_n:>6} {100 * total_sw / total_n:>16.2f} {100 * total_dup / total_n:>15.2f} "
              + (f"{np.mean(seq_j):6.3f}" if seq_j else ""))


if __name__ == "__main__":
    main()
