"""Background effects, cut-outs and picking instances, checked pixel by pixel on real frames."""
import json
import os
import subprocess

import av
import cv2
import imageio_ffmpeg
import numpy as np
import pytest

from app.drawing import DrawStyle
from app.effects import Effect, blurred, foreground_alpha, render
from app.pipeline import Pipeline
from app.selection import Selection
from app.sources import VideoReader
from conftest import ROOT, SAMPLE, frame_times, run_main

STYLE = DrawStyle()


@pytest.fixture(scope="module")
def result(engine_cpu, davis_frame):
    image, _ = davis_frame
    r = engine_cpu.run(image)
    assert len(r.instances()) >= 1
    return r


@pytest.fixture(scope="module")
def regions(result):
    """(inside: well inside the instances, outside: well away from them, alpha)."""
    alpha = foreground_alpha(result, 2.0)
    hard = (result.id_mask() > 0).astype(np.uint8)
    k = np.ones((15, 15), np.uint8)
    inside = cv2.erode(hard, k) > 0
    outside = cv2.dilate(hard, k) == 0
    assert inside.sum() > 1000 and outside.sum() > 1000
    return inside, outside, alpha


def test_alpha_is_exact_inside_and_outside_and_soft_at_the_edge(regions):
    inside, outside, alpha = regions
    assert (alpha[inside] == 1).all() and (alpha[outside] == 0).all()
    edge = ~inside & ~outside
    assert ((alpha[edge] > 0) & (alpha[edge] < 1)).any()  # feathered, not a hard step


def test_blur_changes_only_the_background(result, regions):
    inside, outside, _ = regions
    out = render(result, Effect("blur", strength=15), STYLE)
    frame = result.frame
    assert (out[inside] == frame[inside]).all()
    assert np.array_equal(out[outside], blurred(frame, 15)[outside])
    assert np.abs(out[outside].astype(int) - frame[outside].astype(int)).mean() > 3


def test_remove_gives_the_flat_colour_outside(result, regions):
    inside, outside, _ = regions
    out = render(result, Effect("remove", colour=(10, 20, 30)), STYLE)
    assert (out[outside] == (10, 20, 30)).all() and (out[inside] == result.frame[inside]).all()


def test_replace_gives_the_pictures_pixels_outside(result, regions, data_root):
    inside, outside, _ = regions
    pic = cv2.imread(os.path.join(data_root, "balloon", "val", sorted(
        f for f in os.listdir(os.path.join(data_root, "balloon", "val")) if f.endswith(".jpg"))[0]))
    effect = Effect("replace", background=pic)
    out = render(result, effect, STYLE)
    cover = effect.cover(result.frame_size)
    assert cover.shape == result.frame.shape
    assert np.array_equal(out[outside], cover[outside]) and (out[inside] == result.frame[inside]).all()


def test_cutout_alpha(result, regions):
    inside, outside, _ = regions
    out = render(result, Effect("cutout"), STYLE)
    assert out.shape[2] == 4 and (out[..., 3][inside] == 255).all() and (out[..., 3][outside] == 0).all()
    assert np.array_equal(out[..., :3], result.frame)


def decode_alpha(path):
    """Alpha planes of every frame, decoded with libvpx (FFmpeg's own VP9 decoder drops alpha)."""
    with av.open(path) as c:
        v = c.streams.video[0]
        codec = av.CodecContext.create("libvpx-vp9", "r") if v.codec_context.name == "vp9" else v.codec_context
        planes = []
        for packet in c.demux(v):
            for frame in codec.decode(packet):
                planes.append(frame.to_ndarray(format="bgra")[..., 3])
        return planes


@pytest.mark.parametrize("ext, pix_fmt", [(".webm", "yuva420p"), (".mov", "yuva444p")])
def test_transparent_cutout_video_with_audio(tmp_path, clip_with_audio, ext, pix_fmt):
    out, masks = str(tmp_path / f"cut{ext}"), str(tmp_path / "m")
    r = run_main("--video", clip_with_audio, "--out", out, "--effect", "cutout", "--save-masks", masks)
    assert r.returncode == 0, r.stderr
    info = subprocess.run([imageio_ffmpeg.get_ffmpeg_exe(), "-hide_banner", "-i", out], capture_output=True,
                          text=True).stderr
    assert "Audio:" in info
    assert ("alpha_mode      : 1" in info) if ext == ".webm" else ("prores (4444)" in info)
    times, _ = frame_times(out)
    assert len(times) == 20
    alphas = decode_alpha(out)
    assert len(alphas) == 20
    for i in (0, 10, 19):
        ids = cv2.imread(os.path.join(masks, f"frame_{i:06d}.png"), cv2.IMREAD_UNCHANGED) > 0
        a = alphas[i] > 127
        assert (a & ids).sum() / max((a | ids).sum(), 1) > 0.95
    with av.open(out) as c:
        codec = av.CodecContext.create("libvpx-vp9", "r") if ext == ".webm" else c.streams.video[0].codec_context
        frame = next(f for p in c.demux(c.streams.video[0]) for f in codec.decode(p))
        assert frame.format.name.startswith(pix_fmt)


def test_cutout_needs_a_format_with_alpha(tmp_path, clip_with_audio):
    r = run_main("--video", clip_with_audio, "--out", str(tmp_path / "cut.mp4"), "--effect", "cutout")
    assert r.returncode == 2 and "cannot write .mp4" in r.stderr
    r = run_main("--image", os.path.join(ROOT, "docs", "window.png"), "--out", str(tmp_path / "c.jpg"),
                 "--effect", "cutout")
    assert r.returncode == 2 and "transparency" in r.stderr


def test_still_cutout_is_rgba_png(tmp_path, data_root):
    val = os.path.join(data_root, "balloon", "val")
    img = os.path.join(val, sorted(f for f in os.listdir(val) if f.endswith(".jpg"))[0])
    out = str(tmp_path / "c.png")
    r = run_main("--image", img, "--out", out, "--effect", "cutout")
    assert r.returncode == 0, r.stderr
    png = cv2.imread(out, cv2.IMREAD_UNCHANGED)
    assert png.shape[2] == 4 and (png[..., 3] == 255).any() and (png[..., 3] == 0).any()


# the clip's elephant is one instance; weak detections, parts not merged, give several to choose from
SEVERAL = ("--threshold", "0.1", "--no-merge")


def test_keep_largest_and_keep_ids_in_the_video_command(tmp_path, clip_with_audio):
    masks = str(tmp_path / "all")
    assert run_main("--video", clip_with_audio, "--out", str(tmp_path / "a.mp4"), "--save-masks", masks,
                    *SEVERAL).returncode == 0
    frames = json.load(open(os.path.join(masks, "masks.json")))["frames"]
    assert max(len(f["instances"]) for f in frames) >= 2, "the clip needs frames with several instances"
    keep = str(tmp_path / "one")
    assert run_main("--video", clip_with_audio, "--out", str(tmp_path / "b.mp4"), "--save-masks", keep,
                    *SEVERAL, "--keep-largest", "1").returncode == 0
    one = json.load(open(os.path.join(keep, "masks.json")))["frames"]
    assert all(len(f["instances"]) <= 1 for f in one) and sum(len(f["instances"]) for f in one) >= 15
    first_id = frames[0]["instances"][0]["id"]
    ids_dir = str(tmp_path / "ids")
    assert run_main("--video", clip_with_audio, "--out", str(tmp_path / "c.mp4"), "--save-masks", ids_dir,
                    *SEVERAL, "--keep-ids", str(first_id)).returncode == 0
    kept = json.load(open(os.path.join(ids_dir, "masks.json")))["frames"]
    assert {i["id"] for f in kept for i in f["instances"]} == {first_id}


def test_a_picked_instance_is_followed_by_its_track_id(engine_cpu, data_root):
    # three people side by side (a COCO photo), the camera panning 6 px a frame
    photo = cv2.imread(os.path.join(data_root, "coco-more", "images", "000000269105.jpg"))
    h, w = photo.shape[:2]
    frames = [np.ascontiguousarray(photo[20:h - 20, 6 * k:w - 60 + 6 * k]) for k in range(10)]
    pipe = Pipeline(engine_cpu)
    for f in frames[:2]:  # the tracker shows a new instance from its second frame
        pipe.process(f)
    first = pipe.process(frames[2]).result
    assert len(first.instances()) >= 2
    # not simply the best one
    target = sorted(first.instances(), key=lambda i: -i.score)[1]
    ys, xs = np.nonzero(first.id_mask() == target.id)
    picked = first.id_at(int(xs[len(xs) // 2]), int(ys[len(ys) // 2]))
    assert picked == target.id
    pipe.settings.selection = Selection().toggled(picked, add=False)
    kept = [pipe.process(f) for f in frames[3:]]
    assert all(s.result.track_ids().tolist() == [picked] for s in kept)  # followed, and only it shown
    assert all(len(s.whole) > len(s.result) for s in kept)  # the others are still found, not shown
