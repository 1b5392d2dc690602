"""The live window (offscreen Qt) with a real video file as its source."""
import json
import os
import subprocess
import threading

import cv2
import imageio_ffmpeg
import numpy as np
import pytest

from app.drawing import instances
from app.engine import Engine
from app.gui import MainWindow
from conftest import probe


@pytest.fixture(scope="module")
def engine():
    return Engine(device="cpu")


@pytest.fixture
def window(qtbot, engine, clip_with_audio, tmp_path):
    engine.score_threshold = 0.5
    w = MainWindow(engine, clip_with_audio, loop=True, shots=str(tmp_path / "shots"), smoothing=False,
                   scan_cameras=False)
    qtbot.addWidget(w)
    w.show()
    yield w
    w.close()


def test_frames_reach_the_view_with_overlays(qtbot, window):
    qtbot.waitUntil(lambda: window.shown >= 5, timeout=60000)
    assert not window.view.pixmap().isNull()
    r = window.last_result
    assert r.instances, "the clip's elephant should be found"
    changed = (r.overlay != r.frame).any(2)
    assert changed.any()
    window._update_status()
    status = window.status.text()
    assert "CPUExecutionProvider" in status and "fps" in status and "latency" in status and "instances" in status


def test_screenshot_writes_every_file_and_matches_the_engine(qtbot, window, engine):
    qtbot.waitUntil(lambda: bool(window.last_result and window.last_result.instances), timeout=60000)
    window.pause_btn.setChecked(True)
    qtbot.wait(300)
    result = window.last_result
    paths = window.screenshot()
    names = [os.path.basename(p) for p in paths]
    assert any(n.endswith("_overlay.png") for n in names) and any(n.endswith("_frame.png") for n in names)
    meta = json.load(open([p for p in paths if p.endswith(".json")][0]))
    assert len(meta["instances"]) == len(result.instances)
    frame = cv2.imread([p for p in paths if p.endswith("_frame.png")][0])
    assert np.array_equal(frame, result.frame)
    # what the engine finds on the saved raw frame is what the screenshot saved
    fresh = {i.id: i for i in instances(engine.run(frame))}
    by_score = sorted(fresh.values(), key=lambda i: -i.score)
    for rec, inst in zip(sorted(meta["instances"], key=lambda r: -r["score"]), by_score):
        mask = cv2.imread(os.path.join(window.shots, rec["mask"]), cv2.IMREAD_GRAYSCALE) > 0
        cut = cv2.imread(os.path.join(window.shots, rec["cutout"]), cv2.IMREAD_UNCHANGED)
        assert cut.shape[2] == 4 and ((cut[..., 3] > 0) == inst.mask).all()
        full = inst.full_mask(frame.shape[:2])
        assert (mask & full).sum() / (mask | full).sum() > 0.99
        assert abs(rec["score"] - inst.score) < 1e-3
    assert window.shots in window.message.text()
    # a second screenshot in the same second gets new names
    again = window.screenshot()
    assert not set(again) & set(paths)


def test_repeated_start_stop_leaves_no_thread(qtbot, window, clip_with_audio):
    before = threading.active_count()
    for _ in range(3):
        window.start_source(clip_with_audio)
        n = window.shown
        qtbot.waitUntil(lambda: window.shown > n, timeout=60000)
        window.stop_threads()
        assert not window.threads_alive()
    assert threading.active_count() <= before


def test_failing_source_is_reported_and_retried(qtbot, engine, clip_with_audio, tmp_path):
    full = str(tmp_path / "full.mp4")
    subprocess.run([imageio_ffmpeg.get_ffmpeg_exe(), "-y", "-loglevel", "error", "-i", clip_with_audio, "-an",
                    "-c", "copy", "-movflags", "+faststart", full], check=True)
    data = open(full, "rb").read()
    broken = tmp_path / "broken.mp4"
    broken.write_bytes(data[:int(len(data) * 0.6)])  # fails part-way through, every time
    w = MainWindow(engine, str(broken), shots=str(tmp_path), scan_cameras=False)
    qtbot.addWidget(w)
    w.capture.retry_seconds = 0.1
    seen = []
    w.capture.on_status = lambda m: (seen.append(m), w._on_capture_status(m))
    try:
        qtbot.waitUntil(lambda: w.capture.retries >= 2, timeout=60000)
        assert any("failed after" in m and "reconnecting" in m for m in seen)
        assert w.shown >= 1
        w._update_status()
        assert "reconnecting" in w.status.text() or "reading" in w.status.text()
    finally:
        w.close()
    assert not w.threads_alive()


def test_recording_is_finalised_on_close(qtbot, engine, clip_with_audio, tmp_path):
    w = MainWindow(engine, clip_with_audio, loop=True, shots=str(tmp_path), scan_cameras=False)
    qtbot.addWidget(w)
    qtbot.waitUntil(lambda: w.shown >= 2, timeout=60000)
    w.rec_btn.setChecked(True)
    path = w.recorder.path
    n = w.shown
    qtbot.waitUntil(lambda: w.shown >= n + 5, timeout=60000)
    w.close()
    assert os.path.exists(path) and probe(path)[0] >= 5
    assert not [f for f in os.listdir(tmp_path) if "partial" in f]


def test_no_camera_opens_the_window_with_a_message(qtbot, engine, tmp_path):
    w = MainWindow(engine, "0", shots=str(tmp_path), scan_cameras=True)
    qtbot.addWidget(w)
    try:
        if not w.cameras:
            assert "No camera found" in w.view.text()
            assert w.source_box.itemText(w.source_box.count() - 1) == "Open file..."
    finally:
        w.close()
