"""Screenshot files of one Result: the composited picture, the raw frame, a binary mask PNG and an
RGBA cut-out per instance, and a JSON with boxes, scores and ids. Timestamped names, never
overwritten."""
import os
import time

from .mask_files import make_folder, write_image_atomic, write_json_atomic
from .results import Result


def default_folder():
    pictures = os.path.join(os.path.expanduser("~"), "Pictures")
    return os.path.join(pictures if os.path.isdir(pictures) else os.path.expanduser("~"), "s4net")


def unique_stem(folder, prefix="s4net"):
    stem = time.strftime(f"{prefix}_%Y%m%d_%H%M%S")
    candidate, n = stem, 1
    while any(f.startswith(candidate + "_") or f.startswith(candidate + ".") for f in os.listdir(folder)):
        n += 1
        candidate = f"{stem}-{n}"
    return candidate


def save_screenshot(folder, result: Result, picture=None):
    """Writes every file of one screenshot (picture: what was on screen; None: the plain frame);
    returns the list of paths (OutputError on failure)."""
    make_folder(folder, "screenshot folder")
    stem = unique_stem(folder)
    paths = []

    def put(name, image):
        path = os.path.join(folder, f"{stem}_{name}.png")
        write_image_atomic(path, image)
        paths.append(path)

    put("overlay", picture if picture is not None else result.frame)
    put("frame", result.frame)
    records = []
    for inst, cut in result.cutouts():
        put(f"mask_id{inst.id}", inst.full_mask(result.frame_size).astype("uint8") * 255)
        put(f"cutout_id{inst.id}", cut)
        rec = inst.record(result.frame_size)
        rec.update(mask=f"{stem}_mask_id{inst.id}.png", cutout=f"{stem}_cutout_id{inst.id}.png",
                   cutout_origin=[inst.x0, inst.y0])
        records.append(rec)
    path = os.path.join(folder, f"{stem}_instances.json")
    write_json_atomic(path, {"frame_size": list(result.frame_size), "instances": records})
    paths.append(path)
    return paths
