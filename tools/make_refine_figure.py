"""The README's refined-mask figure: frames of held-out DAVIS sequences through the app's engine
with the CPU graph, masks pasted plain (left) and refined along the frame's edges (right, the
app's default), the ground truth's outline in white.

    python -m tools.make_refine_figure --data ../shared/data
"""
import argparse
import os

import cv2
import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

from app.engine import Engine
from tools.make_gpu_graph_figure import panel


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data", default=os.path.join(ROOT, "..", "shared", "data"))
    p.add_argument("--frames", nargs="+", default=["paragliding/00040", "boat/00040"], help="SEQUENCE/FRAME ...")
    p.add_argument("--out", default=os.path.join(ROOT, "docs", "refined_masks.jpg"))
    a = p.parse_args(argv)
    d = os.path.join(a.data, "davis2016-train")
    model = os.path.join(ROOT, "assets", "s4net.onnx")
    engine = Engine(model, device="cpu")
    rows = []
    for name in a.frames:
        image = cv2.imread(os.path.join(d, "JPEGImages", name + ".jpg"))
        gt = cv2.imread(os.path.join(d, "Annotations", name + ".png"), cv2.IMREAD_GRAYSCALE) > 127
        rows.append(np.hstack([panel(engine, image, gt, "plain paste"), panel(engine, image, gt, "refined", refine=True)]))
    cv2.imwrite(a.out, np.vstack(rows), [cv2.IMWRITE_JPEG_QUALITY, 85])
    print(f"wrote {a.out}")


if __name__ == "__main__":
    main()
