"""`python main.py --video IN --out OUT` end to end on a real clip with an audio track."""
import json
import os
import shutil
import signal
import subprocess
import sys
import time

import cv2
import imageio_ffmpeg
import numpy as np
import pytest
from pycocotools import mask as mask_utils

from conftest import ROOT, SAMPLE, partial_files, probe, read_all_frames, run_main


@pytest.fixture(scope="module")
def rendered(tmp_path_factory, clip_with_audio):
    d = tmp_path_factory.mktemp("render")
    out, masks = str(d / "out.mp4"), str(d / "masks")
    r = run_main("--video", clip_with_audio, "--out", out, "--save-masks", masks, "--no-contours", "--alpha", "0.6")
    assert r.returncode == 0, r.stderr
    return clip_with_audio, out, masks, r


def test_same_frames_rate_and_audio(rendered):
    clip, out, _, r = rendered
    n_in, fps_in, audio_in = probe(clip)
    n_out, fps_out, audio_out = probe(out)
    assert (n_out, fps_out, audio_out) == (n_in, fps_in, True) and n_in == 20 and fps_in == "29.97"
    summary = r.stdout.strip().splitlines()[-1]
    assert summary.startswith("20 frames") and "provider CPUExecutionProvider" in summary
    for stage in ("decode", "inference", "postprocess", "draw", "encode"):
        assert stage in summary
    assert not [f for f in os.listdir(os.path.dirname(out)) if "partial" in f]


def test_frames_change_only_where_instances_are(rendered):
    clip, out, masks, _ = rendered
    before, after = read_all_frames(clip), read_all_frames(out)
    kernel = np.ones((9, 9), np.uint8)
    found = 0
    for i, (a, b) in enumerate(zip(before, after)):
        ids = cv2.imread(os.path.join(masks, f"frame_{i:06d}.png"), cv2.IMREAD_UNCHANGED)
        assert ids.dtype == np.uint16 and ids.shape == a.shape[:2]
        diff = np.abs(a.astype(int) - b.astype(int)).mean(2)
        fg = ids > 0
        near = cv2.dilate(fg.astype(np.uint8), kernel) > 0
        core = cv2.erode(fg.astype(np.uint8), kernel) > 0
        assert diff[~near].mean() < 3          # only re-encoding noise away from the instances
        if core.any():
            found += 1
            assert diff[core].mean() > 15      # the colour fill, where the id mask says
            # where the overlay changed the picture, the saved id mask has an instance
            assert ((diff > 40) & ~near).sum() < 0.001 * diff.size
    assert found >= 10


def test_masks_json_matches_pngs(rendered):
    _, _, masks, _ = rendered
    data = json.load(open(os.path.join(masks, "masks.json")))
    assert len(data["frames"]) == 20
    ids_seen = set()
    for rec in data["frames"][:5]:
        png = cv2.imread(os.path.join(masks, f"frame_{rec['frame']:06d}.png"), cv2.IMREAD_UNCHANGED)
        expected = np.zeros_like(png)
        for inst in sorted(rec["instances"], key=lambda i: i["score"]):  # overlaps go to the higher score
            m = mask_utils.decode({"size": inst["rle"]["size"], "counts": inst["rle"]["counts"].encode()}).astype(bool)
            expected[m] = inst["id"]
            ids_seen.add(inst["id"])
        assert np.array_equal(png, expected)
    assert ids_seen and min(ids_seen) == 1           # stable ids starting at 1


def test_odd_frame_size_is_padded_not_stretched(tmp_path, clip_with_audio):
    odd = str(tmp_path / "odd.mkv")
    subprocess.run([imageio_ffmpeg.get_ffmpeg_exe(), "-y", "-loglevel", "error", "-i", clip_with_audio,
                    "-vf", "scale=321:241", "-c:v", "ffv1", "-an", odd], check=True)
    out = str(tmp_path / "odd_out.mp4")
    r = run_main("--video", odd, "--out", out)
    assert r.returncode == 0, r.stderr
    meta = next(imageio_ffmpeg.read_frames(out))
    assert meta["size"] == (322, 242)
    assert probe(out)[0] == 20
    a, b = read_all_frames(odd)[0], read_all_frames(out)[0]
    # same geometry: the padded column/row is a copy of the edge, the picture is not rescaled
    assert np.abs(a[:, :, :].astype(int) - b[:241, :321].astype(int)).mean() < 20


def one_line_error(r, expect):
    assert r.returncode == 2, (r.stdout, r.stderr)
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error:") and expect in lines[0], r.stderr


def test_bad_inputs_give_one_line_and_no_output(tmp_path, clip_with_audio):
    out = str(tmp_path / "o.mp4")
    one_line_error(run_main("--video", str(tmp_path / "nope.mp4"), "--out", out), "input not found")
    text = tmp_path / "notes.mp4"
    text.write_text("this is not a video\n" * 100)
    one_line_error(run_main("--video", str(text), "--out", out), "is not a readable video")
    one_line_error(run_main("--video", clip_with_audio, "--out", str(tmp_path / "no" / "dir" / "o.mp4")),
                   "output folder does not exist")
    junk = tmp_path / "model.onnx"
    junk.write_bytes(b"\x08\x01" * 64)
    one_line_error(run_main("--video", clip_with_audio, "--out", out, "--model", str(junk)),
                   "is not a loadable ONNX model")
    assert os.listdir(tmp_path) == [] or set(os.listdir(tmp_path)) == {"notes.mp4", "model.onnx"}


def test_truncated_video_keeps_what_decodes(tmp_path, clip_with_audio):
    full = str(tmp_path / "full.mp4")
    subprocess.run([imageio_ffmpeg.get_ffmpeg_exe(), "-y", "-loglevel", "error", "-i", clip_with_audio, "-c", "copy",
                    "-movflags", "+faststart", full], check=True)
    data = open(full, "rb").read()
    cut = tmp_path / "cut.mp4"
    cut.write_bytes(data[:int(len(data) * 0.6)])
    out = str(tmp_path / "cut_out.mp4")
    r = run_main("--video", str(cut), "--out", out)
    assert r.returncode == 0, r.stderr
    assert "warning: input stopped at frame" in r.stderr  # warnings go to stderr
    n = probe(out)[0]
    assert 0 < n < 20


def test_ctrl_c_finalises_what_was_done(tmp_path):
    # the clip five times over (stream copy), so a loaded machine cannot finish it before the signal
    long_clip = str(tmp_path / "in.mp4")
    subprocess.run([imageio_ffmpeg.get_ffmpeg_exe(), "-y", "-loglevel", "error", "-stream_loop", "4", "-i", SAMPLE,
                    "-c", "copy", long_clip], check=True)
    frames = probe(long_clip)[0]
    out = str(tmp_path / "long.mp4")
    # a whole process group gets SIGINT, as from a terminal's Ctrl-C; the command starts with SIGINT
    # at its default, as from a terminal (a suite run as a background job inherits it ignored)
    p = subprocess.Popen([sys.executable, "main.py", "--video", long_clip, "--out", out], cwd=ROOT,
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True,
                         preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    deadline = time.time() + 120
    while time.time() < deadline and not any(os.path.getsize(p) > 20000 for p in partial_files(tmp_path)):
        time.sleep(0.2)
    os.killpg(p.pid, signal.SIGINT)
    stdout, stderr = p.communicate(timeout=120)
    assert p.returncode == 130, stderr
    assert "interrupted:" in stdout and out in stdout
    n = probe(out)[0]
    assert frames == 5 * 132 and 0 < n < frames
    assert not partial_files(tmp_path)


def test_still_images_with_masks(tmp_path, data_root):
    src = tmp_path / "in"
    src.mkdir()
    val = os.path.join(data_root, "balloon", "val")
    for f in sorted(x for x in os.listdir(val) if x.endswith(".jpg"))[:2]:
        shutil.copy(os.path.join(val, f), src / f)
    r = run_main("--image", str(src), "--out", str(tmp_path / "out"), "--save-masks", str(tmp_path / "m"))
    assert r.returncode == 0, r.stderr
    outs = sorted(os.listdir(tmp_path / "out"))
    assert len(outs) == 2 and all(o.endswith(".png") for o in outs)
    data = json.load(open(tmp_path / "m" / "masks.json"))
    assert len(data["frames"]) == 2 and any(f["instances"] for f in data["frames"])


def test_pipelined_command_keeps_frame_order(tmp_path, clip_with_audio):
    """Decoding, inference and encoding overlap in threads: with nothing drawn, output frame i is
    input frame i (not a neighbour), every frame is there, and so is the audio."""
    out = str(tmp_path / "same.mp4")
    r = run_main("--video", clip_with_audio, "--out", out, "--alpha", "0", "--no-contours")
    assert r.returncode == 0, r.stderr
    before, after = read_all_frames(clip_with_audio), read_all_frames(out)
    assert len(after) == len(before) == 20 and probe(out)[2]
    for i, b in enumerate(after):
        diffs = [np.abs(a.astype(int) - b.astype(int)).mean() for a in before]
        assert int(np.argmin(diffs)) == i
