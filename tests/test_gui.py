"""The live window (offscreen Qt) as a thin view of the session, with a real video file as source."""
import json
import os

import cv2
import numpy as np
import pytest
from PyQt5.QtCore import Qt

from app.engine import Engine
from app.gui import MainWindow
from app.settings import Settings
from app.tracking import TrackerSettings
from conftest import probe


@pytest.fixture(scope="module")
def engine():
    return Engine(device="cpu")


@pytest.fixture
def window(qtbot, engine, clip_with_audio, tmp_path):
    engine.score_threshold = 0.5
    w = MainWindow(engine, clip_with_audio, loop=True, shots=str(tmp_path / "shots"),
                   settings=Settings(tracking=TrackerSettings(smoothing=False)),
                   scan_cameras=False)
    qtbot.addWidget(w)
    w.show()
    yield w
    w.close()


def test_frames_reach_the_view_with_overlays(qtbot, window):
    qtbot.waitUntil(lambda: window.session.shown_count >= 5, timeout=60000)
    assert not window.view.pixmap().isNull()
    shown = window.session.last_shown
    assert shown.result.instances(), "the clip's elephant should be found"
    assert (shown.picture != shown.result.frame).any()
    window.update_status()
    status = window.status.text()
    assert "CPUExecutionProvider" in status and "fps" in status and "latency" in status and "instances" in status


def test_space_pauses_the_file_and_the_status_says_so(qtbot, window):
    qtbot.waitUntil(lambda: window.session.shown_count >= 3, timeout=60000)
    qtbot.keyClick(window, Qt.Key_Space)
    assert window.pause_btn.isChecked()
    qtbot.wait(2600)  # longer than the meters' window
    window.update_status()
    text = window.status.text()
    assert "PAUSED" in text and "shown 0.0 fps" in text and "latency -" in text


def test_screenshot_writes_every_file_and_matches_the_engine(qtbot, window, engine):
    qtbot.waitUntil(lambda: bool(window.session.last_shown and window.session.last_shown.result.instances()),
                    timeout=60000)
    window.pause_btn.setChecked(True)
    qtbot.wait(300)
    result = window.session.last_shown.result
    paths = window.screenshot()
    names = [os.path.basename(p) for p in paths]
    assert any(n.endswith("_overlay.png") for n in names) and any(n.endswith("_frame.png") for n in names)
    meta = json.load(open([p for p in paths if p.endswith(".json")][0]))
    assert len(meta["instances"]) == len(result.instances())
    frame = cv2.imread([p for p in paths if p.endswith("_frame.png")][0])
    assert np.array_equal(frame, result.frame)
    # what the engine finds on the saved raw frame is what the screenshot saved
    by_score = sorted(engine.run(frame).instances(), key=lambda i: -i.score)
    shots = window.session.shots_folder
    for rec, inst in zip(sorted(meta["instances"], key=lambda r: -r["score"]), by_score):
        mask = cv2.imread(os.path.join(shots, rec["mask"]), cv2.IMREAD_GRAYSCALE) > 0
        cut = cv2.imread(os.path.join(shots, rec["cutout"]), cv2.IMREAD_UNCHANGED)
        assert cut.shape[2] == 4 and ((cut[..., 3] > 0) == inst.mask).all()
        full = inst.full_mask(frame.shape[:2])
        assert (mask & full).sum() / (mask | full).sum() > 0.99
        assert abs(rec["score"] - inst.score) < 1e-3
    assert shots in window.message.text()
    again = window.screenshot()
    assert not set(again) & set(paths)


def test_r_with_an_impossible_folder_shows_a_message_and_keeps_running(qtbot, engine, clip_with_audio, tmp_path):
    blocker = tmp_path / "a_file"
    blocker.write_text("x")
    w = MainWindow(engine, clip_with_audio, loop=True, shots=str(blocker / "shots"), scan_cameras=False)
    qtbot.addWidget(w)
    w.show()
    try:
        qtbot.waitUntil(lambda: w.session.shown_count >= 2, timeout=60000)
        qtbot.keyClick(w, Qt.Key_R)
        assert w.message.text().startswith("cannot record:") and not w.rec_btn.isChecked()
        n = w.session.shown_count
        qtbot.waitUntil(lambda: w.session.shown_count > n + 3, timeout=60000)
    finally:
        w.close()


def test_recording_is_finalised_on_close(qtbot, engine, clip_with_audio, tmp_path):
    w = MainWindow(engine, clip_with_audio, loop=True, shots=str(tmp_path), scan_cameras=False)
    qtbot.addWidget(w)
    qtbot.waitUntil(lambda: w.session.shown_count >= 2, timeout=60000)
    w.rec_btn.setChecked(True)
    path = w.session.recorder.path
    n = w.session.shown_count
    qtbot.waitUntil(lambda: w.session.shown_count >= n + 5, timeout=60000)
    w.close()
    assert os.path.exists(path) and probe(path)[0] >= 5
    assert not [f for f in os.listdir(tmp_path) if "partial" in f]
    assert not w.session.threads_alive()


def test_no_camera_opens_the_window_with_a_message(qtbot, engine, tmp_path):
    w = MainWindow(engine, "0", shots=str(tmp_path), scan_cameras=True)
    qtbot.addWidget(w)
    try:
        if not w.cameras:
            assert "No camera found" in w.view.text()
            assert w.source_box.itemText(w.source_box.count() - 1) == "Open file..."
    finally:
        w.close()


def test_missing_file_is_said_in_the_window(qtbot, engine, tmp_path):
    w = MainWindow(engine, str(tmp_path / "gone.mp4"), shots=str(tmp_path), scan_cameras=False)
    qtbot.addWidget(w)
    try:
        qtbot.waitUntil(lambda: "file not found" in w.message.text(), timeout=10000)
        assert "file not found" in w.view.text()
    finally:
        w.close()


def widget_point(view, x, y):
    """Frame pixel -> point in the view (the picture is centred with its aspect kept)."""
    from PyQt5.QtCore import QPoint
    fh, fw = view.frame_size
    scale = min(view.width() / fw, view.height() / fh)
    return QPoint(int((view.width() - fw * scale) / 2 + (x + 0.5) * scale),
                  int((view.height() - fh * scale) / 2 + (y + 0.5) * scale))


def test_click_keeps_one_instance_ctrl_click_adds_and_esc_shows_all(qtbot, engine, tmp_path):
    from conftest import SAMPLE
    w = MainWindow(engine, SAMPLE, loop=True, shots=str(tmp_path), scan_cameras=False)
    qtbot.addWidget(w)
    w.show()
    s = w.session
    try:
        qtbot.waitUntil(lambda: s.last_shown is not None and len(s.last_shown.result) >= 2, timeout=60000)
        w.pause_btn.setChecked(True)
        shown = s.last_shown.result
        insts = sorted(shown.instances(), key=lambda i: i.score)
        ids = shown.id_mask()

        def click(inst, modifier=Qt.NoModifier):
            ys, xs = np.nonzero(ids == inst.id)
            k = len(xs) // 2
            qtbot.mouseClick(w.view, Qt.LeftButton, modifier, widget_point(w.view, xs[k], ys[k]))
        click(insts[0])
        assert s.settings.selection.ids == {insts[0].id}
        w.update_status()
        assert f"keeping #{insts[0].id}" in w.status.text()
        click(insts[1], Qt.ControlModifier)
        assert s.settings.selection.ids == {insts[0].id, insts[1].id}
        click(insts[1], Qt.ControlModifier)
        assert s.settings.selection.ids == {insts[0].id}
        w.pause_btn.setChecked(False)
        n = s.shown_count
        qtbot.waitUntil(lambda: s.shown_count > n + 3, timeout=60000)
        assert set(s.last_shown.result.track_ids().tolist()) <= {insts[0].id}
        qtbot.keyClick(w, Qt.Key_Escape)
        assert not s.settings.selection.active()
    finally:
        w.close()


def test_e_switches_the_effect_and_the_picture_follows(qtbot, window):
    s = window.session
    qtbot.waitUntil(lambda: s.shown_count >= 2, timeout=60000)
    qtbot.keyClick(window, Qt.Key_E)
    assert s.settings.effect.name == "blur" and window.effect_box.currentText() == "blur"
    n = s.shown_count
    qtbot.waitUntil(lambda: s.shown_count > n + 2, timeout=60000)
    r = s.last_shown.result
    inside = cv2.erode((r.id_mask() > 0).astype(np.uint8), np.ones((15, 15), np.uint8)) > 0
    assert inside.any() and (s.last_shown.picture[inside] == r.frame[inside]).all()   # the object itself is untouched
    window.update_status()
    assert "effect blur" in window.status.text()


def test_g_switches_between_refined_and_raw_masks_from_the_next_frame(qtbot, window, engine):
    qtbot.waitUntil(lambda: window.session.shown_count >= 2, timeout=60000)
    assert window.edges.isChecked() and window.session.last_shown.result.refine
    try:
        qtbot.keyClick(window, Qt.Key_G)
        assert not window.edges.isChecked() and window.settings.refine is False
        shown = window.session.shown_count
        qtbot.waitUntil(lambda: window.session.shown_count >= shown + 3, timeout=60000)
        assert window.session.last_shown.result.refine is False
    finally:
        window.edges.setChecked(True)
    assert window.settings.refine is True


def test_t_switches_steady_instances_off_and_on_keeping_the_smoothing(qtbot, window):
    qtbot.waitUntil(lambda: window.session.shown_count >= 2, timeout=60000)
    settings = window.settings
    assert window.steady.isChecked() and settings.tracking.confirm_frames == 2
    qtbot.keyClick(window, Qt.Key_T)
    assert not window.steady.isChecked()
    assert settings.tracking.confirm_frames == 1 and settings.tracking.persist_frames == 0
    assert settings.tracking.smoothing is False  # as the window was opened
    n = window.session.shown_count
    qtbot.waitUntil(lambda: window.session.shown_count > n + 1, timeout=60000)
    assert window.session.pipeline.tracker.settings == settings.tracking  # the tracker follows from the next frame
    qtbot.keyClick(window, Qt.Key_T)
    assert window.steady.isChecked() and settings.tracking == TrackerSettings(smoothing=False)
