"""The README's first-impression figure: frames of the bundled clip as README command 1 shows them
(the video command's tracker, masks refined along the edges), with one model's graph per row, the
hand-corrected bunny outline (tests/fixtures/bunny) in white.

    python -m tools.make_first_impression_figure --models OLD.onnx assets/s4net.onnx --labels v5 v6
"""
import argparse
import os

import cv2
import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

from app.engine import Engine
from app.pipeline import Pipeline
from app.sources import VideoReader


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--models", nargs="+", required=True)
    p.add_argument("--labels", nargs="+", required=True)
    p.add_argument("--frames", nargs="+", type=int, default=[25, 55, 100, 130])
    p.add_argument("--out", default=os.path.join(ROOT, "docs", "first_impression.jpg"))
    a = p.parse_args(argv)
    rows = []
    for model, label in zip(a.models, a.labels):
        pipe = Pipeline(Engine(model, device="cpu", log=lambda m: None))
        tiles = []
        for f in VideoReader(os.path.join(ROOT, "assets", "sample.mp4")):
            r = pipe.process(f.image)
            if f.index in a.frames:
                tile = r.picture.copy()
                truth = cv2.imread(os.path.join(ROOT, "tests", "fixtures", "bunny", f"{f.index:03d}.png"), 0)
                if truth is not None:
                    cs, _ = cv2.findContours((truth > 127).astype(np.uint8), cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_NONE)
                    cv2.drawContours(tile, cs, -1, (255, 255, 255), 3)
                cv2.putText(tile, f"{label}, frame {f.index}: {len(r.result.instances())} instances", (20, 60),
                            cv2.FONT_HERSHEY_SIMPLEX, 1.6, (255, 255, 255), 4)
                tiles.append(cv2.resize(tile, (640, 360), interpolation=cv2.INTER_AREA))
        rows.append(np.concatenate(tiles, 1))
    cv2.imwrite(a.out, np.concatenate(rows, 0), [cv2.IMWRITE_JPEG_QUALITY, 85])
    print(a.out)


if __name__ == "__main__":
    main()
