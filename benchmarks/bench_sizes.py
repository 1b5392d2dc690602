"""Source resolution against speed and memory: the live window (shown fps and capture-to-display
latency, `benchmarks.bench_gui`) and the video command (fps and peak memory) on the bundled clip
scaled to each size; with --reference, another checkout of the app (an older version) runs in
alternation with this one, so machine load hits both alike.

    python -m benchmarks.bench_sizes [--live 640x480,1280x720,1920x1080] [--video 1280x720,3840x2160]
                                     [--seconds 30] [--rounds 1] [--reference ../s4net-old]
"""
import argparse
import os
import re
import subprocess
import sys
import tempfile

from benchmarks.common import ROOT, scaled_sample


def live(checkout, size, seconds):
    """(shown fps, latency median ms, p95 ms) of the live window in checkout."""
    r = subprocess.run([sys.executable, "-m", "benchmarks.bench_gui", "--size", size, "--seconds", str(seconds),
                        "--interval", str(seconds / 3)], cwd=checkout, capture_output=True, text=True,
                       env=dict(os.environ, PYTHONPATH=checkout))
    m = re.search(r"displayed ([\d.]+) fps, latency median ([\d.]+) ms, p95 ([\d.]+) ms", r.stdout)
    if not m:
        raise RuntimeError(f"bench_gui in {checkout} failed: {r.stderr[-500:]}")
    return tuple(float(v) for v in m.groups())


def video(checkout, clip, out):
    """(fps, peak resident memory MB) of the video command in checkout."""
    p = subprocess.Popen([sys.executable, "main.py", "--video", clip, "--out", out, "--device", "cpu"], cwd=checkout,
                         stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
                         env=dict(os.environ, PYTHONPATH=checkout))
    text = p.stdout.read()
    _, status, usage = os.wait4(p.pid, 0)
    m = re.search(r"\| ([\d.]+) fps \|", text)
    if status or not m:
        raise RuntimeError(f"the video command in {checkout} failed: {text[-500:]}")
    return float(m.group(1)), usage.ru_maxrss / 1024


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--live", default="640x480,1280x720,1920x1080", help="source sizes for the live window ('' : none)")
    p.add_argument("--video", default="1280x720,3840x2160", help="clip sizes for the video command ('' : none)")
    p.add_argument("--seconds", type=float, default=30, help="each live-window run")
    p.add_argument("--rounds", type=int, default=1)
    p.add_argument("--reference", help="another checkout of the app, run in alternation with this one")
    a = p.parse_args(argv)
    checkouts = {"this": ROOT, **({"reference": os.path.abspath(a.reference)} if a.reference else {})}
    tmp = tempfile.mkdtemp()
    print(f"{os.cpu_count()} cores; {a.rounds} round(s), versions alternating")
    for size in filter(None, a.live.split(",")):
        for r in range(a.rounds):
            for name, path in checkouts.items():
                fps, med, p95 = live(path, size, a.seconds)
                print(f"live window {size:>9} {name:<9}  shown {fps:5.1f} fps  latency median {med:5.1f} ms  "
                      f"p95 {p95:5.1f} ms", flush=True)
    for size in filter(None, a.video.split(",")):
        w, h = (int(v) for v in size.split("x"))
        clip = scaled_sample(os.path.join(tmp, f"sample_{size}.mp4"), w, h)
        for r in range(a.rounds):
            for name, path in checkouts.items():
                fps, mb = video(path, clip, os.path.join(tmp, f"out_{name}.mp4"))
                print(f"video command {size:>9} {name:<9}  {fps:5.1f} fps  peak memory {mb:6.0f} MB", flush=True)


if __name__ == "__main__":
    main()
