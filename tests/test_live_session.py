"""The live session without Qt: sources, pause, meters that fall to zero, failing sources,
recording (timing, unwritable folder, full disk) and screenshots, on a real clip."""
import errno
import os
import threading
import time

import pytest

from app.engine import Engine
from app.live_session import LiveSession, RateMeter
from app.video_io import VideoWriter
from conftest import frame_times, read_all_frames


@pytest.fixture(scope="module")
def engine():
    return Engine(device="cpu")


class Viewer:
    """Stands in for the window: shows every result the session publishes, records messages."""

    def __init__(self):
        self.messages, self.shown = [], 0
        self.session = None

    def on_result(self, result):
        self.session.shown(result)
        self.shown += 1


def make_session(engine, tmp_path, loop=True, window=0.5):
    v = Viewer()
    s = LiveSession(engine, shots_folder=str(tmp_path / "shots"), loop=loop, on_result=v.on_result,
                    on_message=v.messages.append, window=window)
    v.session = s
    return s, v


def wait_for(predicate, timeout=60):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if predicate():
            return True
        time.sleep(0.02)
    return False


def test_rate_meter_falls_to_zero_when_events_stop():
    now = [0.0]
    m = RateMeter(window=1.0, clock=lambda: now[0])
    for i in range(11):
        m.tick(i * 0.1)
    now[0] = 1.0
    assert abs(m.rate() - 10) < 0.5
    now[0] = 3.0
    assert m.rate() == 0.0


def test_results_flow_and_status_reports_what_runs(engine, tmp_path, clip_with_audio):
    s, v = make_session(engine, tmp_path)
    s.start(clip_with_audio)
    try:
        assert wait_for(lambda: v.shown >= 5)
        st = s.status()
        assert st.provider == "CPUExecutionProvider" and st.model == "s4net.onnx"
        assert st.capture_fps > 0 and st.inference_fps > 0 and st.shown_fps > 0 and st.latency_ms is not None
        r = s.last_shown.result
        assert r.instances() and "decode" in r.timings and r.captured_at is not None
    finally:
        s.close()
    assert not s.threads_alive()


def test_pause_stops_a_file_source_and_the_meters(engine, tmp_path, clip_with_audio):
    s, v = make_session(engine, tmp_path)
    s.start(clip_with_audio)
    try:
        assert wait_for(lambda: v.shown >= 3)
        s.pause(True)
        time.sleep(0.3)
        frames = s.capture.frames
        time.sleep(1.0)
        assert s.capture.frames == frames            # a paused file does not advance
        st = s.status()
        assert st.paused and st.capture_fps == 0 and st.shown_fps == 0 and st.latency_ms is None
        assert "PAUSED" in st.text() and "latency -" in st.text()
        s.pause(False)
        assert wait_for(lambda: s.capture.frames > frames)
    finally:
        s.close()


def test_end_of_file_clears_the_rates(engine, tmp_path, clip_with_audio):
    s, v = make_session(engine, tmp_path, loop=False)
    s.start(clip_with_audio)
    try:
        assert wait_for(lambda: s.capture.finished)
        time.sleep(0.7)
        st = s.status()
        assert st.source.startswith("end of") and st.capture_fps == st.inference_fps == st.shown_fps == 0
        assert st.latency_ms is None
    finally:
        s.close()


def test_missing_file_source_is_reported_once(engine, tmp_path):
    s, v = make_session(engine, tmp_path)
    s.start(str(tmp_path / "gone.mp4"))
    try:
        assert wait_for(lambda: s.capture.finished, 10)
        time.sleep(0.5)
        assert v.messages == ["cannot open gone.mp4: file not found"] and s.capture.retries == 0
    finally:
        s.close()


def test_broken_file_source_is_reported_once(engine, tmp_path, clip_with_audio):
    data = open(clip_with_audio, "rb").read()
    broken = tmp_path / "broken.mp4"
    broken.write_bytes(data[:len(data) // 2] + b"\x00" * 1000)
    s, v = make_session(engine, tmp_path)
    s.start(str(broken))
    try:
        assert wait_for(lambda: s.capture.finished, 60)
        time.sleep(0.5)
        assert len(v.messages) == 1 and "broken.mp4" in v.messages[0] and s.capture.retries == 0
    finally:
        s.close()


def test_recording_lasts_as_long_as_the_wall_clock(engine, tmp_path, clip_with_audio):
    """Shown at an uneven rate (5 fps, then 20 fps), a 3-second recording lasts 3 seconds."""
    now = [100.0]
    s, _ = make_session(engine, tmp_path)
    s.clock = lambda: now[0]
    result = s.pipeline.process(read_all_frames(clip_with_audio)[0])  # a Shown
    s.shown(result, at=now[0])
    assert s.start_recording()
    t = 0.0
    while t < 3.0 - 1e-9:
        t += 0.2 if t < 1.5 else 0.05
        now[0] = 100.0 + t
        s.shown(result, at=now[0])
    path = s.recorder.path
    assert s.stop_recording() == path
    times, _ = frame_times(path)
    duration = times[-1] + 1 / 30
    assert abs(duration - 3.0) < 0.1, duration


def test_recording_into_an_impossible_folder_is_a_message(engine, tmp_path, clip_with_audio):
    blocker = tmp_path / "a_file"
    blocker.write_text("x")
    s, v = make_session(engine, tmp_path)
    s.shots_folder = str(blocker / "shots")
    s.start(clip_with_audio)
    try:
        assert wait_for(lambda: v.shown >= 2)
        assert s.start_recording() is False and s.recorder is None
        assert v.messages[-1].startswith("cannot record:")
        n = v.shown
        assert wait_for(lambda: v.shown > n + 3)     # still alive and running
        assert s.screenshot() is None and v.messages[-1].startswith("screenshot failed:")
    finally:
        s.close()


def test_full_disk_while_recording_never_blocks_the_display(engine, tmp_path, clip_with_audio, monkeypatch):
    real_write = VideoWriter.write
    calls = [0]

    def write_until_full(self, image, t=None):
        calls[0] += 1
        if calls[0] > 3:
            raise OSError(errno.ENOSPC, "No space left on device")
        return real_write(self, image, t)
    monkeypatch.setattr(VideoWriter, "write", write_until_full)
    s, v = make_session(engine, tmp_path)
    s.start(clip_with_audio)
    try:
        assert wait_for(lambda: v.shown >= 2)
        assert s.start_recording()
        # stopped by the error, said once ...
        assert wait_for(lambda: "recording stopped: disk full" in v.messages, 30), v.messages
        assert s.recorder is None
        n = v.shown
        assert wait_for(lambda: v.shown > n + 5)                   # ... and the display goes on
        t0 = time.perf_counter()
        for _ in range(200):
            s.shown(s.last_shown)
        assert time.perf_counter() - t0 < 2
    finally:
        s.close()
    shots = tmp_path / "shots"
    assert not [f for f in os.listdir(shots) if "partial" in f or f.endswith(".mp4")]


def test_repeated_start_stop_leaves_no_thread(engine, tmp_path, clip_with_audio):
    before = threading.active_count()
    s, v = make_session(engine, tmp_path)
    for _ in range(3):
        n = v.shown
        s.start(clip_with_audio)
        assert wait_for(lambda: v.shown > n)
        s.stop()
        assert not s.threads_alive()
    assert threading.active_count() <= before


def test_the_status_line_starts_with_the_state_a_narrow_window_must_not_hide():
    from app.live_session import Status
    st = Status(capture_fps=25.0, inference_fps=24.0, shown_fps=24.0, latency_ms=30.0, provider="CPUExecutionProvider",
                model="s4net.onnx", instances=2, source="reading clip.mp4", paused=True, recording=True,
                effect="blur", selection="keeping #1")
    assert st.text().startswith("REC | PAUSED | effect blur | keeping #1 | 2 instances")
    st.paused, st.recording, st.effect, st.selection = False, False, "overlay", ""
    assert st.text().startswith("reading clip.mp4 | 2 instances | shown 24.0 fps")
