"""Screenshot files: the composited picture, the raw frame, a binary mask PNG and an RGBA cut-out
per instance, and a JSON with boxes, scores and ids. Timestamped names, never overwritten."""
import json
import os
import time

import cv2
import numpy as np

from .mask_files import write_json_atomic, write_png_atomic


def default_folder():
    pictures = os.path.join(os.path.expanduser("~"), "Pictures")
    return os.path.join(pictures if os.path.isdir(pictures) else os.path.expanduser("~"), "s4net")


def unique_stem(folder):
    stem = time.strftime("s4net_%Y%m%d_%H%M%S")
    candidate, n = stem, 1
    while any(f.startswith(candidate + "_") for f in os.listdir(folder)):
        n += 1
        candidate = f"{stem}-{n}"
    return candidate


def save_screenshot(folder, result):
    """Writes every file of one screenshot; returns the list of paths."""
    os.makedirs(folder, exist_ok=True)
    stem = unique_stem(folder)
    frame_size = result.frame.shape[:2]
    paths = []

    def put(name, image):
        path = os.path.join(folder, f"{stem}_{name}.png")
        write_png_atomic(path, image)
        paths.append(path)

    put("overlay", result.overlay)
    put("frame", result.frame)
    records = []
    for inst in result.instances:
        full = inst.full_mask(frame_size)
        put(f"mask_id{inst.id}", full.astype(np.uint8) * 255)
        x1, y1, x2, y2 = inst.x0, inst.y0, inst.x0 + inst.mask.shape[1], inst.y0 + inst.mask.shape[0]
        cut = cv2.cvtColor(result.frame[y1:y2, x1:x2], cv2.COLOR_BGR2BGRA)
        cut[..., 3] = inst.mask.astype(np.uint8) * 255
        put(f"cutout_id{inst.id}", cut)
        records.append({"id": inst.id, "score": round(inst.score, 4), "box": [round(float(v), 1) for v in inst.box],
                        "mask": f"{stem}_mask_id{inst.id}.png", "cutout": f"{stem}_cutout_id{inst.id}.png",
                        "cutout_origin": [x1, y1]})
    path = os.path.join(folder, f"{stem}_instances.json")
    write_json_atomic(path, {"frame_size": list(frame_size), "instances": records})
    paths.append(path)
    return paths
