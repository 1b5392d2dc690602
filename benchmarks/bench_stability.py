"""Instances on a still scene: does anything blink? A webcam pointed at a scene where nothing moves,
made from photos of the shared data (none of them from the DAVIS validation sequences): each photo
repeated for 60 frames with fresh sensor noise (sigma 4) and a shake of up to +-0.5 px a frame,
encoded with x264 and decoded again, as a camera's stream would be.

    python -m benchmarks.bench_stability --data ../shared/data [--frames 60] [--clips 8]

Printed per 100 frame-to-frame steps, for the plain tracker (every detection at the shown threshold,
shown at once, hidden when missed) and the default one (two thresholds, confirmation, persistence,
merged parts), on the same detections in one run:
- count changes: steps where the number of shown instances changes;
- id changes: steps where the set of shown ids changes;
- flicker: 1 - IoU of the shown foreground (every instance's full-resolution mask, as the app
  paints it) between consecutive frames, averaged over the steps (0 is perfectly steady).
"""
import argparse
import os
import tempfile

import cv2
import numpy as np

from app.engine import Engine
from app.tracking import PLAIN, Tracker, TrackerSettings
from app.sources import VideoReader
from app.video_io import VideoWriter

# photos a webcam could see, from sets the model is not validated on by DAVIS sequence: a swan, people
# in a street, a portrait, full-body people, animals and objects
PHOTOS = [
    "unlabelled/imagenet-sample/n01860187_black_swan.jpg",
    "unlabelled/imagenet-sample/n02085620_Chihuahua.jpg",
    "unlabelled/caltech101/Faces_image_0001.jpg",
    "human-seg/images/1.jpg",
    "ccp-person/images/0001.jpg",
    "coco128-seg/images/train2017/000000000036.jpg",
    "coco-more/images/000000515289.jpg",
    "balloon/val/14898532020_ba6199dd22_k.jpg",
]
# a second set, looked at only after the tracker's settings were chosen on the first (two crowds of
# 7-14 people among them; the swan again, with other noise); run it with --set 2 --seed 1
PHOTOS_2 = [
    "unlabelled/imagenet-sample/n01860187_black_swan.jpg",
    "unlabelled/imagenet-sample/n02165105_tiger_beetle.jpg",
    "unlabelled/imagenet-sample/n03042490_cliff_dwelling.jpg",
    "unlabelled/imagenet-sample/n03887697_paper_towel.jpg",
    "human-seg/images/10.jpg",
    "ccp-person/images/0100.jpg",
    "coco-more/images/000000184613.jpg",
    "coco128-seg/images/train2017/000000000049.jpg",
]
SETTINGS = {"plain (one threshold, no confirmation)": PLAIN, "default": TrackerSettings()}


def still_clip(photo, out_path, frames, rng, noise=4.0, shake=0.5):
    """The photo as a still-camera clip (even size, long side <= 640), x264-encoded."""
    image = cv2.imread(photo, cv2.IMREAD_COLOR)
    if image is None:
        raise FileNotFoundError(f"not a readable image: {photo}")
    scale = min(1.0, 640 / max(image.shape[:2]))
    w, h = (int(image.shape[1] * scale) // 2 * 2, int(image.shape[0] * scale) // 2 * 2)
    image = cv2.resize(image, (w, h), interpolation=cv2.INTER_AREA).astype(np.float32)
    writer = VideoWriter(out_path, w, h, 25)
    try:
        for _ in range(frames):
            dx, dy = rng.uniform(-shake, shake, 2)
            moved = cv2.warpAffine(image, np.float32([[1, 0, dx], [0, 1, dy]]), (w, h),
                                   flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT)
            noisy = moved + rng.normal(0, noise, moved.shape).astype(np.float32)
            writer.write(np.clip(noisy + 0.5, 0, 255).astype(np.uint8))
        writer.finish()
    except BaseException:
        writer.discard()
        raise
    return out_path


def foreground(result):
    fg = np.zeros(result.frame_size, bool)
    for inst in result.instances():
        h, w = inst.mask.shape
        fg[inst.y0:inst.y0 + h, inst.x0:inst.x0 + w] |= inst.mask
    return fg


def stability(detections, settings, show_threshold):
    """(count changes, id changes, flicker values) of one clip's detections under one setting."""
    tracker = Tracker(settings)
    counts, ids, flicker = 0, 0, []
    prev = None
    for det in detections:
        shown = tracker.shown(det, show_threshold)
        now = (len(shown), frozenset(shown.track_ids().tolist()), foreground(shown))
        if prev is not None:
            counts += now[0] != prev[0]
            ids += now[1] != prev[1]
            union = (now[2] | prev[2]).sum()
            flicker.append(0.0 if union == 0 else 1 - (now[2] & prev[2]).sum() / union)
        prev = now
    return counts, ids, flicker


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data", required=True, help="../shared/data")
    p.add_argument("--model", default=None)
    p.add_argument("--frames", type=int, default=60)
    p.add_argument("--clips", type=int, default=len(PHOTOS))
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--set", type=int, choices=[1, 2], default=1, help="which set of 8 photos")
    a = p.parse_args(argv)
    engine = Engine(a.model, "cpu", log=lambda msg: None)
    show = engine.score_threshold
    low = min(s.low_threshold for s in SETTINGS.values())
    rng = np.random.default_rng(a.seed)
    print(f"model: {engine.describe()}; shown threshold {show}, graph run at {low}")
    totals = {name: [0, 0, [], 0] for name in SETTINGS}
    photos = (PHOTOS if a.set == 1 else PHOTOS_2)[:a.clips]
    with tempfile.TemporaryDirectory() as tmp:
        for photo in photos:
            clip = still_clip(os.path.join(a.data, photo), os.path.join(tmp, "still.mp4"), a.frames, rng)
            detections = [engine.run(f.image, low) for f in VideoReader(clip)]
            line = f"{os.path.basename(photo)[:28]:<28}"
            for name, settings in SETTINGS.items():
                counts, ids, flicker = stability(detections, settings, show)
                steps = len(flicker)
                t = totals[name]
                t[0], t[1], t[2], t[3] = t[0] + counts, t[1] + ids, t[2] + flicker, t[3] + steps
                line += f" | {name.split()[0]:>7}: count {100 * counts / steps:5.1f} ids {100 * ids / steps:5.1f} " \
                        f"flicker {np.mean(flicker):.3f}"
            print(line)
    print(f"\nper 100 frame steps, {len(photos)} still clips of {a.frames} frames:")
    print(f"{'tracker':<40} {'count changes':>14} {'id changes':>11} {'flicker':>8}")
    for name, (counts, ids, flicker, steps) in totals.items():
        print(f"{name:<40} {100 * counts / steps:>14.2f} {100 * ids / steps:>11.2f} {np.mean(flicker):>8.4f}")


if __name__ == "__main__":
    main()
