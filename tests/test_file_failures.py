"""Every way a user can break the file commands: each ends in one `error:` line and exit status 2
(or keeps working where it should), leaves nothing half-written, and never touches the input."""
import hashlib
import json
import os
import re
import resource
import shutil
import signal
import subprocess
import sys
import time

import cv2
import imageio_ffmpeg
import numpy as np
import pytest

from conftest import ROOT, SAMPLE, davis_frames_dir, frame_times, make_clip, partial_files, run_main


def one_line_error(r, expect):
    """Exit 2 and exactly one line besides the progress bar: `error: ...`."""
    assert r.returncode == 2, (r.returncode, r.stdout, r.stderr)
    lines = [ln for ln in r.stderr.replace("\r", "\n").strip().splitlines()
             if ln.strip() and not re.match(r"(video|images):", ln)]
    assert len(lines) == 1 and lines[0].startswith("error:") and expect in lines[0], r.stderr


def digest(path):
    return hashlib.sha256(open(path, "rb").read()).hexdigest()


@pytest.fixture(scope="module")
def vfr_clip(tmp_path_factory, data_root):
    """20 real frames, the first 10 at 30 fps and the last 10 at 10 fps (a phone-style VFR file), with audio."""
    d = tmp_path_factory.mktemp("vfr")
    pattern = davis_frames_dir(str(d), data_root)
    return make_clip(str(d / "vfr.mp4"), None, "-framerate", "30", "-i", pattern,
                     vf="setpts='if(lt(N,10),N/30,10/30+(N-10)/10)/TB'", fps_mode="vfr",
                     audio="sine=frequency=440:duration=1.33")


def test_variable_frame_rate_keeps_every_frame_at_its_time(tmp_path, vfr_clip):
    times_in, audio_in = frame_times(vfr_clip)
    assert len(times_in) == 20 and times_in[-1] > 1.2  # really variable: 10 frames 1/30 apart, 10 frames 1/10
    out = str(tmp_path / "out.mp4")
    r = run_main("--video", vfr_clip, "--out", out)
    assert r.returncode == 0, r.stderr
    times_out, audio_out = frame_times(out)
    assert len(times_out) == len(times_in)
    assert max(abs(a - b) for a, b in zip(times_in, times_out)) < 0.002
    assert audio_out is not None and abs(audio_out - audio_in) < 0.1


def test_out_equal_to_input_is_refused_and_the_input_untouched(tmp_path, clip_with_audio):
    clip = str(tmp_path / "clip.mp4")
    shutil.copy(clip_with_audio, clip)
    before = digest(clip)
    one_line_error(run_main("--video", clip, "--out", clip), "is the input file")
    one_line_error(run_main("--video", clip, "--out", os.path.join(str(tmp_path), ".", "clip.mp4")),
                   "is the input file")
    assert digest(clip) == before and sorted(os.listdir(tmp_path)) == ["clip.mp4"]


@pytest.mark.parametrize("ext", [".gif", ".avi", ".flv", ""])  # .webm is VP9 since the effects work
def test_output_formats_the_encoder_cannot_write(tmp_path, clip_with_audio, ext):
    one_line_error(run_main("--video", clip_with_audio, "--out", str(tmp_path / f"o{ext}")), "cannot write")
    assert os.listdir(tmp_path) == []


def limited_file_size(max_bytes):
    """A child process whose files cannot grow past max_bytes: writes fail as on a full disk."""
    def apply():
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (max_bytes, max_bytes))
    return apply


def test_full_disk_during_video(tmp_path, clip_with_audio):
    out = str(tmp_path / "o.mp4")
    r = subprocess.run([sys.executable, "main.py", "--video", clip_with_audio, "--out", out], cwd=ROOT,
                       capture_output=True, text=True, timeout=300, preexec_fn=limited_file_size(60_000))
    one_line_error(r, "cannot write")
    assert "Traceback" not in r.stderr and os.listdir(tmp_path) == []


def test_full_disk_while_saving_masks(tmp_path, clip_with_audio):
    # masks.json (20 frames of RLE) is larger than any one id PNG: the limit lets the PNGs through and
    # stops the JSON, which is written last
    out, masks = str(tmp_path / "o.mkv"), str(tmp_path / "m")
    r = subprocess.run([sys.executable, "main.py", "--video", clip_with_audio, "--out", out, "--save-masks", masks],
                       cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    json_size = os.path.getsize(os.path.join(masks, "masks.json"))
    biggest_png = max(os.path.getsize(os.path.join(masks, f)) for f in os.listdir(masks) if f.endswith(".png"))
    video_size = os.path.getsize(out)
    shutil.rmtree(masks)
    os.remove(out)
    if not biggest_png < json_size:
        pytest.skip("id PNGs larger than the JSON on this clip")
    limit = (biggest_png + json_size) // 2
    r = subprocess.run([sys.executable, "main.py", "--video", clip_with_audio, "--out", str(tmp_path / "o.mp4"),
                        "--save-masks", masks, "--no-contours"], cwd=ROOT, capture_output=True, text=True,
                       timeout=300, preexec_fn=limited_file_size(max(limit, video_size + 1)
                                                                 if video_size < json_size else limit))
    one_line_error(r, "cannot write")
    assert "Traceback" not in r.stderr
    assert os.listdir(tmp_path) == ["m"] and os.listdir(masks) == []  # no video, no masks without their JSON


def test_sigterm_finalises_like_ctrl_c(tmp_path):
    out = str(tmp_path / "long.mp4")
    p = subprocess.Popen([sys.executable, "main.py", "--video", SAMPLE, "--out", out], cwd=ROOT,
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.time() + 120
    while time.time() < deadline and not any(os.path.getsize(p) > 20000 for p in partial_files(tmp_path)):
        time.sleep(0.2)
    p.send_signal(signal.SIGTERM)
    stdout, stderr = p.communicate(timeout=120)
    assert p.returncode == 130, stderr
    assert "interrupted:" in stdout
    times, audio = frame_times(out)
    assert 0 < len(times) < 132 and not partial_files(tmp_path)
    # the audio is cut where the video stops
    assert audio is not None and abs(audio - (times[-1] + 1 / 25)) < 0.1


def test_audio_longer_than_video_is_no_warning(tmp_path, data_root):
    pattern = davis_frames_dir(str(tmp_path), data_root)
    clip = make_clip(str(tmp_path / "long_audio.mp4"), None, "-framerate", "30", "-i", pattern,
                     audio="sine=frequency=440:duration=3")
    out = str(tmp_path / "o.mp4")
    r = run_main("--video", clip, "--out", out)
    assert r.returncode == 0, r.stderr
    assert "warning" not in r.stdout + r.stderr
    assert len(frame_times(out)[0]) == 20


def test_audio_only_input(tmp_path):
    audio = str(tmp_path / "tone.m4a")
    subprocess.run([imageio_ffmpeg.get_ffmpeg_exe(), "-y", "-loglevel", "error", "-f", "lavfi", "-i",
                    "sine=frequency=440:duration=1", "-c:a", "aac", audio], check=True)
    one_line_error(run_main("--video", audio, "--out", str(tmp_path / "o.mp4")), "has no video stream")


def test_model_folder(tmp_path, clip_with_audio):
    one_line_error(run_main("--video", clip_with_audio, "--out", str(tmp_path / "o.mp4"), "--model", str(tmp_path)),
                   "is a folder, not an ONNX file")


@pytest.mark.parametrize("option", [["--alpha", "3"], ["--alpha", "-0.1"], ["--threshold", "1.5"],
                                    ["--threshold", "x"], ["--max-instances", "0"]])
def test_out_of_range_options_are_usage_errors(tmp_path, clip_with_audio, option):
    r = run_main("--video", clip_with_audio, "--out", str(tmp_path / "o.mp4"), *option)
    assert r.returncode == 2 and option[0] in r.stderr.strip().splitlines()[-1]
    assert os.listdir(tmp_path) == []


def test_images_sharing_a_name_get_separate_outputs(tmp_path, data_root):
    src = tmp_path / "in"
    src.mkdir()
    val = os.path.join(data_root, "balloon", "val")
    first, second = sorted(f for f in os.listdir(val) if f.endswith(".jpg"))[:2]
    shutil.copy(os.path.join(val, first), src / "a.jpg")
    cv2.imwrite(str(src / "a.png"), cv2.imread(os.path.join(val, second)))
    r = run_main("--image", str(src), "--out", str(tmp_path / "out"), "--save-masks", str(tmp_path / "m"))
    assert r.returncode == 0, r.stderr
    outs = sorted(os.listdir(tmp_path / "out"))
    assert outs == ["a_jpg.png", "a_png.png"]
    a, b = (cv2.imread(str(tmp_path / "out" / o)) for o in outs)
    assert a.shape != b.shape or (a != b).any()
    frames = json.load(open(tmp_path / "m" / "masks.json"))["frames"]
    assert sorted(f["image"] for f in frames) == ["a_jpg_ids.png", "a_png_ids.png"]


def test_image_out_extension_sets_the_format(tmp_path, data_root):
    val = os.path.join(data_root, "balloon", "val")
    img = os.path.join(val, sorted(f for f in os.listdir(val) if f.endswith(".jpg"))[0])
    r = run_main("--image", img, "--out", str(tmp_path / "y.jpg"))
    assert r.returncode == 0, r.stderr
    assert open(tmp_path / "y.jpg", "rb").read(3) == b"\xff\xd8\xff"  # JPEG, not PNG bytes
    one_line_error(run_main("--image", img, "--out", str(tmp_path / "y.xyz")), "cannot write .xyz images")


def test_save_masks_under_a_file(tmp_path, data_root, clip_with_audio):
    blocker = tmp_path / "file.txt"
    blocker.write_text("x")
    val = os.path.join(data_root, "balloon", "val")
    img = os.path.join(val, sorted(f for f in os.listdir(val) if f.endswith(".jpg"))[0])
    one_line_error(run_main("--image", img, "--out", str(tmp_path / "o.png"), "--save-masks", str(blocker / "m")),
                   "cannot create mask folder")
    one_line_error(run_main("--video", clip_with_audio, "--out", str(tmp_path / "o.mp4"), "--save-masks",
                            str(blocker)), "is a file, not a folder")
    assert sorted(os.listdir(tmp_path)) == ["file.txt"]


def test_two_writers_of_one_file_never_share_a_temporary_name(tmp_path):
    from app.video_io import partial_path
    out = str(tmp_path / "same.mp4")
    first, second = partial_path(out), partial_path(out)
    assert first != second and os.path.dirname(first) == str(tmp_path)
    assert os.path.basename(first).startswith(".same.") and first.endswith(".partial.mp4")


def test_two_runs_writing_the_same_out_leave_one_runs_whole_file(tmp_path, data_root):
    val = os.path.join(data_root, "balloon", "val")
    img = os.path.join(val, sorted(f for f in os.listdir(val) if f.endswith(".jpg"))[0])
    out = str(tmp_path / "o.png")
    runs = [subprocess.Popen([sys.executable, "main.py", "--image", img, "--out", out], cwd=ROOT,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE) for _ in range(3)]
    assert [p.wait(timeout=300) for p in runs] == [0, 0, 0]
    assert cv2.imread(out) is not None and os.listdir(tmp_path) == ["o.png"]


def test_a_longest_allowed_output_name_works_and_a_longer_one_is_one_line(tmp_path, data_root):
    val = os.path.join(data_root, "balloon", "val")
    img = os.path.join(val, sorted(f for f in os.listdir(val) if f.endswith(".jpg"))[0])
    name = "n" * 251 + ".png"  # 255 bytes: the most a file name may have
    r = run_main("--image", img, "--out", str(tmp_path / name))
    assert r.returncode == 0, r.stderr
    assert os.listdir(tmp_path) == [name]
    one_line_error(run_main("--image", img, "--out", str(tmp_path / ("n" * 252 + ".png"))), "file name is 256 bytes")
    one_line_error(run_main("--image", img, "--out", "/tmp/" + "d/" * 2100 + "o.png"), "the system allows 4095")


def test_usage_errors_are_one_line_with_a_pointer_to_help(tmp_path, clip_with_audio):
    r = run_main("--video", clip_with_audio, "--out", str(tmp_path / "o.mp4"), "--frobnicate")
    one_line_error(r, "unrecognized arguments: --frobnicate")
    assert "--help" in r.stderr and r.stdout == ""
    one_line_error(run_main("--video", clip_with_audio, "--image", clip_with_audio, "--out", str(tmp_path / "o.mp4")),
                   "give one of them")


def test_a_folder_of_images_needs_a_folder_to_write_to(tmp_path, data_root):
    src = tmp_path / "in"
    src.mkdir()
    val = os.path.join(data_root, "balloon", "val")
    shutil.copy(os.path.join(val, sorted(f for f in os.listdir(val) if f.endswith(".jpg"))[0]), src / "a.jpg")
    one_line_error(run_main("--image", str(src), "--out", str(tmp_path / "single.png")), "must be a folder")
    assert not os.path.exists(tmp_path / "single.png")
    r = run_main("--image", str(src))  # by default beside it, never in the current folder
    assert r.returncode == 0, r.stderr
    assert os.listdir(tmp_path / "in_s4net") == ["a.png"] and not os.path.exists(os.path.join(ROOT, "annotated"))


def test_keep_ids_that_never_appear_are_named_at_the_end(tmp_path, clip_with_audio):
    r = run_main("--video", clip_with_audio, "--out", str(tmp_path / "o.mp4"), "--keep-ids", "1,999")
    assert r.returncode == 0, r.stderr
    assert "--keep-ids 999 never appeared" in r.stderr and "never appeared" not in r.stdout


def test_the_api_names_what_is_not_a_frame(engine_cpu):
    from app.engine import EngineError
    for bad in ([[1, 2, 3]], "frame.png", np.zeros((0, 0, 3), np.uint8), np.zeros((4, 4), np.uint8)):
        with pytest.raises(EngineError, match="HxWx3 uint8"):
            engine_cpu.run(bad)


def non_utf8_name(folder, stem, ext):
    """A file name with bytes that are not UTF-8 (as some cameras and old archives write them)."""
    return os.path.join(os.fsdecode(os.fsencode(str(folder))), os.fsdecode(stem.encode() + b"\xff\xfe" + ext.encode()))


def test_file_names_that_are_not_utf8_are_read(tmp_path, data_root, clip_with_audio):
    val = os.path.join(data_root, "balloon", "val")
    src = tmp_path / "in"
    src.mkdir()
    odd = non_utf8_name(src, "photo", ".jpg")
    shutil.copy(os.path.join(val, sorted(f for f in os.listdir(val) if f.endswith(".jpg"))[0]), odd)
    shutil.copy(os.path.join(val, sorted(f for f in os.listdir(val) if f.endswith(".jpg"))[1]), src / "plain.jpg")
    r = run_main("--image", odd, "--out", str(tmp_path / "one.png"))
    assert r.returncode == 0, r.stderr
    r = run_main("--image", str(src), "--out", str(tmp_path / "all"))
    assert r.returncode == 0 and len(os.listdir(tmp_path / "all")) == 2, r.stderr  # the folder run goes on
    r = run_main("--video", clip_with_audio, "--out", str(tmp_path / "o.mp4"), "--effect", "replace", odd)
    assert r.returncode == 0, r.stderr


def test_the_live_session_plays_a_file_whose_name_is_not_utf8(engine_cpu, tmp_path, clip_with_audio):
    from app.live_session import LiveSession
    odd = non_utf8_name(tmp_path, "clip", ".mp4")
    shutil.copy(clip_with_audio, odd)
    shown = []
    s = LiveSession(engine_cpu, shots_folder=str(tmp_path), on_result=shown.append)
    s.start(odd)
    try:
        deadline = time.time() + 60
        while time.time() < deadline and len(shown) < 3:
            time.sleep(0.1)
        assert len(shown) >= 3 and shown[0].result.instances()
        s.status().text().encode("utf-8")  # the status bar can show the name
    finally:
        s.close()


def test_an_out_that_is_a_symbolic_link_stays_a_link_and_its_target_gets_the_output(tmp_path, data_root):
    val = os.path.join(data_root, "balloon", "val")
    img = os.path.join(val, sorted(f for f in os.listdir(val) if f.endswith(".jpg"))[0])
    (tmp_path / "real").mkdir()
    target = tmp_path / "real" / "result.png"
    target.write_bytes(b"old")
    link = tmp_path / "latest.png"
    link.symlink_to(target)
    r = run_main("--image", img, "--out", str(link))
    assert r.returncode == 0, r.stderr
    assert link.is_symlink() and os.readlink(link) == str(target)
    assert cv2.imread(str(target)) is not None and not partial_files(tmp_path / "real")


def test_a_truncated_picture_is_one_line_without_opencvs_warnings(tmp_path):
    trunc = tmp_path / "trunc.png"
    trunc.write_bytes(open(os.path.join(ROOT, "docs", "window.png"), "rb").read()[:3000])
    r = run_main("--image", str(trunc), "--out", str(tmp_path / "o.png"))
    assert r.returncode == 2 and "WARN" not in r.stderr and "libpng" not in r.stderr
    assert "skipped" in r.stderr and "error: no readable image" in r.stderr
