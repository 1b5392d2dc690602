"""Mask files: a 16-bit PNG per frame whose pixels are instance ids (0 = background, ids stable
across frames), and one JSON per run with boxes, scores, ids and COCO RLE masks (pycocotools)."""
import json
import os

import cv2
import numpy as np
from pycocotools import mask as mask_utils

from .drawing import id_mask


def rle(full_mask):
    r = mask_utils.encode(np.asfortranarray(full_mask.astype(np.uint8)))
    return {"size": [int(v) for v in r["size"]], "counts": r["counts"].decode("ascii")}


def frame_record(index, insts, frame_size):
    return {"frame": index, "instances": [
        {"id": i.id, "score": round(i.score, 4), "box": [round(float(v), 1) for v in i.box],
         "rle": rle(i.full_mask(frame_size))} for i in insts]}


def write_png_atomic(path, image):
    tmp = path + ".partial.png"
    if not cv2.imwrite(tmp, image):
        raise OSError(f"cannot write {path}")
    os.replace(tmp, path)


def write_json_atomic(path, data):
    tmp = path + ".partial"
    with open(tmp, "w") as f:
        json.dump(data, f)
    os.replace(tmp, path)


class MaskWriter:
    """Per-frame id PNGs into a folder, and <folder>/masks.json at the end (also after Ctrl-C)."""

    def __init__(self, folder, source):
        os.makedirs(folder, exist_ok=True)
        if not os.access(folder, os.W_OK):
            raise OSError(f"mask folder is not writable: {folder}")
        self.folder = folder
        self.data = {"source": source, "mask_png": "uint16, pixel = instance id, 0 = background",
                     "rle": "COCO RLE (pycocotools), full frame", "frames": []}

    def add(self, index, insts, frame_size, name=None):
        write_png_atomic(os.path.join(self.folder, name or f"frame_{index:06d}.png"), id_mask(insts, frame_size))
        rec = frame_record(index, insts, frame_size)
        if name:
            rec["image"] = name
        self.data["frames"].append(rec)

    def finish(self):
        path = os.path.join(self.folder, "masks.json")
        write_json_atomic(path, self.data)
        return path
