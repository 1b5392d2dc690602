"""Which shared data sets are used, which COCO objects count as salient, and the train/val split.

The split is deterministic and by group (a DAVIS video sequence, a COCO image, a balloon split),
never by frame, so validation frames come from sequences the model never saw:
- DAVIS 2016 train: sequences sorted by name, every fifth starting at the third (index % 5 == 2)
  is validation: boat, elephant, kite-walk, paragliding, stroller. The other 22 train.
- coco128-seg: images sorted by name, every eighth (index % 8 == 0) is validation.
- balloon: its own train / val folders.

DAVIS has one mask per frame, the union of the salient object(s) (a rider and a horse are one mask).
Its connected components are not reliable instances, so the whole union is one "salient region"
instance: the detector learns to box the salient region as a whole on DAVIS, and separate objects
from COCO and balloon.

COCO annotates every object. SALIENT RULE: an instance is salient when its mask covers at least
5% of the image and its box centre lies in the central 80% of the image in both axes; at most the
4 largest such instances per image. Other instances are "ignored": anchors overlapping them are
neither positives nor negatives, so the detector is not taught that a visible object is background.
"""
import os

import numpy as np

from . import formats

DAVIS_VAL_EVERY, DAVIS_VAL_OFFSET = 5, 2
COCO_VAL_EVERY = 8
SALIENT_MIN_AREA = 0.05
SALIENT_CENTRE = 0.8
SALIENT_MAX = 4


def coco_salient_rule(masks):
    n, h, w = masks.shape if len(masks) else (0, 1, 1)
    salient = np.zeros(n, bool)
    if n == 0:
        return salient
    areas = masks.reshape(n, -1).sum(1) / float(h * w)
    lo, hi = (1 - SALIENT_CENTRE) / 2, 1 - (1 - SALIENT_CENTRE) / 2
    for i in np.argsort(-areas):
        if areas[i] < SALIENT_MIN_AREA or salient.sum() >= SALIENT_MAX:
            break
        ys, xs = np.nonzero(masks[i])
        cx, cy = (xs.min() + xs.max()) / 2 / w, (ys.min() + ys.max()) / 2 / h
        salient[i] = lo <= cx <= hi and lo <= cy <= hi
    return salient


def davis_val_sequences(davis_root):
    """The DAVIS sequences held out for validation (every fifth by name)."""
    seqs = sorted(os.listdir(os.path.join(davis_root, "Annotations")))
    return [s for i, s in enumerate(seqs) if i % DAVIS_VAL_EVERY == DAVIS_VAL_OFFSET]


def shared_datasets(data_root):
    """All samples of ../shared/data, with a 'split' attribute set to 'train' or 'val'."""
    if not os.path.isdir(data_root):
        raise FileNotFoundError(f"data folder not found: {data_root}")
    samples = []
    davis_root = os.path.join(data_root, "davis2016-train")
    if os.path.isdir(davis_root):
        dav = formats.davis(davis_root)
        val = {f"davis/{seq}" for seq in davis_val_sequences(davis_root)}
        for s in dav:
            s.split = "val" if s.group in val else "train"
        samples += dav
    coco_root = os.path.join(data_root, "coco128-seg")
    if os.path.isdir(coco_root):
        coco = formats.yolo_seg(coco_root, coco_salient_rule)
        for i, s in enumerate(coco):
            s.split = "val" if i % COCO_VAL_EVERY == 0 else "train"
        samples += coco
    for split in ("train", "val"):
        d = os.path.join(data_root, "balloon", split)
        if os.path.isdir(d):
            bal = formats.via(d)
            for s in bal:
                s.split = split
            samples += bal
    if not samples:
        raise FileNotFoundError(f"no known data set under {data_root} (davis2016-train, coco128-seg, balloon)")
    return samples
