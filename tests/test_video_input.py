"""Which picture a video file gives. Phone videos: a clip stored sideways with a display rotation (and flips) is read upright, as
players show it, so the network, the masks and the output see the upright picture. ffmpeg's own
autorotation (what players do) is the reference."""
import json
import os
import subprocess

import imageio_ffmpeg
import numpy as np
import pytest

from app.sources import VideoReader
from conftest import probe, run_main

FF = imageio_ffmpeg.get_ffmpeg_exe()
DISPLAY = {"none": [], "rot90": ["-display_rotation", "90"], "rot180": ["-display_rotation", "180"],
           "rot270": ["-display_rotation", "270"], "hflip": ["-display_rotation", "0", "-display_hflip"],
           "vflip": ["-display_rotation", "0", "-display_vflip"],
           "rot90_hflip": ["-display_rotation", "90", "-display_hflip"]}


@pytest.fixture(scope="module")
def stored(tmp_path_factory):
    """A 320x180 test pattern clip, as stored (no display matrix)."""
    d = tmp_path_factory.mktemp("rot")
    path = str(d / "stored.mp4")
    subprocess.run([FF, "-y", "-loglevel", "error", "-f", "lavfi", "-i", "testsrc=size=320x180:rate=10", "-t", "1",
                    "-pix_fmt", "yuv420p", "-c:v", "libx264", path], check=True)
    return path


def with_display(stored, name):
    out = os.path.join(os.path.dirname(stored), f"{name}.mp4")
    if not os.path.exists(out):
        subprocess.run([FF, "-y", "-loglevel", "error", *DISPLAY[name], "-i", stored, "-c", "copy", out], check=True)
    return out


def as_players_show_it(path):
    raw = subprocess.run([FF, "-loglevel", "error", "-i", path, "-frames:v", "1", "-f", "rawvideo", "-pix_fmt", "bgr24",
                          "-"], capture_output=True, check=True).stdout
    return np.frombuffer(raw, np.uint8)


@pytest.mark.parametrize("name", list(DISPLAY))
def test_frames_are_upright_as_players_show_them(stored, name):
    clip = with_display(stored, name)
    reader = VideoReader(clip)
    image = next(iter(reader)).image
    reader.close()
    assert (reader.width, reader.height) == (image.shape[1], image.shape[0])
    assert image.shape[:2] == ((320, 180) if "90" in name or "270" in name else (180, 320))
    reference = as_players_show_it(clip)
    assert reference.size == image.size
    assert np.abs(reference.reshape(image.shape).astype(int) - image).mean() < 3


def test_the_video_command_writes_a_phone_clip_upright_with_masks_in_its_coordinates(tmp_path, clip_with_audio):
    phone = str(tmp_path / "phone.mp4")  # the real test clip stored sideways with rotation 90
    subprocess.run([FF, "-y", "-loglevel", "error", "-display_rotation", "90", "-i", clip_with_audio, "-c", "copy",
                    phone], check=True)
    w, h = VideoReader(clip_with_audio).width, VideoReader(clip_with_audio).height
    out, masks = str(tmp_path / "out.mp4"), str(tmp_path / "m")
    r = run_main("--video", phone, "--out", out, "--save-masks", masks)
    assert r.returncode == 0, r.stderr
    reader = VideoReader(out)
    assert (reader.width, reader.height) == (h, w)  # upright: the stored width is now the height
    frames = json.load(open(os.path.join(masks, "masks.json")))["frames"]
    sizes = {tuple(i["rle"]["size"]) for f in frames for i in f["instances"]}
    assert sizes == {(w, h)}  # RLE size is [height, width] of the upright frame
    assert probe(out)[0] == probe(clip_with_audio)[0]


def test_a_file_with_two_video_streams_is_read_from_the_default_one_and_says_so(tmp_path):
    two = str(tmp_path / "two.mp4")
    subprocess.run([FF, "-y", "-loglevel", "error", "-f", "lavfi", "-i", "testsrc=size=160x120:rate=10", "-f", "lavfi",
                    "-i", "smptebars=size=320x240:rate=10", "-t", "1", "-map", "0:v", "-map", "1:v", "-c:v", "libx264",
                    "-pix_fmt", "yuv420p", "-disposition:v:0", "0", "-disposition:v:1", "default", two], check=True)
    reader = VideoReader(two)
    assert (reader.width, reader.height) == (320, 240) and next(iter(reader)).image.shape == (240, 320, 3)
    r = run_main("--video", two, "--out", str(tmp_path / "o.mp4"))
    assert r.returncode == 0, r.stderr
    assert "2 video streams: using stream 1 (marked default), 320x240" in r.stderr


@pytest.mark.parametrize("ext, codec", [(".mp4", "aac"), (".webm", "opus")])
def test_surround_audio_keeps_its_channels_when_it_is_re_encoded(tmp_path, ext, codec):
    import av
    src = str(tmp_path / "surround.mov")  # PCM 5.1: neither container takes it as it is
    subprocess.run([FF, "-y", "-loglevel", "error", "-f", "lavfi", "-i", "testsrc=size=160x120:rate=10", "-f", "lavfi",
                    "-i", "sine=frequency=440:duration=1", "-t", "1", "-filter_complex",
                    "[1:a]pan=5.1|c0=c0|c1=c0|c2=c0|c3=c0|c4=c0|c5=c0[a]", "-map", "0:v", "-map", "[a]", "-c:v", "libx264",
                    "-pix_fmt", "yuv420p", "-c:a", "pcm_s16le", src], check=True)
    out = str(tmp_path / f"out{ext}")
    r = run_main("--video", src, "--out", out)
    assert r.returncode == 0, r.stderr
    with av.open(out) as c:
        a = c.streams.audio[0].codec_context
        assert (a.name, a.channels, a.layout.name) == (codec, 6, "5.1")
    assert "mixed down" not in r.stderr


def test_the_live_window_shows_a_flipped_and_rotated_phone_clip_upright(stored):
    """The live window reads files through the same reader: rotation and flips both applied."""
    from app.capture import CaptureThread
    clip = with_display(stored, "rot90_hflip")
    capture = CaptureThread(clip)
    capture.start()
    try:
        frame = capture.latest(timeout=30)
    finally:
        capture.stop()
        capture.join(5)
    assert frame is not None and frame.image.shape[:2] == (320, 180)
    reference = as_players_show_it(clip).reshape(frame.image.shape)
    assert np.abs(reference.astype(int) - frame.image).mean() < 3
