"""Readers for every annotation format the project meets, all giving the same thing:

    Sample(image_path, group, instances)   where instances() -> (masks, salient)
    masks: (n, H, W) bool, one per instance; salient: (n,) bool (False = an object that is not
    salient: neither a positive nor a negative for the detector).

Formats: DAVIS (one binary PNG per frame), YOLO-seg polygon text (coco128-seg), VIA polygon JSON
(balloon), COCO-style JSON (polygons or RLE), and a folder of per-instance PNGs (pixel value =
instance id, 0 = background). A broken annotation raises AnnotationError naming the file.
"""
import json
import os
from dataclasses import dataclass
from typing import Callable

import cv2
import numpy as np

IMAGE_EXTS = (".jpg", ".jpeg", ".png", ".bmp")


class AnnotationError(ValueError):
    def __init__(self, path, problem):
        super().__init__(f"{path}: {problem}")
        self.path = path


@dataclass
class Sample:
    image_path: str
    group: str                      # video sequence or data set: the unit of the train/val split
    load_instances: Callable        # (height, width) -> (masks (n,H,W) bool, salient (n,) bool)
    union_mask: bool = False        # True when the one mask is the union of the salient instances
    load_unsure: Callable = None    # (height, width) -> (H,W) bool pixels left out of the mask loss, or None

    def load(self):
        image = read_image(self.image_path)
        masks, salient = self.load_instances(*image.shape[:2])
        return image, masks, salient


class MadeSample(Sample):
    """A sample made when loaded (a synthetic crowd, a crop of scenery): make() -> (image, masks,
    salient). Its group names it."""

    def __init__(self, group, make):
        super().__init__(group, group, None)
        self.make = make

    def load(self):
        return self.make()


def read_image(path):
    image = cv2.imread(path, cv2.IMREAD_COLOR)
    if image is None:
        raise AnnotationError(path, "not a readable image")
    return image


def _read_mask_png(path, shape):
    m = cv2.imread(path, cv2.IMREAD_UNCHANGED)
    if m is None:
        raise AnnotationError(path, "not a readable PNG mask")
    if m.ndim == 3:
        m = m[..., 0]
    if m.shape[:2] != tuple(shape):
        raise AnnotationError(path, f"mask is {m.shape[1]}x{m.shape[0]}, image is {shape[1]}x{shape[0]}")
    return m


def _polygon_mask(points, shape):
    m = np.zeros(shape, np.uint8)
    cv2.fillPoly(m, [np.round(points).astype(np.int32).reshape(-1, 1, 2)], 1)
    return m.astype(bool)


def _stack(masks, shape):
    return np.stack(masks) if masks else np.zeros((0, *shape), bool)


# -- DAVIS ----------------------------------------------------------------------------------------
def davis(root):
    """DAVIS 2016: JPEGImages/<seq>/<frame>.jpg, Annotations/<seq>/<frame>.png (0/255).
    The one foreground mask is used as a single salient instance (see model/splits.py)."""
    samples = []
    img_root, ann_root = os.path.join(root, "JPEGImages"), os.path.join(root, "Annotations")
    for seq in sorted(os.listdir(ann_root)):
        for name in sorted(os.listdir(os.path.join(ann_root, seq))):
            if not name.endswith(".png"):
                continue
            ann = os.path.join(ann_root, seq, name)
            img = os.path.join(img_root, seq, name[:-4] + ".jpg")

            def load(h, w, ann=ann):
                m = _read_mask_png(ann, (h, w)) > 127
                return (m[None], np.ones(1, bool)) if m.any() else (np.zeros((0, h, w), bool), np.zeros(0, bool))
            samples.append(Sample(img, f"davis/{seq}", load, union_mask=True))
    return samples


# -- YOLO-seg polygons (coco128-seg) ---------------------------------------------------------------
YOLO_PERSON, COCO_PERSON = 0, 1  # the class "person" in the 80-class YOLO index and in COCO's ids


def parse_yolo_seg(path, h, w):
    """(polygons in pixels, (n,) class indices)."""
    polys, classes = [], []
    with open(path) as f:
        for lineno, line in enumerate(f, 1):
            vals = line.split()
            if not vals:
                continue
            try:
                nums = [float(v) for v in vals[1:]]
                int(vals[0])
            except ValueError:
                raise AnnotationError(path, f"line {lineno}: not numbers") from None
            if len(nums) < 6 or len(nums) % 2:
                raise AnnotationError(path, f"line {lineno}: a polygon needs an even count of >= 6 coordinates")
            pts = np.array(nums, np.float32).reshape(-1, 2)
            if pts.min() < -0.01 or pts.max() > 1.01:
                raise AnnotationError(path, f"line {lineno}: coordinates must be normalised to 0..1")
            polys.append(pts * [w, h])
            classes.append(int(vals[0]))
    return polys, np.array(classes, np.int64)


def yolo_seg(root, salient_rule):
    """images/<split>/*.jpg with labels/<split>/*.txt: `class x1 y1 x2 y2 ...` normalised."""
    samples = []
    for split in sorted(os.listdir(os.path.join(root, "images"))):
        img_dir = os.path.join(root, "images", split)
        for name in sorted(os.listdir(img_dir)):
            stem, ext = os.path.splitext(name)
            if ext.lower() not in IMAGE_EXTS:
                continue
            label = os.path.join(root, "labels", split, stem + ".txt")

            def load(h, w, label=label, img_path=os.path.join(img_dir, name)):
                polys, classes = parse_yolo_seg(label, h, w) if os.path.exists(label) else ([], np.zeros(0))
                masks = _stack([_polygon_mask(p, (h, w)) for p in polys], (h, w))
                keep, salient = salient_rule(masks, img_path, people=classes == YOLO_PERSON)
                return masks[keep], salient[keep]
            samples.append(Sample(os.path.join(img_dir, name), f"{os.path.basename(root)}/{stem}", load))
    return samples


# -- VIA polygon JSON (balloon) --------------------------------------------------------------------
def via(split_dir):
    path = os.path.join(split_dir, "via_region_data.json")
    try:
        with open(path) as f:
            data = json.load(f)
    except (OSError, json.JSONDecodeError) as e:
        raise AnnotationError(path, f"cannot read VIA JSON ({e})") from None
    samples = []
    for key, entry in sorted(data.items()):
        try:
            name, regions = entry["filename"], entry["regions"]
            regions = list(regions.values()) if isinstance(regions, dict) else list(regions)
            polys = [np.stack([r["shape_attributes"]["all_points_x"], r["shape_attributes"]["all_points_y"]], 1)
                     for r in regions]
        except (KeyError, TypeError, ValueError) as e:
            raise AnnotationError(path, f"entry {key!r} is not a VIA polygon record ({e})") from None

        def load(h, w, polys=polys):
            masks = _stack([_polygon_mask(p, (h, w)) for p in polys], (h, w))
            return masks, np.ones(len(masks), bool)
        samples.append(Sample(os.path.join(split_dir, name), f"{os.path.basename(os.path.dirname(split_dir))}", load))
    return samples


# -- COCO-style JSON -------------------------------------------------------------------------------
def coco_json(json_path, image_dir, salient_rule=None, group_prefix="coco"):
    """COCO instances JSON, polygons or RLE (compressed or not). Without a salient rule every
    annotation is salient (salient-instance benchmarks annotate only salient objects); with one,
    rule(masks, image_path, people=(n,) bool) -> (keep, salient) decides (COCO itself annotates
    every object).
    `iscrowd` regions are never salient: they are ignored."""
    from pycocotools import mask as mask_utils
    try:
        with open(json_path) as f:
            data = json.load(f)
        images = {im["id"]: im for im in data["images"]}
        anns = {}
        for a in data["annotations"]:
            anns.setdefault(a["image_id"], []).append(a)
    except (OSError, json.JSONDecodeError, KeyError, TypeError) as e:
        raise AnnotationError(json_path, f"not a COCO instances JSON ({e})") from None
    samples = []
    for image_id, im in sorted(images.items()):
        def load(h, w, im=im, items=anns.get(image_id, [])):
            masks = []
            for a in items:
                seg = a.get("segmentation")
                try:
                    if isinstance(seg, list):
                        rle = mask_utils.merge(mask_utils.frPyObjects(seg, h, w))
                    elif isinstance(seg, dict) and isinstance(seg.get("counts"), list):
                        rle = mask_utils.frPyObjects(seg, h, w)
                    else:
                        rle = seg
                    masks.append(mask_utils.decode(rle).astype(bool))
                except Exception as e:
                    raise AnnotationError(json_path, f"annotation {a.get('id')}: bad segmentation ({e})") from None
            masks = _stack(masks, (h, w))
            crowd = np.array([bool(a.get("iscrowd")) for a in items], bool)
            if salient_rule is None:
                return masks, ~crowd
            people = np.array([a.get("category_id") == COCO_PERSON for a in items], bool)
            keep, salient = salient_rule(masks, os.path.join(image_dir, im["file_name"]), people=people)
            salient = salient & ~crowd
            return masks[keep], salient[keep]
        samples.append(Sample(os.path.join(image_dir, im["file_name"]), f"{group_prefix}/{image_id}", load))
    return samples


# -- a folder of per-instance PNGs -----------------------------------------------------------------
def instance_pngs(image_dir, mask_dir, group_prefix=None):
    """<image_dir>/<name>.jpg|png with <mask_dir>/<name>.png, pixel value = instance id (0 = bg).
    A binary 0/255 mask is one instance."""
    samples = []
    for name in sorted(os.listdir(image_dir)):
        stem, ext = os.path.splitext(name)
        if ext.lower() not in IMAGE_EXTS:
            continue
        ann = os.path.join(mask_dir, stem + ".png")
        if not os.path.exists(ann):
            raise AnnotationError(ann, f"missing instance mask for {name}")

        def load(h, w, ann=ann):
            m = _read_mask_png(ann, (h, w))
            ids = [i for i in np.unique(m) if i != 0]
            masks = _stack([m == i for i in ids], (h, w))
            return masks, np.ones(len(masks), bool)
        samples.append(Sample(os.path.join(image_dir, name), f"{group_prefix or os.path.basename(mask_dir)}/{stem}",
                              load))
    return samples
