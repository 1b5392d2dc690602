"""Shared fixtures: the shared data, the shipped model, and a real clip with an audio track."""
import os
import subprocess
import sys

import cv2
import imageio_ffmpeg
import numpy as np
import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

ASSETS = os.path.join(ROOT, "assets")
MODEL = os.path.join(ASSETS, "s4net.onnx")
MODEL_FP16 = os.path.join(ASSETS, "s4net.fp16.onnx")
CHECKPOINT = os.path.join(ASSETS, "s4net_lite0.pt")
SAMPLE = os.path.join(ASSETS, "sample.mp4")
# a validation sequence: the shipped model never trained on it
CLIP_SEQUENCE = "elephant"


def find_data():
    candidates = [os.environ.get("S4NET_DATA"), os.path.join(ROOT, "..", "shared", "data"),
                  os.path.join(ROOT, "shared", "data")]
    for c in candidates:
        if c and os.path.isdir(os.path.join(c, "davis2016-train")):
            return os.path.abspath(c)
    raise RuntimeError("shared data not found: set S4NET_DATA or put shared/data beside the repository")


@pytest.fixture(scope="session")
def data_root():
    return find_data()


@pytest.fixture(scope="session")
def davis_frame(data_root):
    """A real frame and its ground-truth mask from a validation sequence."""
    d = os.path.join(data_root, "davis2016-train")
    image = cv2.imread(os.path.join(d, "JPEGImages", CLIP_SEQUENCE, "00010.jpg"))
    mask = cv2.imread(os.path.join(d, "Annotations", CLIP_SEQUENCE, "00010.png"), cv2.IMREAD_GRAYSCALE) > 127
    return image, mask


def infer_at(net, image_bgr, size=320, threshold=0.5):
    """The network on one real frame resized to size x size (as the app resizes): (boxes, scores, masks)."""
    import torch
    x = torch.from_numpy(cv2.resize(image_bgr, (size, size), interpolation=cv2.INTER_AREA)[None])
    with torch.no_grad():
        return net.infer(x, torch.tensor([threshold]))


def infer_twice(net, image_bgr, change, threshold=0.5):
    """The checkpoint's network on one real frame (resized to 320) before and after `change(net)`
    (say, a config value set): two (boxes, scores, masks) tuples, for comparing the two."""
    before = infer_at(net, image_bgr, threshold=threshold)
    change(net)
    return before, infer_at(net, image_bgr, threshold=threshold)


def mask_iou(a, b):
    return float((a & b).sum() / max((a | b).sum(), 1))


def pasted_mask(mask_map, box, size):
    """One instance of a graph's output as a (size, size) image mask, cut to its box as every
    consumer of the graph cuts it (contracts.masks.paste_mask)."""
    from contracts.masks import paste_mask
    out = np.zeros((size, size), bool)
    x0, y0, crop = paste_mask(np.asarray(mask_map), np.asarray(box), (size, size), 0.5)
    out[y0:y0 + crop.shape[0], x0:x0 + crop.shape[1]] = crop
    return out


def partial_files(folder):
    """The writers' temporary files in a folder (hidden, `.NAME.PID-TOKEN.partial.EXT`)."""
    return [os.path.join(folder, f) for f in os.listdir(folder) if ".partial" in f]


def run_main(*args, timeout=300):
    return subprocess.run([sys.executable, os.path.join(ROOT, "main.py"), *args], capture_output=True, text=True,
                          timeout=timeout, cwd=ROOT)


@pytest.fixture(scope="session")
def clip_with_audio(tmp_path_factory, data_root):
    """20 consecutive real frames (854x480) at 30000/1001 fps with a 440 Hz tone, H.264 + AAC."""
    d = tmp_path_factory.mktemp("clip")
    src = os.path.join(data_root, "davis2016-train", "JPEGImages", CLIP_SEQUENCE)
    for i, name in enumerate(sorted(os.listdir(src))[:20]):
        os.symlink(os.path.join(src, name), d / f"{i:05d}.jpg")
    out = str(d / "clip.mp4")
    cmd = [imageio_ffmpeg.get_ffmpeg_exe(), "-y", "-loglevel", "error", "-framerate", "30000/1001",
           "-i", str(d / "%05d.jpg"), "-f", "lavfi", "-i", "sine=frequency=440:duration=1",
           "-c:v", "libx264", "-pix_fmt", "yuv420p", "-c:a", "aac", "-shortest", out]
    subprocess.run(cmd, check=True)
    return out


def probe(path):
    """(frame count, fps string, has audio) of a video, from ffmpeg itself."""
    n, _ = imageio_ffmpeg.count_frames_and_secs(path)
    info = subprocess.run([imageio_ffmpeg.get_ffmpeg_exe(), "-hide_banner", "-i", path], capture_output=True,
                          text=True).stderr
    import re
    fps = re.search(r"([\d.]+) fps", info).group(1)
    return n, fps, "Audio:" in info


def read_all_frames(path):
    gen = imageio_ffmpeg.read_frames(path, pix_fmt="bgr24")
    meta = next(gen)
    w, h = meta["size"]
    return [np.frombuffer(b, np.uint8).reshape(h, w, 3) for b in gen]


def make_clip(out, frames_dir_pattern, *extra_in, vf=None, audio=None, fps_mode=None):
    """Encode numbered JPEGs (and optional lavfi audio) with the ffmpeg that imageio-ffmpeg bundles."""
    cmd = [imageio_ffmpeg.get_ffmpeg_exe(), "-y", "-loglevel", "error", *extra_in]
    if audio:
        cmd += ["-f", "lavfi", "-i", audio]
    if vf:
        cmd += ["-vf", vf]
    if fps_mode:
        cmd += ["-fps_mode", fps_mode]
    cmd += ["-c:v", "libx264", "-pix_fmt", "yuv420p"] + (["-c:a", "aac"] if audio else []) + [out]
    subprocess.run(cmd, check=True)
    return out


def frame_times(path):
    """Presentation times (s) of every video frame, and the audio stream's duration (s) or None."""
    import av
    with av.open(path) as c:
        v = c.streams.video[0]
        times = [float(f.time) for f in c.decode(v)]
    with av.open(path) as c:
        a = c.streams.audio[0] if c.streams.audio else None
        audio = None
        if a is not None:
            end = [float((p.pts + (p.duration or 0)) * p.time_base) for p in c.demux(a) if p.pts is not None]
            audio = max(end) - (float(a.start_time * a.time_base) if a.start_time else 0.0) if end else 0.0
    return times, audio


def davis_frames_dir(tmp, data_root, n=20):
    """n consecutive real frames of the validation sequence, linked as 00000.jpg, 00001.jpg, ..."""
    src = os.path.join(data_root, "davis2016-train", "JPEGImages", CLIP_SEQUENCE)
    for i, name in enumerate(sorted(os.listdir(src))[:n]):
        os.symlink(os.path.join(src, name), os.path.join(tmp, f"{i:05d}.jpg"))
    return os.path.join(tmp, "%05d.jpg")


@pytest.fixture(scope="session")
def engine_cpu():
    from app.engine import Engine
    return Engine(device="cpu")
