"""A compact copy of the training data at the training resolution (one .npz per split), so training
reads no JPEGs and the copy can travel to a GPU machine. Broken samples are reported and skipped.

    python -m model.cache --data ../shared/data --teacher isnet_fp16.onnx --preset isnet \
        --teacher-maps teacher_maps/isnet --out data_cache

With --teacher, the teacher first labels what has no map yet in --teacher-maps (model.pseudo_label:
resumable, so a stopped run goes on where it stopped). With --teacher-maps, COCO's salient instances come from the teacher
rule and the unlabelled photos join as pseudo-labelled data (see model/splits.py); without, the
geometric rule and no unlabelled photos. Per image it also stores the pixels the teacher was unsure
of (left out of the mask loss).
"""
import argparse
import os
import sys

import cv2
import numpy as np
from tqdm import tqdm

from .formats import AnnotationError
from .pack_cache import decode_images
from .splits import add_person_rule_flag, shared_datasets


def resize_sample(image, masks, size):
    img = cv2.resize(image, (size, size), interpolation=cv2.INTER_AREA)
    small = [cv2.resize(m.astype(np.float32), (size, size), interpolation=cv2.INTER_AREA) > 0.5 for m in masks]
    return img, np.stack(small) if small else np.zeros((0, size, size), bool)


def build(samples, size, desc=""):
    images, groups, union, unsure = [], [], [], []
    inst_masks, inst_image, inst_salient = [], [], []
    skipped = []
    for s in tqdm(samples, desc=desc, unit="img"):
        try:
            image, masks, salient = s.load()
        except AnnotationError as e:
            skipped.append(str(e))
            tqdm.write(f"skipped: {e}")
            continue
        img, small = resize_sample(image, masks, size)
        u = s.load_unsure(*image.shape[:2]) if s.load_unsure else None
        unsure.append(np.zeros((size, size), bool) if u is None else
                      cv2.resize(u.astype(np.uint8), (size, size), interpolation=cv2.INTER_NEAREST) > 0)
        keep = small.reshape(len(small), -1).any(1) if len(small) else np.zeros(0, bool)
        idx = len(images)
        images.append(img)
        groups.append(s.group)
        union.append(s.union_mask)
        inst_masks += list(small[keep])
        inst_image += [idx] * int(keep.sum())
        inst_salient += list(np.asarray(salient)[keep])
    return dict(
        images=np.stack(images), groups=np.array(groups), union=np.array(union),
        inst_masks=np.packbits(np.stack(inst_masks) if inst_masks else np.zeros((0, size, size), bool), axis=-1),
        inst_image=np.array(inst_image, np.int64), inst_salient=np.array(inst_salient, bool),
        unsure=np.packbits(np.stack(unsure), axis=-1), size=np.int64(size)), skipped


def load_cache(path):
    return unpack(dict(np.load(path)))


def unpack(d):
    """The arrays as `build` packs them (bits) -> boolean masks, as training reads them; the
    images of a cache packed for travel (model.pack_cache) are decoded."""
    d = dict(d)
    if "webp" in d:
        d["images"] = decode_images(d.pop("webp"), d.pop("webp_ends"))
    d["inst_masks"] = np.unpackbits(d["inst_masks"], axis=-1)[..., :int(d["size"])].astype(bool)
    size = int(d["size"])
    d["unsure"] = np.unpackbits(d["unsure"], axis=-1)[..., :size].astype(bool) if "unsure" in d \
        else np.zeros((len(d["images"]), size, size), bool)  # caches made before teacher labels
    return d


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data", default="../shared/data")
    p.add_argument("--out", default="data_cache")
    p.add_argument("--teacher-maps", help="saliency maps from model.pseudo_label (teacher rule + unlabelled)")
    add_person_rule_flag(p)
    p.add_argument("--teacher", help="teacher ONNX file: label what has no map yet first (needs --teacher-maps)")
    p.add_argument("--preset", default="isnet", help="the teacher's pre-processing (isnet or u2net)")
    p.add_argument("--size", type=int, default=320)
    a = p.parse_args(argv)
    if a.teacher:
        if not a.teacher_maps:
            p.error("--teacher needs --teacher-maps (where the maps go)")
        from .pseudo_label import main as pseudo_label
        status = pseudo_label(["--teacher", a.teacher, "--preset", a.preset, "--data", a.data, "--out", a.teacher_maps])
        if status:
            sys.exit(status)
    try:
        samples = shared_datasets(a.data, a.teacher_maps, not a.no_person_rule)
    except (FileNotFoundError, AnnotationError) as e:
        sys.exit(f"error: {e}")
    os.makedirs(a.out, exist_ok=True)
    for split in ("train", "val"):
        arrays, skipped = build([s for s in samples if s.split == split], a.size, desc=split)
        tmp = os.path.join(a.out, f"{split}.tmp.npz")
        np.savez_compressed(tmp, **arrays)
        os.replace(tmp, os.path.join(a.out, f"{split}.npz"))
        sources = {}
        for g in arrays["groups"]:
            sources[g.split("/")[0]] = sources.get(g.split("/")[0], 0) + 1
        print(f"{split}: {len(arrays['images'])} images, {len(arrays['inst_image'])} instances "
              f"({int(arrays['inst_salient'].sum())} salient), {len(skipped)} skipped | "
              + ", ".join(f"{k} {v}" for k, v in sorted(sources.items())))


if __name__ == "__main__":
    main()
