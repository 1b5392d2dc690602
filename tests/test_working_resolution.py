"""Working at the resolution that is seen: the live window makes, refines and draws masks at the
size it shows, and keeps the source's full resolution for screenshots and recordings; the video
command makes a large frame's masks at half size and draws them on the full frame; queues of
frames hold a bounded number of bytes, whatever the frame size."""
import json
import os
import subprocess
import sys
import time

import cv2
import numpy as np

from app.frame_loop import queue_depth
from app.live_session import LiveSession
from app.pipeline import Pipeline, halvings
from app.sources import Frame, VideoReader
from conftest import ROOT, SAMPLE


def iou(a, b):
    return (a & b).sum() / max((a | b).sum(), 1)


def test_a_frame_is_halved_to_the_size_nearest_the_view():
    assert halvings((1080, 1920), (980, 551)) == 1      # 960x540, scaled the last 2% by the view
    assert halvings((2160, 3840), (980, 551)) == 2
    assert halvings((720, 1280), (980, 551)) == 0       # 1.3x: shown at its own size, scaled by the view
    assert halvings((480, 640), (980, 551)) == 0


def test_queues_hold_at_most_a_bounded_number_of_bytes():
    assert queue_depth((720, 1280)) == 4 and queue_depth((1080, 1920)) == 4
    assert queue_depth((2160, 3840)) == 1 and queue_depth((4320, 7680)) == 1


def test_frames_in_flight_are_bounded_by_the_queue_depth_including_the_one_being_handled():
    import threading

    from app.frame_loop import prefetch
    from app.video_io import BackgroundWriter

    class SlowWriter:
        def __init__(self):
            self.go, self.written = threading.Event(), []

        def write(self, image, t=None):
            self.go.wait(5)
            self.written.append(image)

        def finish(self, end_time=None):
            return self.written

    slow = SlowWriter()
    writer = BackgroundWriter(slow, depth=1)
    assert writer.offer("frame 0")
    assert not writer.offer("frame 1")  # frame 0 is being written: no room for another
    slow.go.set()
    assert writer.finish() == ["frame 0"]

    decoded = []

    def frames():
        for i in range(5):
            decoded.append(i)
            yield Frame(np.zeros((2, 2, 3), np.uint8), i, i / 25)

    it = prefetch(frames(), depth=1)
    assert next(it).index == 0
    time.sleep(0.3)
    assert decoded == [0, 1]  # one decoded ahead, not two (the next waits for a free slot)
    assert [f.index for f in it] == [1, 2, 3, 4]


def test_the_working_size_shows_the_full_size_instances(engine_cpu):
    frames = [f.image for f in VideoReader(SAMPLE) if 56 <= f.index < 62]   # 1280x720: bunny, rock
    full, small = Pipeline(engine_cpu), Pipeline(engine_cpu, work_size=(640, 360))
    for frame in frames:
        a, b = full.process(frame), small.process(frame)
    assert b.picture.shape == (360, 640, 3) and b.source_frame is frame
    assert a.result.track_ids().tolist() == b.result.track_ids().tolist() and len(a.result) >= 1
    for i, j in zip(a.result.instances(), b.result.instances()):
        big = cv2.resize(j.full_mask((360, 640)).view(np.uint8), (1280, 720), interpolation=cv2.INTER_NEAREST) > 0
        assert iou(i.full_mask((720, 1280)), big) > 0.9
    # what a screenshot or a recording keeps: the source's resolution, masks made there again
    kept = small.full_size(b)
    assert kept.picture.shape == (720, 1280, 3) and np.array_equal(kept.result.frame, frame)
    for i, j in zip(a.result.instances(), kept.result.instances()):
        assert iou(i.full_mask((720, 1280)), j.full_mask((720, 1280))) > 0.95


def test_the_live_window_works_at_the_view_size_but_saves_the_source_size(engine_cpu, tmp_path):
    shown = []
    s = LiveSession(engine_cpu, shots_folder=str(tmp_path), loop=True, on_result=shown.append)
    s.set_view_size(640, 360)
    s.start(SAMPLE)
    try:
        deadline = time.time() + 60
        while time.time() < deadline and not (shown and len(shown[-1].result)):
            time.sleep(0.05)
        last = shown[-1]
        assert last.picture.shape == (360, 640, 3) and last.source_frame.shape == (720, 1280, 3)
        s.shown(last)
        assert s.start_recording()
        for k in range(5):
            s.shown(shown[-1], at=time.monotonic() + 0.04 * k)
        paths = s.screenshot()
        video = s.stop_recording()
    finally:
        s.close()
    by_kind = {os.path.basename(p).split("_", 3)[-1]: p for p in paths}
    assert cv2.imread(by_kind["overlay.png"]).shape == (720, 1280, 3)
    assert cv2.imread(by_kind["frame.png"]).shape == (720, 1280, 3)
    meta = json.load(open(by_kind["instances.json"]))
    assert meta["frame_size"] == [720, 1280] and all(i["rle"]["size"] == [720, 1280] for i in meta["instances"])
    reader = VideoReader(video)
    assert (reader.width, reader.height) == (1280, 720)
    reader.close()


def test_the_video_command_draws_a_large_frames_masks_at_full_size(tmp_path, davis_frame):
    image, _ = davis_frame
    big = cv2.resize(image, (3840, 2160), interpolation=cv2.INTER_CUBIC)   # 4K: masks made at 1920x1080
    pics = tmp_path / "in"
    pics.mkdir()
    for i in range(3):
        cv2.imwrite(str(pics / f"{i:03d}.png"), big)
    clip = tmp_path / "big.mp4"
    import imageio_ffmpeg
    subprocess.run([imageio_ffmpeg.get_ffmpeg_exe(), "-loglevel", "error", "-framerate", "25", "-i",
                    str(pics / "%03d.png"), "-c:v", "libx264", "-crf", "12", "-pix_fmt", "yuv420p", str(clip)], check=True)
    r = subprocess.run([sys.executable, os.path.join(ROOT, "main.py"), "--video", str(clip), "--out",
                        str(tmp_path / "out.mp4"), "--save-masks", str(tmp_path / "masks"), "--device", "cpu"],
                       capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    out = VideoReader(str(tmp_path / "out.mp4"))
    assert (out.width, out.height) == (3840, 2160)
    out.close()
    ids = cv2.imread(str(tmp_path / "masks" / "frame_000002.png"), cv2.IMREAD_UNCHANGED)
    assert ids.shape == (2160, 3840) and ids.max() >= 1
    assert halvings((2160, 3840), (1920, 1088)) == 1
    # the same instances as masks made at full size, within the half-size grid's staircase
    from app.engine import Engine
    direct = Pipeline(Engine(device="cpu"), track=False).process(next(iter(VideoReader(str(clip)))).image)
    union = np.zeros((2160, 3840), bool)
    for inst in direct.result.instances():
        union |= inst.full_mask((2160, 3840))
    assert iou(union, ids > 0) > 0.95
