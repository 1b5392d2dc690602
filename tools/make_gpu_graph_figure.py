"""The README's CPU-graph / GPU-graph figure: one frame of a held-out DAVIS sequence through the
app's own engine with each shipped graph (both on the CPU provider here), the ground truth's
outline in white on both.

    python -m tools.make_gpu_graph_figure --data ../shared/data [--sequence stroller --frame 00040]
"""
import argparse
import os

import cv2
import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

from app.drawing import DrawStyle, draw
from app.engine import Engine


def panel(engine, image, gt, title, refine=False):
    result = engine.run(image, refine=refine)
    out = draw(result, DrawStyle(alpha=0.45))
    cnts, _ = cv2.findContours(gt.astype(np.uint8), cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
    cv2.drawContours(out, cnts, -1, (255, 255, 255), 1, lineType=cv2.LINE_AA)
    union = np.zeros(gt.shape, bool)
    for inst in result.instances():
        if inst.score >= 0.5:
            union |= inst.full_mask(gt.shape)
    j = (union & gt).sum() / max((union | gt).sum(), 1)
    cv2.putText(out, f"{title}  J {j:.3f}", (12, 30), cv2.FONT_HERSHEY_SIMPLEX, 0.8, (255, 255, 255), 2, cv2.LINE_AA)
    return out


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data", default=os.path.join(ROOT, "..", "shared", "data"))
    p.add_argument("--sequence", default="stroller")
    p.add_argument("--frame", default="00040")
    p.add_argument("--out", default=os.path.join(ROOT, "docs", "gpu_graph_stroller.jpg"))
    a = p.parse_args(argv)
    d = os.path.join(a.data, "davis2016-train")
    image = cv2.imread(os.path.join(d, "JPEGImages", a.sequence, a.frame + ".jpg"))
    gt = cv2.imread(os.path.join(d, "Annotations", a.sequence, a.frame + ".png"), cv2.IMREAD_GRAYSCALE) > 127
    # masks pasted plain, as the figure was made (the app now refines them: make_refine_figure.py)
    cpu = Engine(os.path.join(ROOT, "assets", "s4net.onnx"), device="cpu")
    gpu = Engine(os.path.join(ROOT, "assets", "s4net.fp16.onnx"), device="cpu")
    row = np.hstack([panel(cpu, image, gt, "CPU graph (320 px)"), panel(gpu, image, gt, "GPU graph (320 / 512 px, flip)")])
    cv2.imwrite(a.out, row, [cv2.IMWRITE_JPEG_QUALITY, 85])
    print(f"wrote {a.out}")


if __name__ == "__main__":
    main()
