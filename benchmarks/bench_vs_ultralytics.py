"""The video command against Ultralytics' predict on the same clip, same machine, whole processes
in turn (A B A B ...), wall time per run and frames per second.

    python -m benchmarks.bench_vs_ultralytics --yolo-python ~/yolo-venv/bin/python --peer-graph yolo11n-seg.onnx

The peer runs in its own virtual environment (pip install ultralytics onnxruntime; the project does
not depend on it): `YOLO(peer_graph).predict(clip, imgsz=320, save=True)` (MPEG-4 without audio).
Ours: `python main.py --video clip --out out.mp4` (H.264 with the audio track). Both on the CPU.
"""
import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SAMPLE = os.path.join(ROOT, "assets", "sample.mp4")
PEER = ("import sys\nfrom ultralytics import YOLO\n"
        "YOLO(sys.argv[1], task='segment').predict(sys.argv[2], imgsz=320, save=True, device='cpu', "
        "verbose=False, project=sys.argv[3], name='run', exist_ok=True)\n")


def frames_of(path):
    import av
    with av.open(path) as c:
        return sum(1 for _ in c.decode(c.streams.video[0]))


def timed(cmd, cwd):
    t = time.perf_counter()
    r = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True)
    if r.returncode != 0:
        sys.exit(f"error: {' '.join(cmd[:3])} failed: {r.stderr.strip()[-300:]}")
    return time.perf_counter() - t


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--yolo-python", required=True, help="python of a virtual environment with ultralytics")
    p.add_argument("--peer-graph", required=True, help="the peer's ONNX graph (e.g. yolo11n-seg.onnx, imgsz 320)")
    p.add_argument("--clip", default=SAMPLE)
    p.add_argument("--runs", type=int, default=3)
    p.add_argument("--model", help="our graph (default: the app's choice)")
    a = p.parse_args(argv)
    n = frames_of(a.clip)
    tmp = tempfile.mkdtemp()
    ours = [sys.executable, os.path.join(ROOT, "main.py"), "--video", a.clip, "--out", os.path.join(tmp, "ours.mp4"),
            "--device", "cpu"] + (["--model", a.model] if a.model else [])
    peer = [a.yolo_python, "-c", PEER, os.path.abspath(a.peer_graph), a.clip, tmp]
    times = {"ours": [], "peer": []}
    timed(ours, ROOT), timed(peer, tmp)  # warm-up: caches, first imports
    for i in range(a.runs):
        times["ours"].append(timed(ours, ROOT))
        times["peer"].append(timed(peer, tmp))
        print(f"run {i + 1}: ours {times['ours'][-1]:.1f} s, ultralytics {times['peer'][-1]:.1f} s", flush=True)
    o, q = statistics.median(times["ours"]), statistics.median(times["peer"])
    ratios = [b / a_ for a_, b in zip(times["ours"], times["peer"])]
    print(f"\n{n} frames, whole processes (start-up included), medians of {a.runs}:")
    print(f"  ours         {o:6.1f} s  {n / o:5.1f} fps  (H.264 + audio)")
    print(f"  ultralytics  {q:6.1f} s  {n / q:5.1f} fps  (predict, save=True)")
    print(f"  ours / ultralytics fps: {statistics.median(ratios):.2f}x (median of per-pair ratios)")


if __name__ == "__main__":
    main()
