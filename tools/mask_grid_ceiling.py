"""The best DAVIS J a mask grid allows: each held-out DAVIS frame's ground truth averaged onto an
N x N grid (as the graph's masks are, over the 320 px input squeezed from the frame), sampled back
bilinearly to the frame and cut at 0.5, as the app pastes a mask. A model cannot beat this on that
grid; the gap between it and the model is what the grid is not to blame for.

    python -m tools.mask_grid_ceiling --data ../shared/data
"""
import argparse
from collections import defaultdict

import cv2
import numpy as np

from model.evaluate import region_similarity
from model.splits import shared_datasets


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data", default="../shared/data")
    p.add_argument("--grids", type=int, nargs="+", default=[40, 80, 128, 160],
                   help="40: stride 8 at 320 px; 80: stride 4 (the CPU graph); 128: stride 4 at 512 px "
                        "(the GPU graph); 160: stride 2 at 320 px")
    a = p.parse_args()
    samples = [s for s in shared_datasets(a.data) if s.split == "val" and s.group.startswith("davis")]
    j = defaultdict(lambda: defaultdict(list))
    for s in samples:
        image, masks, _ = s.load()
        h, w = image.shape[:2]
        gt = masks.any(0)
        for g in a.grids:
            small = cv2.resize(gt.astype(np.float32), (g, g), interpolation=cv2.INTER_AREA)
            back = cv2.resize(small, (w, h), interpolation=cv2.INTER_LINEAR) > 0.5
            j[g][s.group].append(region_similarity(back, gt))
    print(f"{len(samples)} held-out DAVIS frames")
    for g in a.grids:
        per = {k.split("/")[-1]: float(np.mean(v)) for k, v in sorted(j[g].items())}
        print(f"grid {g:>3}x{g:<3} J ceiling {np.mean(list(per.values())):.3f}  "
              + "  ".join(f"{k} {v:.3f}" for k, v in per.items()))


if __name__ == "__main__":
    main()
