"""The training cache packed small enough to travel to a GPU machine beside the working tree (a
call carries 64 MiB in all, the tracked tree included): images as WebP, masks as the cache's bits,
and optionally only every Nth frame of each DAVIS sequence (neighbouring frames are near copies).
model.train reads the packed file like the cache it came from.

    python -m model.pack_cache --cache data_cache --out gpu_cache --quality 50 --davis-every 2
"""
import argparse
import os
import sys
from concurrent.futures import ThreadPoolExecutor

import cv2
import numpy as np
from tqdm import tqdm

def encode_images(images, quality):
    """(N, H, W, 3) uint8 -> (one uint8 array of the WebP files back to back, (N,) end offsets)."""
    with ThreadPoolExecutor() as pool:  # cv2 releases the GIL
        files = list(tqdm(pool.map(lambda im: cv2.imencode(".webp", im, [cv2.IMWRITE_WEBP_QUALITY, quality])[1],
                                   images), total=len(images), desc="webp", unit="img"))
    return np.concatenate([f.ravel() for f in files]), np.cumsum([f.size for f in files]).astype(np.int64)


def decode_images(blob, ends):
    """The inverse of encode_images: (N, H, W, 3) uint8 BGR."""
    starts = np.concatenate([[0], ends[:-1]])
    with ThreadPoolExecutor() as pool:
        return np.stack(list(pool.map(lambda se: cv2.imdecode(blob[se[0]:se[1]], cv2.IMREAD_COLOR),
                                      zip(starts, ends))))


def keep_images(d, keep):
    """The cache's arrays (as np.load gives them, masks still in bits) for the images where `keep`
    is True, with their instances, renumbered."""
    keep = np.asarray(keep, bool)
    new_index = np.cumsum(keep) - 1
    inst = keep[d["inst_image"]]
    out = dict(d)
    for k in ("images", "groups", "union", "unsure"):
        out[k] = d[k][keep]
    for k in ("inst_masks", "inst_salient"):
        out[k] = d[k][inst]
    out["inst_image"] = new_index[d["inst_image"][inst]]
    return out


def every_nth_davis_frame(groups, every):
    """True for the images to keep: all but DAVIS frames, and of those every `every`th of each sequence."""
    groups = np.asarray(groups)
    keep = np.ones(len(groups), bool)
    for g in np.unique(groups):
        if g.split("/")[0] == "davis":
            frames = np.nonzero(groups == g)[0]
            keep[frames] = False
            keep[frames[::every]] = True
    return keep


def pack(d, quality=50, davis_every=1):
    d = keep_images(d, every_nth_davis_frame(d["groups"], davis_every)) if davis_every > 1 else dict(d)
    d["webp"], d["webp_ends"] = encode_images(d.pop("images"), quality)
    return d


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--cache", required=True, help="folder made by model.cache")
    p.add_argument("--out", required=True, help="folder for the packed train.npz")
    p.add_argument("--quality", type=int, default=50, help="WebP quality, 1-100")
    p.add_argument("--davis-every", type=int, default=1, help="keep every Nth frame of each DAVIS sequence")
    a = p.parse_args(argv)
    src = os.path.join(a.cache, "train.npz")
    if not os.path.isfile(src):
        sys.exit(f"error: no train.npz in {a.cache} (make it with model.cache)")
    if not 1 <= a.quality <= 100 or a.davis_every < 1:
        p.error("--quality must be 1-100 and --davis-every 1 or more")
    d = dict(np.load(src))
    if "webp" in d:
        sys.exit(f"error: {src} is packed already")
    n = len(d["images"])
    packed = pack(d, a.quality, a.davis_every)
    os.makedirs(a.out, exist_ok=True)
    tmp = os.path.join(a.out, "train.tmp.npz")
    np.savez_compressed(tmp, **packed)
    os.replace(tmp, os.path.join(a.out, "train.npz"))
    size = os.path.getsize(os.path.join(a.out, "train.npz"))
    print(f"{a.out}/train.npz: {len(packed['webp_ends'])} of {n} images, "
          f"{len(packed['inst_image'])} instances, {size / 2**20:.1f} MiB")


if __name__ == "__main__":
    main()
