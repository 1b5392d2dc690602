"""Saliency maps from a teacher network (IS-Net, U2-Net), written as 8-bit PNGs for training labels.

    python -m model.pseudo_label --teacher isnet_fp16.onnx --preset isnet --data ../shared/data --out teacher_maps/isnet
    python -m model.pseudo_label --teacher u2net.onnx --preset u2net --folder photos/ --out maps/

A teacher is a labelling tool: it never ships in assets/ and app/ never imports this module.
Maps mirror the input layout (`<out>/<path relative to the data root>.png`, 0..255 = saliency
0..1, at the image's own size). A map that already exists is reused, so a stopped run resumes
where it stopped; `teacher.json` in the out folder records which teacher made the maps, and a
run with another teacher file into the same folder is refused. With `--data`, the DAVIS
validation frames are always labelled first and the teacher's J on them is printed.
"""
import argparse
import hashlib
import json
import os
import sys

import cv2
import numpy as np
from tqdm import tqdm

from .formats import IMAGE_EXTS
from .splits import davis_val_sequences, unlabelled_photos
from .teacher_maps import map_path, read_map

# input side, normalisation (x in 0..1 RGB: (x - mean) / std), output index, min-max normalise
PRESETS = {
    "isnet": dict(size=1024, mean=(0.5, 0.5, 0.5), std=(1.0, 1.0, 1.0), output=0, minmax=False),
    "u2net": dict(size=320, mean=(0.485, 0.456, 0.406), std=(0.229, 0.224, 0.225), output=0, minmax=True),
}
# What --data labels, in this order. DAVIS validation first: it gives the teacher's J.
DATA_SOURCES = {
    "davis-val": None,  # filled from model.splits (the validation sequences)
    "coco128": "coco128-seg/images",
    "coco-extra": "coco-extra/images",
    # validation only, but its salient objects follow the same teacher rule as the other COCO sets
    "coco-more": "coco-more/images",
    # the unlabelled photos of the validation split (model.splits) before the rest, so a stopped run
    # leaves the validation split whole
    "unlabelled-val": None,
    "unlabelled": "unlabelled",
}


class TeacherError(RuntimeError):
    pass


class Teacher:
    """One ONNX saliency network: image BGR (H, W, 3) uint8 -> saliency (H, W) float32 in 0..1."""

    def __init__(self, path, preset, threads=0):
        import onnxruntime as ort
        if not os.path.isfile(path):
            raise TeacherError(f"teacher file not found: {path}")
        opts = ort.SessionOptions()
        opts.log_severity_level = 3
        if threads:
            opts.intra_op_num_threads = threads
        try:
            self.session = ort.InferenceSession(path, opts, providers=["CPUExecutionProvider"])
        except Exception as e:
            first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
            raise TeacherError(f"{path} is not a usable ONNX teacher ({first})") from None
        inputs = self.session.get_inputs()
        if len(inputs) != 1 or len(inputs[0].shape) != 4:
            raise TeacherError(f"{path}: expected one 1x3xHxW image input, found {[i.name for i in inputs]}")
        self.p = PRESETS[preset]
        self.input_name = inputs[0].name

    def __call__(self, image):
        p, (h, w) = self.p, image.shape[:2]
        x = cv2.resize(image, (p["size"], p["size"]), interpolation=cv2.INTER_LINEAR)
        x = (x[..., ::-1].astype(np.float32) / 255.0 - p["mean"]) / p["std"]
        out = self.session.run(None, {self.input_name: x.transpose(2, 0, 1)[None].astype(np.float32)})
        m = np.asarray(out[p["output"]], np.float32).reshape(p["size"], p["size"])
        if p["minmax"]:
            m = (m - m.min()) / max(float(m.max() - m.min()), 1e-8)
        return np.clip(cv2.resize(m, (w, h), interpolation=cv2.INTER_LINEAR), 0, 1)


def file_fingerprint(path):
    """Size + sha256 of the first and last MiB: enough to tell teacher files apart, fast on 176 MB."""
    h, size = hashlib.sha256(), os.path.getsize(path)
    with open(path, "rb") as f:
        h.update(f.read(1 << 20))
        f.seek(max(0, size - (1 << 20)))
        h.update(f.read(1 << 20))
    return f"{size}:{h.hexdigest()[:16]}"


def images_under(folder):
    found = []
    for root, _, files in os.walk(folder):
        found += [os.path.join(root, f) for f in files if os.path.splitext(f)[1].lower() in IMAGE_EXTS]
    return sorted(found)


def davis_val_frames(data_root):
    """(image path, mask path, sequence) of the DAVIS validation split of model.splits."""
    root = os.path.join(data_root, "davis2016-train")
    frames = []
    for seq in davis_val_sequences(root):
        for name in sorted(os.listdir(os.path.join(root, "Annotations", seq))):
            if name.endswith(".png"):
                frames.append((os.path.join(root, "JPEGImages", seq, name[:-4] + ".jpg"),
                               os.path.join(root, "Annotations", seq, name), seq))
    return frames


def data_images(data_root, sources):
    paths = []
    for name in sources:
        if name == "davis-val":
            paths += [f[0] for f in davis_val_frames(data_root)]
        elif name == "unlabelled-val":
            if os.path.isdir(os.path.join(data_root, "unlabelled")):
                paths += [path for path, split in unlabelled_photos(data_root) if split == "val"]
        else:
            d = os.path.join(data_root, DATA_SOURCES[name])
            if os.path.isdir(d):
                paths += images_under(d)
    return list(dict.fromkeys(paths))  # unlabelled-val is a part of unlabelled: each image once


def claim_out_dir(out_dir, teacher_path, preset):
    """Refuse to mix maps of two teachers in one folder; record which teacher this one holds."""
    os.makedirs(out_dir, exist_ok=True)
    record = dict(teacher=os.path.basename(teacher_path), fingerprint=file_fingerprint(teacher_path), preset=preset)
    path = os.path.join(out_dir, "teacher.json")
    if os.path.exists(path):
        with open(path) as f:
            old = json.load(f)
        if (old.get("fingerprint"), old.get("preset")) != (record["fingerprint"], preset):
            raise TeacherError(f"{out_dir} holds maps of another teacher ({old.get('teacher')}, {old.get('preset')}): "
                               "use another --out")
    else:
        with open(path, "w") as f:
            json.dump(record, f, indent=1)


def label(teacher, image_paths, base_dir, out_dir, desc="maps"):
    """Writes the missing maps; returns (made, reused, unreadable paths)."""
    made, reused, bad = 0, 0, []
    for path in tqdm(image_paths, desc=desc, unit="img"):
        rel = os.path.relpath(path, base_dir)
        dst = map_path(out_dir, rel)
        if os.path.exists(dst):
            reused += 1
            continue
        image = cv2.imread(path, cv2.IMREAD_COLOR)
        if image is None:
            bad.append(path)
            tqdm.write(f"skipped (not a readable image): {path}")
            continue
        sal = teacher(image)
        os.makedirs(os.path.dirname(dst), exist_ok=True)
        tmp = dst[:-4] + ".tmp.png"
        cv2.imwrite(tmp, np.round(sal * 255).astype(np.uint8))
        os.replace(tmp, dst)
        made += 1
    return made, reused, bad


def davis_j(data_root, out_dir, threshold=0.5):
    """Mean J (region IoU) of the stored maps, thresholded, on the DAVIS validation sequences."""
    per_seq = {}
    for img, ann, seq in davis_val_frames(data_root):
        m = read_map(out_dir, os.path.relpath(img, data_root))
        if m is None:
            continue
        gt = cv2.imread(ann, cv2.IMREAD_GRAYSCALE) > 127
        pred = m >= threshold
        union = (gt | pred).sum()
        per_seq.setdefault(seq, []).append(1.0 if union == 0 else (gt & pred).sum() / union)
    per_seq = {k: float(np.mean(v)) for k, v in per_seq.items()}
    return (float(np.mean(list(per_seq.values()))) if per_seq else float("nan")), per_seq


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--teacher", required=True, help="teacher ONNX file (see README: where to get each)")
    p.add_argument("--preset", choices=sorted(PRESETS), required=True, help="the teacher's pre-processing")
    src = p.add_mutually_exclusive_group(required=True)
    src.add_argument("--folder", help="label every image under this folder")
    src.add_argument("--data", help="label the shared data (see --sources)")
    p.add_argument("--sources", default=",".join(DATA_SOURCES),
                   help=f"with --data: comma-separated, of {', '.join(DATA_SOURCES)} (default all)")
    p.add_argument("--out", required=True, help="folder for the maps (resumes what is there)")
    p.add_argument("--threads", type=int, default=0, help="onnxruntime threads (0 = all cores)")
    p.add_argument("--limit", type=int, default=0, help="label at most N images (0 = all)")
    a = p.parse_args(argv)
    try:
        if a.data:
            unknown = set(a.sources.split(",")) - set(DATA_SOURCES)
            if unknown:
                p.error(f"unknown --sources {sorted(unknown)}; known: {', '.join(DATA_SOURCES)}")
            if not os.path.isdir(a.data):
                raise TeacherError(f"data folder not found: {a.data}")
            base, paths = a.data, data_images(a.data, ["davis-val"] + [s for s in a.sources.split(",") if s != "davis-val"])
        else:
            if not os.path.isdir(a.folder):
                raise TeacherError(f"folder not found: {a.folder}")
            base, paths = a.folder, images_under(a.folder)
        if a.limit:
            paths = paths[:a.limit]
        teacher = Teacher(a.teacher, a.preset, a.threads)
        claim_out_dir(a.out, a.teacher, a.preset)
        made, reused, bad = label(teacher, paths, base, a.out)
    except TeacherError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("\nstopped: the maps written so far are kept; run the same command again to go on", file=sys.stderr)
        return 130
    print(f"{made} maps made, {reused} reused, {len(bad)} unreadable images -> {a.out}")
    if a.data:
        j, per_seq = davis_j(a.data, a.out)
        if per_seq:
            print(f"teacher J on the DAVIS validation sequences (map >= 0.5): {j:.3f} | "
                  + ", ".join(f"{k} {v:.3f}" for k, v in sorted(per_seq.items())))
    return 0


if __name__ == "__main__":
    sys.exit(main())
