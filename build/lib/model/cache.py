"""A compact copy of the training data at the training resolution (one .npz per split), so training
reads no JPEGs and the copy can travel to a GPU machine. Broken samples are reported and skipped.

    python -m model.cache --data ../shared/data --out data_cache --size 320
"""
import argparse
import os
import sys

import cv2
import numpy as np
from tqdm import tqdm

from .formats import AnnotationError
from .splits import shared_datasets


def resize_sample(image, masks, size):
    img = cv2.resize(image, (size, size), interpolation=cv2.INTER_AREA)
    small = [cv2.resize(m.astype(np.float32), (size, size), interpolation=cv2.INTER_AREA) > 0.5 for m in masks]
    return img, np.stack(small) if small else np.zeros((0, size, size), bool)


def build(samples, size, desc=""):
    images, groups, union = [], [], []
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
        size=np.int64(size)), skipped


def load_cache(path):
    d = dict(np.load(path))
    d["inst_masks"] = np.unpackbits(d["inst_masks"], axis=-1)[..., :int(d["size"])].astype(bool)
    return d


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data", default="../shared/data")
    p.add_argument("--out", default="data_cache")
    p.add_argument("--size", type=int, default=320)
    a = p.parse_args(argv)
    try:
        samples = shared_datasets(a.data)
    except (FileNotFoundError, AnnotationError) as e:
        sys.exit(f"error: {e}")
    os.makedirs(a.out, exist_ok=True)
    for split in ("train", "val"):
        arrays, skipped = build([s for s in samples if s.split == split], a.size, desc=split)
        tmp = os.path.join(a.out, f"{split}.tmp.npz")
        np.savez_compressed(tmp, **arrays)
        os.replace(tmp, os.path.join(a.out, f"{split}.npz"))
        print(f"{split}: {len(arrays['images'])} images, {len(arrays['inst_image'])} instances "
              f"({int(arrays['inst_salient'].sum())} salient), {len(skipped)} skipped")


if __name__ == "__main__":
    main()
