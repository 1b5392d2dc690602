"""Speed of the bare S4Net graph and of the video command, per stage.

    python -m benchmarks.bench_video [--device cpu|cuda|auto] [--runs 50]

Prints: the graph's median/p95 latency at its input size (a real frame, default threshold), with
and without instances, on each provider asked for; then the video command end to end on an
854x480 version of the bundled sample (132 frames) with the median ms of every stage.
"""
import argparse
import os
import statistics
import sys
import tempfile
import time

import numpy as np


from app.engine import Engine, EngineError
from app.cli import main as command_line
from app.sources import VideoReader
from benchmarks.common import scaled_sample


def bench_graph(engine, frame, runs):
    size = engine.input_size
    import cv2
    real = cv2.resize(frame, (size, size))[None]
    blank = np.full_like(real, 127)
    out = {}
    for label, image in (("real frame", real), ("blank frame", blank)):
        n = len(engine._run_graph(image)[1])
        times = []
        for _ in range(runs):
            t = time.perf_counter()
            engine._run_graph(image)
            times.append((time.perf_counter() - t) * 1000)
        out[label] = (n, statistics.median(times), float(np.percentile(times, 95)))
    return out


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--device", default="cpu", choices=["cpu", "cuda", "auto"])
    p.add_argument("--model", default=None)
    p.add_argument("--runs", type=int, default=50)
    p.add_argument("--skip-video", action="store_true")
    a = p.parse_args(argv)
    try:
        engine = Engine(a.model, a.device)
    except EngineError as e:
        sys.exit(f"error: {e}")
    tmp = tempfile.mkdtemp()
    clip = scaled_sample(os.path.join(tmp, "sample_854x480.mp4"), 854, 480)
    reader = VideoReader(clip)
    frame = next(iter(reader)).image
    reader.close()
    print(f"model: {engine.describe()}  (cores: {os.cpu_count()})")
    for label, (n, med, p95) in bench_graph(engine, frame, a.runs).items():
        print(f"bare graph, {label:<12} ({n} instances): median {med:6.1f} ms, p95 {p95:6.1f} ms")
    if not a.skip_video:
        print("video command, 854x480, 132 frames:")
        command_line(["--video", clip, "--out", os.path.join(tmp, "out.mp4"), "--device", a.device]
                     + (["--model", a.model] if a.model else []))


if __name__ == "__main__":
    main()
