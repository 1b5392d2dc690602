"""Bare-graph speed of S4Net graphs (and a peer graph, e.g. YOLO11n-seg's ONNX export) on the
CPU provider, as ratios: every graph runs once per round, in turn, for many rounds in one process,
so machine load hits all of them alike.

    python -m benchmarks.bench_graphs assets/s4net.onnx assets/s4net.int8.onnx --peer yolo11n-seg.onnx [--all-frames]

S4Net graphs get a real frame of the bundled clip (the bunny and its neighbours: a few instances,
as in use; or, with --all-frames, every frame in turn, with the mean instance count) and the
default threshold; a peer graph gets the same frame as float32 NCHW RGB in 0..1
(the Ultralytics convention). The peer graph is only timed (the project does not depend on it).
"""
import argparse
import os
import statistics
import time

import cv2
import numpy as np

from app.sources import VideoReader
from benchmarks.common import SAMPLE
from contracts import graph as G


def session(path, threads):
    import onnxruntime as ort
    opts = ort.SessionOptions()
    opts.log_severity_level = 3
    # no busy-waiting between runs: with several sessions in turn, spinning threads of the last
    # session would steal the cores from the next one
    opts.add_session_config_entry("session.intra_op.allow_spinning", "0")
    if threads:
        opts.intra_op_num_threads = threads
    return ort.InferenceSession(path, opts, providers=["CPUExecutionProvider"])


def feed_for(sess, frame):
    inputs = sess.get_inputs()
    names = [i.name for i in inputs]
    if names == G.INPUTS:
        size = int(sess.get_modelmeta().custom_metadata_map[G.META_INPUT_SIZE])
        img = cv2.resize(frame, (size, size), interpolation=cv2.INTER_AREA)[None]
        return {G.INPUT_IMAGE: img, G.INPUT_THRESHOLD: np.array([0.5], np.float32)}, "s4net"
    shape = inputs[0].shape
    size = shape[2] if isinstance(shape[2], int) else 320
    rgb = cv2.resize(frame, (size, size))[..., ::-1].transpose(2, 0, 1)[None].astype(np.float32) / 255
    return {names[0]: np.ascontiguousarray(rgb)}, "peer"


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("graphs", nargs="+", help="S4Net ONNX graphs (the first is the reference)")
    p.add_argument("--peer", action="append", default=[], help="a peer ONNX graph (timed as it is)")
    p.add_argument("--rounds", type=int, default=200)
    p.add_argument("--threads", type=int, default=0, help="onnxruntime threads (0 = all cores)")
    p.add_argument("--frame", type=int, default=30, help="which frame of the bundled clip")
    p.add_argument("--all-frames", action="store_true",
                   help="cycle through every frame of the clip instead (each round one frame, the same for "
                        "every graph): the mask path's cost follows what each model finds")
    a = p.parse_args(argv)
    frames = [f.image for f in VideoReader(SAMPLE) if a.all_frames or f.index == a.frame]
    runs = []
    for path in a.graphs + a.peer:
        sess = session(path, a.threads)
        feeds = [feed_for(sess, f) for f in frames]
        kind = feeds[0][1]
        counts = [len(sess.run(None, f)[1]) for f, _ in feeds] if kind == "s4net" else None
        runs.append({"path": path, "sess": sess, "feeds": [f for f, _ in feeds], "kind": kind, "times": [],
                     "instances": None if counts is None else float(np.mean(counts))})
    for r in runs:  # warm-up
        for _ in range(10):
            r["sess"].run(None, r["feeds"][0])
    for i in range(a.rounds):
        for r in runs:
            feed = r["feeds"][i % len(r["feeds"])]
            t = time.perf_counter()
            r["sess"].run(None, feed)
            r["times"].append((time.perf_counter() - t) * 1000)
    ref = statistics.median(runs[0]["times"])
    # the goal is stated against the peer: its column saves dividing by hand
    peer = statistics.median(runs[len(a.graphs)]["times"]) if a.peer else None
    where = f"all {len(frames)} frames in turn" if a.all_frames else f"frame {a.frame}"
    print(f"{'graph':<34} {'instances':>9} {'median ms':>10} {'p95 ms':>8} {'vs first':>9}"
          + (f" {'vs peer':>8}" if peer else "")
          + f"   ({a.rounds} alternating rounds, {where}, {os.cpu_count()} cores)")
    for r in runs:
        med = statistics.median(r["times"])
        inst = "-" if r["instances"] is None else f"{r['instances']:.2f}" if a.all_frames else f"{r['instances']:.0f}"
        print(f"{os.path.basename(r['path']):<34} {inst:>9} {med:>10.2f} {np.percentile(r['times'], 95):>8.2f} "
              f"{med / ref:>8.2f}x" + (f" {med / peer:>7.2f}x" if peer else ""))


if __name__ == "__main__":
    main()
