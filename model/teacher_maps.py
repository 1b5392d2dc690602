"""Where a teacher's saliency maps are stored (one 8-bit PNG per image, mirroring the data's
folders) and how they are read back; written by model/pseudo_label.py, read by model/splits.py."""
import os

import cv2
import numpy as np


def map_path(out_dir, rel_image_path):
    return os.path.join(out_dir, os.path.splitext(rel_image_path)[0] + ".png")


def read_map(out_dir, rel_image_path):
    """The stored map as float32 0..1, or None when there is none."""
    path = map_path(out_dir, rel_image_path)
    m = cv2.imread(path, cv2.IMREAD_GRAYSCALE) if os.path.exists(path) else None
    return None if m is None else m.astype(np.float32) / 255.0
