"""What each ground-truth object of a validation sample is: "person", "animal", "other" (a COCO
object of another class) or "unknown" (sources without classes: DAVIS, balloons, pseudo-labels).
The samples carry masks only, so each mask is matched (IoU > 0.8) to the source's own annotation.
The synthetic crowds are made of people only.

    kinds = ObjectKinds("../shared/data")
    kinds(sample, masks)   # -> ["person", "other", ...], one per mask
"""
import json
import os
from collections import defaultdict

import cv2
import numpy as np
from pycocotools import mask as mask_utils

from model.formats import COCO_PERSON, YOLO_PERSON

COCO_ANIMALS = set(range(16, 26))      # COCO category ids: bird .. giraffe
YOLO_ANIMALS = set(range(14, 24))      # the same classes in the 80-class YOLO index
MATCH = 0.8


def _kind(person, animal):
    return "person" if person else "animal" if animal else "other"


class ObjectKinds:
    def __init__(self, data_root):
        self.root = data_root
        self._coco = {}

    def _coco_source(self, name):
        if name not in self._coco:
            with open(os.path.join(self.root, name, "instances.json")) as f:
                data = json.load(f)
            by_image = defaultdict(list)
            for a in data["annotations"]:
                by_image[a["image_id"]].append(a)
            self._coco[name] = by_image
        return self._coco[name]

    def _coco_objects(self, name, image_id, h, w):
        masks, kinds = [], []
        for a in self._coco_source(name)[image_id]:
            seg = a["segmentation"]
            if isinstance(seg, list):
                rle = mask_utils.merge(mask_utils.frPyObjects(seg, h, w))
            elif isinstance(seg.get("counts"), list):
                rle = mask_utils.frPyObjects(seg, h, w)
            else:
                rle = seg
            masks.append(mask_utils.decode(rle).astype(bool))
            kinds.append(_kind(a["category_id"] == COCO_PERSON, a["category_id"] in COCO_ANIMALS))
        return masks, kinds

    @staticmethod
    def _yolo_objects(image_path, h, w):
        label = os.path.splitext(image_path.replace(f"{os.sep}images{os.sep}", f"{os.sep}labels{os.sep}"))[0] + ".txt"
        masks, kinds = [], []
        with open(label) as f:
            for line in f:
                v = line.split()
                points = (np.array(v[1:], float).reshape(-1, 2) * [w, h]).round().astype(np.int32)
                m = np.zeros((h, w), np.uint8)
                cv2.fillPoly(m, [points], 1)
                masks.append(m.astype(bool))
                kinds.append(_kind(int(v[0]) == YOLO_PERSON, int(v[0]) in YOLO_ANIMALS))
        return masks, kinds

    def __call__(self, sample, masks):
        source = sample.group.split("/")[0]
        h, w = masks.shape[1:]
        if source == "crowds":
            return ["person"] * len(masks)
        if source in ("coco-more", "coco-extra"):
            known, kinds = self._coco_objects(source, int(sample.group.split("/")[1]), h, w)
        elif source == "coco128-seg":
            known, kinds = self._yolo_objects(sample.image_path, h, w)
        else:
            return ["unknown"] * len(masks)
        out = []
        for m in masks:
            iou = [(m & k).sum() / max((m | k).sum(), 1) for k in known]
            best = int(np.argmax(iou)) if iou else -1
            out.append(kinds[best] if best >= 0 and iou[best] > MATCH else "unknown")
        return out
