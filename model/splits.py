"""Which shared data sets are used, which objects count as salient, and the train/val split.

The split is deterministic and by group (a DAVIS video sequence, an image), never by frame, so
validation frames come from sequences and images the model never saw:
- DAVIS 2016 train: sequences sorted by name, every fifth starting at the third (index % 5 == 2)
  is validation: boat, elephant, kite-walk, paragliding, stroller. The other 22 train.
- coco128-seg, coco-extra, ccp-person, human-seg, unlabelled: images sorted by name (coco-extra by
  id), every eighth (index % 8 == 0) is validation.
- balloon: its own train / val folders.
- coco-more: all validation (69 scenes, most with several touching objects: people in groups,
  animals, street scenes), by the same salient rule as COCO.
- crowds: 40 synthetic crowds, validation only, each a held-out ccp-person photo with 1-4 other
  held-out people pasted beside and over its person in depth order (model/crowds.py).

DAVIS has one mask per frame, the union of the salient object(s) (a rider and a horse are one mask).
Its connected components are not reliable instances, so the whole union is one "salient region".
People sets: one salient instance per image (human-seg's one region may hold two people).
Balloon: every balloon is salient.

COCO annotates every object. Which are salient, two rules:
- TEACHER RULE (used when teacher maps are given, see model/pseudo_label.py): an instance is
  salient when the teacher's saliency map (>= 0.5) covers at least half of its pixels and it is at
  least 0.5% of the image; background (dropped, so its anchors are negatives: "this object is not
  salient") when the map covers under 20% of it; ignored in between and when tiny. This is how
  ILSO itself was made: saliency from a saliency model, instances from the annotation.
  PERSON RULE, on top of it: a COCO person of at least 1% of the image is salient whatever the map
  says, and no person is background (a smaller one the teacher leaves out is ignored). The teacher
  separates one foreground from the rest and often keeps only the nearest person of a group; its
  "background" people taught the detector that the second of two people side by side is not
  salient, so it drew no box for them (docs/model.md).
- GEOMETRIC RULE (without teacher maps, the first model's): salient when the mask covers >= 5% of
  the image and its box centre lies in the central 80% of both axes, the 4 largest such at most;
  all other objects are ignored (neither positive nor negative anchors).
Unlabelled photos (teacher maps only): each connected region of the map >= 0.5 covering at least 1%
of the image is a salient pseudo-instance, smaller ones are ignored, and pixels where the teacher
is unsure (0.3 < map < 0.7) are left out of the mask loss.
"""
import os
import sys

import cv2
import numpy as np

from . import formats
from .crowds import synthetic_crowds
from .teacher_maps import map_path, read_map

DAVIS_VAL_EVERY, DAVIS_VAL_OFFSET = 5, 2
IMAGE_VAL_EVERY = 8
SALIENT_MIN_AREA = 0.05
SALIENT_CENTRE = 0.8
SALIENT_MAX = 4
TEACHER_SALIENT, TEACHER_BACKGROUND, TEACHER_MIN_AREA = 0.5, 0.2, 0.005
PERSON_SALIENT_AREA = 0.01
PSEUDO_MIN_AREA, PSEUDO_UNSURE = 0.01, (0.3, 0.7)
CROWDS, CROWD_SEED = 40, 0
SCENERY_EVERY = 3
SCENERY_CLASSES = {"alp", "cliff", "coral_reef", "geyser", "lakeside", "promontory", "sandbar", "seashore", "valley",
                   "volcano", "breakwater", "stone_wall", "worm_fence", "picket_fence", "maze"}


def geometric_rule(masks, image_path=None, people=None):
    """(keep, salient) by size and position (the first model's rule): nothing is dropped; what an
    object is plays no part."""
    n, h, w = masks.shape if len(masks) else (0, 1, 1)
    salient = np.zeros(n, bool)
    if n == 0:
        return np.ones(0, bool), salient
    areas = masks.reshape(n, -1).sum(1) / float(h * w)
    lo, hi = (1 - SALIENT_CENTRE) / 2, 1 - (1 - SALIENT_CENTRE) / 2
    for i in np.argsort(-areas):
        if areas[i] < SALIENT_MIN_AREA or salient.sum() >= SALIENT_MAX:
            break
        ys, xs = np.nonzero(masks[i])
        cx, cy = (xs.min() + xs.max()) / 2 / w, (ys.min() + ys.max()) / 2 / h
        salient[i] = lo <= cx <= hi and lo <= cy <= hi
    return np.ones(n, bool), salient


def teacher_rule_on_map(masks, saliency, people=None):
    """(keep, salient) from a saliency map (H, W) in 0..1, see the module docstring. people (n,)
    bool: which objects are people (the person rule); None: none are."""
    n = len(masks)
    if n == 0:
        return np.ones(0, bool), np.zeros(0, bool)
    h, w = masks.shape[1:]
    sal = saliency >= 0.5
    area = masks.reshape(n, -1).sum(1)
    covered = (masks & sal[None]).reshape(n, -1).sum(1) / np.maximum(area, 1)
    big = area >= TEACHER_MIN_AREA * h * w
    salient = big & (covered >= TEACHER_SALIENT)
    keep = ~(big & (covered < TEACHER_BACKGROUND))
    if people is not None:
        person = np.asarray(people, bool)
        salient |= person & (area >= PERSON_SALIENT_AREA * h * w)
        keep |= person
    return keep, salient


class TeacherRule:
    """The teacher rule for images of the shared data, reading the stored maps; images without a
    map fall back to the geometric rule (and are counted)."""

    def __init__(self, maps_dir, data_root, person_rule=True):
        self.maps_dir, self.data_root, self.person_rule = maps_dir, data_root, person_rule
        self.missing = 0

    def saliency(self, image_path):
        return read_map(self.maps_dir, os.path.relpath(image_path, self.data_root))

    def has_map(self, image_path):
        return os.path.exists(map_path(self.maps_dir, os.path.relpath(image_path, self.data_root)))

    def __call__(self, masks, image_path, people=None):
        sal = self.saliency(image_path)
        if sal is None or (len(masks) and sal.shape != masks.shape[1:]):
            if not self.missing:  # said once: a silent fallback measured coco-more by another rule
                print(f"warning: no teacher map for {image_path}: its objects (and those of any other image "
                      f"without one) follow the geometric rule; model.pseudo_label makes the maps", file=sys.stderr)
            self.missing += 1
            return geometric_rule(masks)
        return teacher_rule_on_map(masks, sal, people if self.person_rule else None)


def pseudo_instances(saliency):
    """Unlabelled image: (masks (n,H,W), salient (n,), unsure pixels (H,W)) from a teacher map."""
    h, w = saliency.shape
    n, labels, stats, _ = cv2.connectedComponentsWithStats((saliency >= 0.5).astype(np.uint8), connectivity=8)
    masks = [labels == i for i in range(1, n)]
    salient = np.array([stats[i, cv2.CC_STAT_AREA] >= PSEUDO_MIN_AREA * h * w for i in range(1, n)], bool)
    unsure = (saliency > PSEUDO_UNSURE[0]) & (saliency < PSEUDO_UNSURE[1])
    return (np.stack(masks) if masks else np.zeros((0, h, w), bool)), salient, unsure


def davis_val_sequences(davis_root):
    """The DAVIS sequences held out for validation (every fifth by name)."""
    seqs = sorted(os.listdir(os.path.join(davis_root, "Annotations")))
    return [s for i, s in enumerate(seqs) if i % DAVIS_VAL_EVERY == DAVIS_VAL_OFFSET]


def _split_every(samples, every=IMAGE_VAL_EVERY):
    for i, s in enumerate(samples):
        s.split = "val" if i % every == 0 else "train"
    return samples


def unlabelled_photos(data_root):
    """(path, split) of every unlabelled photo: the split is by position among all of them (every
    eighth is validation), so it does not move as teacher maps are made."""
    root = os.path.join(data_root, "unlabelled")
    index = -1
    for sub in sorted(os.listdir(root)):
        d = os.path.join(root, sub)
        for name in sorted(os.listdir(d)):
            if os.path.splitext(name)[1].lower() not in formats.IMAGE_EXTS:
                continue
            index += 1
            yield os.path.join(d, name), "val" if index % IMAGE_VAL_EVERY == 0 else "train"


def unlabelled(data_root, rule: TeacherRule):
    """Photos without masks, labelled by the teacher's maps (see unlabelled_photos for the split);
    photos without a map yet are left out."""
    samples = []
    for path, split in unlabelled_photos(data_root):
        sub, name = os.path.basename(os.path.dirname(path)), os.path.basename(path)
        if not rule.has_map(path):
            continue

        def load(h, w, path=path):
            sal = rule.saliency(path)
            if sal.shape != (h, w):
                raise formats.AnnotationError(path, "teacher map and image differ in size")
            masks, salient, _ = pseudo_instances(sal)
            return masks, salient

        def unsure(h, w, path=path):
            return pseudo_instances(rule.saliency(path))[2]
        s = formats.Sample(path, f"unlabelled/{sub}-{os.path.splitext(name)[0]}", load)
        s.load_unsure = unsure
        s.split = split
        samples.append(s)
    return samples


def scenery_crop(image, mask, rng, side=0.6, tries=12, max_share=0.01):
    """A square window of `side` of the image's short side holding under max_share of the mask's
    pixels (plain scenery: nothing salient in it), or None."""
    h, w = image.shape[:2]
    s = int(side * min(h, w))
    for _ in range(tries):
        x0, y0 = int(rng.integers(0, w - s + 1)), int(rng.integers(0, h - s + 1))
        if mask[y0:y0 + s, x0:x0 + s].mean() < max_share:
            return image[y0:y0 + s, x0:x0 + s]
    return None


def scenery(data_root, davis_train_sequences, every=SCENERY_EVERY):
    """Training images with nothing salient in them (negatives for the detector): windows of DAVIS
    training frames that miss the salient object (grass, water, trees, roads, walls), and the
    ImageNet sample's photos of plain scenery that are not held out."""
    samples = []
    davis_root = os.path.join(data_root, "davis2016-train")
    for seq in davis_train_sequences:
        names = sorted(os.listdir(os.path.join(davis_root, "Annotations", seq)))
        for k, name in enumerate(names[::every]):
            img = os.path.join(davis_root, "JPEGImages", seq, name[:-4] + ".jpg")
            ann = os.path.join(davis_root, "Annotations", seq, name)

            def make(img=img, ann=ann, seed=k + 1000 * len(samples)):
                image = formats.read_image(img)
                crop = scenery_crop(image, cv2.imread(ann, cv2.IMREAD_GRAYSCALE) > 127, np.random.default_rng(seed))
                if crop is None:
                    raise formats.AnnotationError(img, "no window without the salient object")
                return crop, np.zeros((0, *crop.shape[:2]), bool), np.zeros(0, bool)
            samples.append(formats.MadeSample(f"scenery/{seq}-{name[:-4]}", make))
    root = os.path.join(data_root, "unlabelled", "imagenet-sample")
    if os.path.isdir(root):
        for path, split in unlabelled_photos(data_root):
            name = os.path.basename(path)
            if os.path.dirname(path) == root and split == "train" and \
                    name.split("_", 1)[-1].rsplit(".", 1)[0] in SCENERY_CLASSES:

                def make(path=path):
                    image = formats.read_image(path)
                    return image, np.zeros((0, *image.shape[:2]), bool), np.zeros(0, bool)
                samples.append(formats.MadeSample(f"scenery/{os.path.splitext(name)[0]}", make))
    for s in samples:
        s.split = "train"
    return samples


def add_person_rule_flag(parser):
    """--no-person-rule, for every command that reads shared_datasets."""
    parser.add_argument("--no-person-rule", action="store_true",
                        help="COCO's people salient by the teacher alone (the labels of the models up to v11)")


def shared_datasets(data_root, teacher_maps=None, person_rule=True):
    """All samples of ../shared/data, each with a 'split' attribute ('train' or 'val').
    teacher_maps: folder of model.pseudo_label maps: COCO's salient instances by the teacher rule,
    and the unlabelled photos as pseudo-labelled data. person_rule: COCO's people follow the person
    rule (module docstring); False: the teacher alone decides, as for the models up to v11."""
    if not os.path.isdir(data_root):
        raise FileNotFoundError(f"data folder not found: {data_root}")
    if teacher_maps is not None and not os.path.isdir(teacher_maps):
        raise FileNotFoundError(f"teacher maps folder not found: {teacher_maps}")
    rule = TeacherRule(teacher_maps, data_root, person_rule) if teacher_maps else geometric_rule
    samples = []
    davis_root = os.path.join(data_root, "davis2016-train")
    if os.path.isdir(davis_root):
        dav = formats.davis(davis_root)
        val = {f"davis/{seq}" for seq in davis_val_sequences(davis_root)}
        for s in dav:
            s.split = "val" if s.group in val else "train"
        samples += dav
        samples += scenery(data_root, [seq for seq in sorted(os.listdir(os.path.join(davis_root, "Annotations")))
                                       if f"davis/{seq}" not in val])
    if os.path.isdir(os.path.join(data_root, "coco128-seg")):
        samples += _split_every(formats.yolo_seg(os.path.join(data_root, "coco128-seg"), rule))
    extra = os.path.join(data_root, "coco-extra", "instances.json")
    if os.path.isfile(extra):
        samples += _split_every(formats.coco_json(extra, os.path.join(data_root, "coco-extra", "images"), rule,
                                                  group_prefix="coco-extra"))
    for split in ("train", "val"):
        d = os.path.join(data_root, "balloon", split)
        if os.path.isdir(d):
            bal = formats.via(d)
            for s in bal:
                s.split = split
            samples += bal
    for name in ("ccp-person", "human-seg"):
        d = os.path.join(data_root, name)
        if os.path.isdir(d):
            samples += _split_every(formats.instance_pngs(os.path.join(d, "images"), os.path.join(d, "masks"),
                                                          group_prefix=name))
    more = os.path.join(data_root, "coco-more", "instances.json")
    if os.path.isfile(more):  # held out whole: scenes with several touching objects, for validation
        for s in formats.coco_json(more, os.path.join(data_root, "coco-more", "images"), rule, group_prefix="coco-more"):
            s.split = "val"
            samples.append(s)
    people_val = [s for s in samples if s.group.startswith("ccp-person/") and s.split == "val"]
    if people_val:  # crowds made only of held-out people
        for s in synthetic_crowds(people_val, CROWDS, seed=CROWD_SEED):
            s.split = "val"
            samples.append(s)
    if teacher_maps and os.path.isdir(os.path.join(data_root, "unlabelled")):
        samples += unlabelled(data_root, rule)
    if not samples:
        raise FileNotFoundError(f"no known data set under {data_root} (davis2016-train, coco128-seg, balloon, ...)")
    return samples
