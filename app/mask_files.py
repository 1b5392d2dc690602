"""Files written from Results: a 16-bit PNG per frame whose pixels are instance ids (0 = background,
ids stable across frames), one JSON per run with boxes, scores, ids and COCO RLE masks, and the
atomic writers every output uses (temporary file, then rename: nothing is ever half-written)."""
import json
import os

import cv2

from .results import Result
from .errors import OutputError, disk_error
from .video_io import partial_path, write_target

IMAGE_WRITE_EXTS = (".png", ".jpg", ".jpeg", ".bmp", ".webp", ".tif", ".tiff")


def _replace_atomic(path, write):
    target = write_target(path)
    tmp = partial_path(target)
    try:
        write(tmp)
        os.replace(tmp, target)
    except OSError as e:
        if os.path.exists(tmp):
            os.remove(tmp)
        raise OutputError(f"cannot write {path}: {disk_error(e)}") from None


def write_image_atomic(path, image):
    """Encodes in the format of the file's extension (a .jpg holds JPEG bytes)."""
    ext = os.path.splitext(path)[1].lower()
    if ext not in IMAGE_WRITE_EXTS:
        raise OutputError(f"cannot write {ext or 'a file without extension'} images: use {', '.join(IMAGE_WRITE_EXTS)}")
    ok, data = cv2.imencode(ext, image)
    if not ok:
        raise OutputError(f"cannot encode {path} as {ext}")

    def write(tmp):
        with open(tmp, "wb") as f:
            f.write(data.tobytes())
    _replace_atomic(path, write)


def write_json_atomic(path, data):
    def write(tmp):
        with open(tmp, "w") as f:
            json.dump(data, f)
    _replace_atomic(path, write)


def make_folder(folder, what):
    if os.path.exists(folder) and not os.path.isdir(folder):
        raise OutputError(f"{what} {folder} is a file, not a folder")
    try:
        os.makedirs(folder, exist_ok=True)
    except OSError as e:
        raise OutputError(f"cannot create {what} {folder}: {e.strerror or disk_error(e)}") from None
    if not os.access(folder, os.W_OK):
        raise OutputError(f"{what} {folder} is not writable")


class MaskWriter:
    """Per-frame id PNGs into a folder, and <folder>/masks.json at the end (also after Ctrl-C)."""

    def __init__(self, folder, source):
        make_folder(folder, "mask folder")
        self.folder = folder
        self.data = {"source": source, "mask_png": "uint16, pixel = instance id, 0 = background",
                     "rle": "COCO RLE (pycocotools), full frame", "frames": []}
        self.written = []  # this run's files, removed if the run fails (discard)

    def add(self, result: Result, name=None):
        path = os.path.join(self.folder, name or f"frame_{result.index:06d}.png")
        write_image_atomic(path, result.id_mask())
        self.written.append(path)
        rec = {"frame": result.index, "instances": result.records()}
        if result.time is not None:
            rec["time"] = round(result.time, 6)
        if name:
            rec["image"] = name
        self.data["frames"].append(rec)

    def finish(self):
        path = os.path.join(self.folder, "masks.json")
        write_json_atomic(path, self.data)
        return path

    def discard(self):
        """Remove what this run wrote (a failed run leaves no masks without their masks.json)."""
        for path in self.written:
            try:
                os.remove(path)
            except OSError:
                pass
        self.written = []
