"""Crowds made of real people: several people pasted side by side into a photo, overlapping in
depth order (each new one in front), so every instance keeps its correct visible mask. Used for
the validation split's synthetic crowds (made only from held-out people) and for training.

A person is (image (h, w, 3) uint8, mask (h, w) bool); a scene is (image, masks (n, H, W) bool,
salient (n,) bool). An instance left with under MIN_VISIBLE of its pasted area is not salient (it
is ignored by the evaluator and the detector, as COCO's occluded crowds are).
"""
import cv2
import numpy as np

from . import formats

MIN_VISIBLE = 0.3


def person_crop(image, mask):
    """The person's box cut out of its photo: (image crop, mask crop), or None when empty."""
    ys, xs = np.nonzero(mask)
    if not len(ys):
        return None
    y0, y1, x0, x1 = ys.min(), ys.max() + 1, xs.min(), xs.max() + 1
    return image[y0:y1, x0:x1], mask[y0:y1, x0:x1]


def paste_person(image, masks, salient, person, x0, y1, height):
    """The person scaled to `height` pixels, its feet at row y1 and its left side at column x0,
    pasted in front of everything (the part inside the frame)."""
    crop, cmask = person
    h, w = image.shape[:2]
    ph = max(int(round(height)), 2)
    pw = max(int(round(crop.shape[1] * ph / crop.shape[0])), 2)
    crop = cv2.resize(crop, (pw, ph), interpolation=cv2.INTER_AREA)
    cmask = cv2.resize(cmask.astype(np.uint8), (pw, ph), interpolation=cv2.INTER_NEAREST) > 0
    top = int(y1) - ph
    fy0, fx0 = max(top, 0), max(int(x0), 0)
    fy1, fx1 = min(top + ph, h), min(int(x0) + pw, w)
    if fy1 <= fy0 or fx1 <= fx0:
        return image, masks, salient
    m = np.zeros((h, w), bool)
    m[fy0:fy1, fx0:fx1] = cmask[fy0 - top:fy1 - top, fx0 - int(x0):fx1 - int(x0)]
    if not m.any():
        return image, masks, salient
    image = image.copy()
    image[m] = crop[fy0 - top:fy1 - top, fx0 - int(x0):fx1 - int(x0)][m[fy0:fy1, fx0:fx1]]
    masks = np.concatenate([masks & ~m[None], m[None]]) if len(masks) else m[None]
    return image, masks, np.concatenate([salient, [True]])


def crowd_scene(rng, image, masks, salient, people, scale=(0.75, 1.05)):
    """People pasted beside and over the photo's largest salient instance (its height sets their
    scale; without one, 0.6 of the frame's height), each new one overlapping the last by 10-50% of
    its width, alternately to the right and the left, feet within 5% of the frame's height."""
    h, w = image.shape[:2]
    areas = [m.sum() if s else 0 for m, s in zip(masks, salient)]
    if len(masks) and max(areas) > 0:
        ys, xs = np.nonzero(masks[int(np.argmax(areas))])
        ref_h, left, right, feet = ys.max() - ys.min() + 1, xs.min(), xs.max() + 1, ys.max() + 1
    else:
        ref_h = 0.6 * h
        left = right = int(rng.uniform(0.3, 0.7) * w)
        feet = int(rng.uniform(0.8, 1.0) * h)
    before = [m.sum() for m in masks]
    for k, person in enumerate(people):
        crop, _ = person
        ph = ref_h * rng.uniform(*scale)
        pw = crop.shape[1] * ph / crop.shape[0]
        overlap = rng.uniform(0.1, 0.5) * pw
        x0 = right - overlap if k % 2 == 0 else left - pw + overlap
        y1 = feet + rng.uniform(-0.05, 0.05) * h
        n = len(masks)
        image, masks, salient = paste_person(image, masks, salient, person, x0, y1, ph)
        if len(masks) > n:  # not when the person fell outside the frame
            before.append(masks[-1].sum())
        left, right = min(left, x0), max(right, x0 + pw)
    return _hidden_ones_not_salient(image, masks, salient, before)


def street_scene(rng, image, masks, salient, people, horizon=(0.3, 0.6), group=(1, 4)):
    """People pasted as on a street seen from eye height: in groups of 1-4 walking side by side
    (each overlapping the last by 0-50% of its width), the groups at different depths, so that
    the farther a group's feet lie up the frame, towards a horizon row, the smaller its people
    (from about a tenth of the frame's height to all of it); nearer people are pasted over
    farther ones. crowd_scene's crowds all stand at one depth, at the photo's own person's scale."""
    h, w = image.shape[:2]
    y_h = rng.uniform(*horizon) * h
    placed, k = [], 0
    while k < len(people):
        size = min(int(rng.integers(group[0], group[1] + 1)), len(people) - k)
        feet = rng.uniform(y_h + 0.15 * (h - y_h), 1.05 * h)
        height = (feet - y_h) * rng.uniform(1.0, 1.8)
        x0 = rng.uniform(-0.1, 0.9) * w
        for crop, cmask in people[k:k + size]:
            ph = height * rng.uniform(0.9, 1.1)
            placed.append((feet + rng.uniform(-0.02, 0.02) * h, x0, ph, (crop, cmask)))
            x0 += crop.shape[1] * ph / crop.shape[0] * rng.uniform(0.5, 1.0)
        k += size
    before = [m.sum() for m in masks]
    for feet, x0, ph, person in sorted(placed, key=lambda p: p[0]):  # far first, near in front
        n = len(masks)
        image, masks, salient = paste_person(image, masks, salient, person, x0, feet, ph)
        if len(masks) > n:
            before.append(masks[-1].sum())
    return _hidden_ones_not_salient(image, masks, salient, before)


def _hidden_ones_not_salient(image, masks, salient, before):
    """An instance left with under MIN_VISIBLE of its area before it was covered is not salient;
    one covered whole is dropped."""
    if not len(masks):
        return image, masks, salient
    visible = np.array([m.sum() for m in masks], float) >= MIN_VISIBLE * np.maximum(before[:len(masks)], 1)
    salient = np.where(visible, salient, np.zeros_like(salient))  # keeps the caller's labels' type
    keep = np.array([m.any() for m in masks], bool)
    return image, masks[keep], salient[keep]


def synthetic_crowds(people_samples, count, seed=0, extra=(1, 4)):
    """`count` crowds, each a photo of people_samples (its person the first instance) with 1-4
    other people of people_samples pasted in. Only the given samples are used: pass held-out ones."""
    rng = np.random.default_rng(seed)
    plans = []
    for k in range(count):
        base = int(rng.integers(len(people_samples)))
        others = [int(i) for i in rng.choice(len(people_samples), int(rng.integers(extra[0], extra[1] + 1)),
                                             replace=False) if i != base]
        plans.append((k, base, others, int(rng.integers(1 << 30))))

    def make(base, others, scene_seed):
        image, masks, salient = people_samples[base].load()
        people = []
        for i in others:
            img, m, s = people_samples[i].load()
            crop = person_crop(img, m[np.asarray(s, bool)].any(0)) if len(m) else None
            if crop is not None:
                people.append(crop)
        return crowd_scene(np.random.default_rng(scene_seed), image, masks, salient, people)
    return [formats.MadeSample(f"crowds/{k:03d}", lambda b=b, o=o, s=s: make(b, o, s)) for k, b, o, s in plans]
