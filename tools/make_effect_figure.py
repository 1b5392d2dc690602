"""The README's effects figure, made with the project's own video command on the bundled clip:
each effect rendered over the whole clip, frame 60 of each output side by side (the cut-out on a
checkerboard, to show its transparency).

    python -m tools.make_effect_figure [--background PICTURE] [--out docs/effects.jpg]
"""
import argparse
import os
import subprocess
import sys
import tempfile

import av
import cv2
import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SAMPLE = os.path.join(ROOT, "assets", "sample.mp4")


def frame_of(path, index, alpha=False):
    with av.open(path) as c:
        v = c.streams.video[0]
        codec = av.CodecContext.create("libvpx-vp9", "r") if alpha else v.codec_context
        i = 0
        for packet in c.demux(v):
            for f in codec.decode(packet):
                if i == index:
                    return f.to_ndarray(format="bgra" if alpha else "bgr24")
                i += 1
    raise ValueError(f"{path} has no frame {index}")


def checkerboard(h, w, cell=16):
    y, x = np.mgrid[:h, :w]
    board = np.where(((y // cell + x // cell) % 2)[..., None] == 0, 200, 150).astype(np.uint8)
    return np.repeat(board, 3, axis=2)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--background", required=True, help="picture for the replace effect")
    p.add_argument("--out", default=os.path.join(ROOT, "docs", "effects.jpg"))
    p.add_argument("--frame", type=int, default=60)
    a = p.parse_args(argv)
    tmp = tempfile.mkdtemp()
    runs = [("overlay", ["--effect", "overlay"], ".mp4"), ("blur", ["--effect", "blur"], ".mp4"),
            ("remove", ["--effect", "remove", "#00b140"], ".mp4"),
            ("replace", ["--effect", "replace", a.background], ".mp4"), ("cutout", ["--effect", "cutout"], ".webm")]
    panels = [cv2.resize(frame_of(SAMPLE, a.frame), (426, 240), interpolation=cv2.INTER_AREA)]
    cv2.putText(panels[0], "input", (10, 28), cv2.FONT_HERSHEY_SIMPLEX, 0.9, (255, 255, 255), 2, cv2.LINE_AA)
    for name, opts, ext in runs:
        out = os.path.join(tmp, name + ext)
        cmd = [sys.executable, os.path.join(ROOT, "main.py"), "--video", SAMPLE, "--out", out] + opts
        print(" ".join(["python main.py"] + cmd[2:]).replace(tmp + "/", ""))
        subprocess.run(cmd, check=True, capture_output=True)
        img = frame_of(out, a.frame, alpha=ext == ".webm")
        if img.shape[2] == 4:
            alpha = img[..., 3:4].astype(np.float32) / 255
            img = (img[..., :3] * alpha + checkerboard(*img.shape[:2]) * (1 - alpha)).astype(np.uint8)
        small = cv2.resize(img, (426, 240), interpolation=cv2.INTER_AREA)
        cv2.putText(small, name, (10, 28), cv2.FONT_HERSHEY_SIMPLEX, 0.9, (255, 255, 255), 2, cv2.LINE_AA)
        panels.append(small)
    grid = np.vstack([np.hstack(panels[0:3]), np.hstack(panels[3:6])])
    cv2.imwrite(a.out, grid, [cv2.IMWRITE_JPEG_QUALITY, 85])
    print(f"wrote {a.out}")


if __name__ == "__main__":
    main()
