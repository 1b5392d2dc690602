"""The live window on a video source for a few minutes (a soak): displayed fps, capture-to-display
latency (median and 95th percentile per interval, to show any drift) and the process's resident
memory over time (to show it stays flat).

    python -m benchmarks.bench_gui [--seconds 300] [--size 640x480]
    (a real window needs a display: under Xvfb, `xvfb-run -a python -m benchmarks.bench_gui`)
"""
import argparse
import os
import tempfile
import time

import numpy as np

from benchmarks.common import scaled_sample


def rss_mb():
    with open("/proc/self/status") as f:
        return next(int(line.split()[1]) for line in f if line.startswith("VmRSS")) / 1024


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--seconds", type=float, default=300)
    p.add_argument("--interval", type=float, default=30)
    p.add_argument("--size", default="640x480")
    p.add_argument("--device", default="cpu")
    p.add_argument("--screenshot", help="save a picture of the window at the end")
    p.add_argument("--tracker", choices=["default", "plain"], default="default",
                   help="plain: one threshold, every detection shown at once (the tracker before steady instances)")
    a = p.parse_args(argv)
    os.environ.setdefault("QT_QPA_PLATFORM", "xcb" if os.environ.get("DISPLAY") else "offscreen")
    from PyQt5.QtWidgets import QApplication
    from app.engine import Engine
    from app.gui import MainWindow
    w, h = (int(v) for v in a.size.split("x"))
    clip = scaled_sample(os.path.join(tempfile.mkdtemp(), f"sample_{w}x{h}.mp4"), w, h)
    app = QApplication([])
    engine = Engine(device=a.device)
    from app.tracking import PLAIN, TrackerSettings
    from app.settings import Settings
    win = MainWindow(engine, clip, loop=True, shots=tempfile.mkdtemp(), scan_cameras=False,
                     settings=Settings(tracking=PLAIN if a.tracker == "plain" else TrackerSettings()))
    win.show()
    print(f"platform {app.platformName()}, source {w}x{h} looping at its 25 fps, {engine.describe()}, "
          f"{a.tracker} tracker")
    start = time.monotonic()
    next_report, shown_at = start + a.interval, 0
    rows = []
    while time.monotonic() - start < a.seconds:
        app.processEvents()
        time.sleep(0.002)
        if time.monotonic() >= next_report:
            session = win.session
            lat = [l for t, l in session.latency_log if next_report - a.interval <= t < next_report]
            fps = (session.shown_count - shown_at) / a.interval
            shown_at = session.shown_count
            rows.append((next_report - start, fps, np.median(lat), np.percentile(lat, 95), rss_mb()))
            print(f"t={rows[-1][0]:5.0f}s  displayed {fps:5.1f} fps  latency median {rows[-1][2]:6.1f} ms  "
                  f"p95 {rows[-1][3]:6.1f} ms  memory {rows[-1][4]:6.1f} MB  "
                  f"(capture {session.capture_rate.rate():.1f} fps)", flush=True)
            next_report += a.interval
    if a.screenshot:
        win.grab().save(a.screenshot)
    all_lat = [l for _, l in win.session.latency_log]
    print(f"overall: displayed {np.mean([r[1] for r in rows]):.1f} fps, latency median {np.median(all_lat):.1f} ms, "
          f"p95 {np.percentile(all_lat, 95):.1f} ms; drift (last - first interval median) "
          f"{rows[-1][2] - rows[0][2]:+.1f} ms; memory {rows[0][4]:.1f} -> {rows[-1][4]:.1f} MB")
    win.close()


if __name__ == "__main__":
    main()
