"""What the background effects cost: the live session's shown fps and the video command's fps with
each effect, against the overlay, alternating rounds in one process (so machine load hits both).

    python -m benchmarks.bench_effects [--seconds 20] [--rounds 3]

Live: the Qt-free LiveSession on the bundled clip (1280x720, 25 fps, looping), a viewer that shows
every result it is given. Video: the video command on the bundled clip, 132 frames.
"""
import argparse
import os
import tempfile
import time

import numpy as np


from app.effects import Effect
from app.engine import Engine
from app.live_session import LiveSession
from app.cli import main as command_line
from benchmarks.common import SAMPLE


def live_fps(engine, effect, seconds):
    session = LiveSession(engine, loop=True, shots_folder=tempfile.mkdtemp())
    session.on_result = session.shown
    session.set_effect(effect)
    session.start(SAMPLE)
    time.sleep(2)  # warm-up
    n0, t0 = session.shown_count, time.monotonic()
    time.sleep(seconds)
    fps = (session.shown_count - n0) / (time.monotonic() - t0)
    session.close()
    return fps


def video_fps(name, out):
    t = time.perf_counter()
    import contextlib
    import io
    with contextlib.redirect_stderr(io.StringIO()), contextlib.redirect_stdout(io.StringIO()):
        assert command_line(["--video", SAMPLE, "--out", out, "--device", "cpu", "--effect", name]) == 0
    return 132 / (time.perf_counter() - t)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--seconds", type=float, default=20)
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--effects", default="blur,remove")
    a = p.parse_args(argv)
    engine = Engine(device="cpu")
    names = ["overlay"] + a.effects.split(",")
    live, video = {n: [] for n in names}, {n: [] for n in names}
    tmp = tempfile.mkdtemp()
    for r in range(a.rounds):
        for n in names:
            live[n].append(live_fps(engine, Effect(n), a.seconds))
            video[n].append(video_fps(n, os.path.join(tmp, f"{n}.mp4")))
            print(f"round {r + 1}: {n:<8} live {live[n][-1]:5.1f} fps shown, video command {video[n][-1]:5.1f} fps",
                  flush=True)
    print(f"\n{'effect':<8} {'live fps':>9} {'vs overlay':>11} {'video fps':>10} {'vs overlay':>11}   "
          f"(medians of {a.rounds} rounds; {engine.describe()}, {os.cpu_count()} cores)")
    for n in names:
        lf, vf = np.median(live[n]), np.median(video[n])
        print(f"{n:<8} {lf:>9.1f} {lf / np.median(live['overlay']):>10.0%} {vf:>10.1f} "
              f"{vf / np.median(video['overlay']):>10.0%}")


if __name__ == "__main__":
    main()
