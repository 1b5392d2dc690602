"""Every annotation reader on real data, and a clear message for broken files."""
import json
import os
import shutil

import cv2
import numpy as np
import pytest
from pycocotools import mask as mask_utils

from model import formats
from model.cache import build
from model.splits import geometric_rule, shared_datasets


@pytest.fixture(scope="module")
def coco_sample(data_root):
    s = formats.yolo_seg(os.path.join(data_root, "coco128-seg"), geometric_rule)[1]
    image, masks, salient = s.load()
    return s, image, masks


def test_davis_reader(data_root):
    samples = formats.davis(os.path.join(data_root, "davis2016-train"))
    assert len({s.group for s in samples}) == 27
    image, masks, salient = samples[0].load()
    assert image.shape == (480, 854, 3) and masks.shape == (1, 480, 854) and salient.all()
    assert 0.01 < masks.mean() < 0.9 and samples[0].union_mask


def test_yolo_seg_reader(coco_sample):
    s, image, masks = coco_sample
    assert masks.shape[1:] == image.shape[:2] and len(masks) >= 1
    assert all(m.any() for m in masks)


def test_coco_readers_tell_the_salient_rule_which_objects_are_people(data_root):
    seen = []

    def rule(masks, image_path, people=None):
        seen.append(people)
        return np.ones(len(masks), bool), np.ones(len(masks), bool)
    # coco128-seg 000000000036: one person with an umbrella (YOLO classes 0 and 25)
    yolo = {s.image_path.rsplit("/", 1)[-1]: s for s in formats.yolo_seg(os.path.join(data_root, "coco128-seg"), rule)}
    yolo["000000000036.jpg"].load()
    coco = formats.coco_json(os.path.join(data_root, "coco-more", "instances.json"),
                             os.path.join(data_root, "coco-more", "images"), rule, group_prefix="coco-more")
    for s in coco[:5]:
        s.load()
    assert sorted(seen[0].tolist()) == [False, True]
    with open(os.path.join(data_root, "coco-more", "instances.json")) as f:
        data = json.load(f)
    for s, people in zip(coco[:5], seen[1:]):
        image_id = int(s.group.split("/")[1])
        expected = [a["category_id"] == 1 for a in data["annotations"] if a["image_id"] == image_id]
        assert people.tolist() == expected


def test_via_reader(data_root):
    samples = formats.via(os.path.join(data_root, "balloon", "val"))
    assert len(samples) == 13
    image, masks, salient = samples[0].load()
    assert len(masks) >= 1 and masks.shape[1:] == image.shape[:2] and salient.all()


def test_coco_json_polygons_and_rle_match_source(tmp_path, coco_sample):
    s, image, masks = coco_sample
    h, w = image.shape[:2]
    anns = []
    for i, m in enumerate(masks):
        if i % 2 == 0:  # compressed RLE
            r = mask_utils.encode(np.asfortranarray(m.astype(np.uint8)))
            seg = {"size": r["size"], "counts": r["counts"].decode()}
        else:           # polygons traced from the mask
            cnts, _ = cv2.findContours(m.astype(np.uint8), cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_NONE)
            seg = [c.reshape(-1).astype(float).tolist() for c in cnts if len(c) >= 3]
        anns.append({"id": i + 1, "image_id": 7, "category_id": 1, "segmentation": seg, "iscrowd": 0})
    shutil.copy(s.image_path, tmp_path / "a.jpg")
    path = tmp_path / "ann.json"
    path.write_text(json.dumps({"images": [{"id": 7, "file_name": "a.jpg", "height": h, "width": w}],
                                "annotations": anns, "categories": [{"id": 1, "name": "salient"}]}))
    [sample] = formats.coco_json(str(path), str(tmp_path))
    _, got, _ = sample.load()
    assert len(got) == len(masks)
    for i, (a, b) in enumerate(zip(got, masks)):
        if i % 2 == 0:
            assert np.array_equal(a, b)  # RLE is lossless
        else:  # polygon rasterisation differs from OpenCV's by boundary pixels
            assert (a & b).sum() / (a | b).sum() > 0.85


def test_instance_png_folder(tmp_path, coco_sample):
    s, image, masks = coco_sample
    (tmp_path / "img").mkdir()
    (tmp_path / "ann").mkdir()
    cv2.imwrite(str(tmp_path / "img" / "x.png"), image)
    ids = np.zeros(image.shape[:2], np.uint8)
    for i, m in enumerate(masks, 1):
        ids[m] = i
    cv2.imwrite(str(tmp_path / "ann" / "x.png"), ids)
    [sample] = formats.instance_pngs(str(tmp_path / "img"), str(tmp_path / "ann"))
    _, got, _ = sample.load()
    assert len(got) == len(np.unique(ids)) - 1
    assert np.array_equal(got.any(0), ids > 0)


def test_broken_annotations_name_the_file(tmp_path, data_root):
    root = tmp_path / "coco"
    (root / "images" / "x").mkdir(parents=True)
    (root / "labels" / "x").mkdir(parents=True)
    src = sorted(os.listdir(os.path.join(data_root, "coco128-seg", "images", "train2017")))[0]
    shutil.copy(os.path.join(data_root, "coco128-seg", "images", "train2017", src), root / "images" / "x" / "a.jpg")
    (root / "labels" / "x" / "a.txt").write_text("0 0.1 0.1 0.5\n")
    [s] = formats.yolo_seg(str(root), geometric_rule)
    with pytest.raises(formats.AnnotationError, match=r"a\.txt: line 1: a polygon needs"):
        s.load()
    bad = tmp_path / "via"
    bad.mkdir()
    (bad / "via_region_data.json").write_text("{not json")
    with pytest.raises(formats.AnnotationError, match="via_region_data.json: cannot read VIA JSON"):
        formats.via(str(bad))
    (tmp_path / "img").mkdir()
    (tmp_path / "ann").mkdir()
    shutil.copy(root / "images" / "x" / "a.jpg", tmp_path / "img" / "a.jpg")
    (tmp_path / "ann" / "a.png").write_bytes(b"not a png")
    [s] = formats.instance_pngs(str(tmp_path / "img"), str(tmp_path / "ann"))
    with pytest.raises(formats.AnnotationError, match="a.png: not a readable PNG mask"):
        s.load()


def test_cache_reports_and_skips_a_broken_sample(tmp_path, data_root, capsys):
    good = [s for s in shared_datasets(data_root) if s.group == "balloon"][:2]
    broken = formats.Sample(str(tmp_path / "missing.jpg"), "x/broken", lambda h, w: None)
    arrays, skipped = build([good[0], broken, good[1]], 64)
    assert len(arrays["images"]) == 2 and len(skipped) == 1 and "missing.jpg" in skipped[0]
    assert arrays["images"].shape == (2, 64, 64, 3)


def test_split_is_by_sequence(data_root):
    samples = shared_datasets(data_root)
    davis_val = {s.group for s in samples if s.group.startswith("davis") and s.split == "val"}
    davis_train = {s.group for s in samples if s.group.startswith("davis") and s.split == "train"}
    assert davis_val == {f"davis/{n}" for n in ("boat", "elephant", "kite-walk", "paragliding", "stroller")}
    assert not davis_val & davis_train
