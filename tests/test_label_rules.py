"""Which training regions teach the detector a box, and the training images made for crowds and
scenery: a union of several regions trains masks but no group box; a crowd keeps each person's
visible mask in depth order, on a street the nearer people larger and in front; crowds are made
only of the sources named and of objects big enough to read; scenery holds nothing salient."""
import numpy as np

from model.crowds import crowd_scene, street_scene, synthetic_crowds
from model.label_rules import (GROUP_SEQUENCES, IGNORED, MASK_ONLY, SALIENT, instance_roles, union_images,
                               union_trains_a_box)
from model.splits import scenery_crop, shared_datasets


def blob(*boxes, size=64):
    m = np.zeros((size, size), bool)
    for x0, y0, x1, y1 in boxes:
        m[y0:y1, x0:x1] = True
    return m


def test_a_union_of_one_region_trains_a_box_and_one_of_two_regions_does_not():
    assert union_trains_a_box(blob((10, 10, 40, 50)))
    assert union_trains_a_box(blob((10, 10, 40, 50), (50, 50, 51, 51)))  # a speck is not an object
    assert not union_trains_a_box(blob((5, 10, 25, 50), (35, 10, 60, 50)))
    assert not union_trains_a_box(blob())


def test_roles_keep_annotated_instances_and_make_split_unions_mask_only():
    masks = np.stack([blob((5, 10, 25, 50), (35, 10, 60, 50)), blob((10, 10, 40, 50)), blob((0, 0, 9, 9))])
    roles = instance_roles([True, True, False], np.array([True, False, False]), masks)
    assert roles.tolist() == [MASK_ONLY, SALIENT, IGNORED]


def test_a_davis_sequence_of_touching_objects_trains_no_group_box_even_in_one_region():
    one_region = np.stack([blob((10, 10, 40, 50))] * 2)
    roles = instance_roles([True, True], np.array([True, True]), one_region,
                           np.array(["davis/horsejump-low", "davis/bear"]))
    assert roles.tolist() == [MASK_ONLY, SALIENT]


def test_the_group_sequences_are_davis_training_sequences(data_root):
    import os
    sequences = set(os.listdir(os.path.join(data_root, "davis2016-train", "JPEGImages")))
    assert {g.split("/", 1)[1] for g in GROUP_SEQUENCES} <= sequences


def test_a_human_seg_region_is_a_union_and_two_separate_people_train_no_box():
    union = union_images(np.array(["human-seg/3", "coco-extra/5", "davis/bear"]), np.array([False, False, True]))
    assert union.tolist() == [True, False, True]
    two_people = np.stack([blob((5, 10, 25, 50), (35, 10, 60, 50))])
    assert instance_roles([True], union[:1], two_people).tolist() == [MASK_ONLY]


def test_a_crowd_keeps_each_persons_visible_mask_in_depth_order():
    rng = np.random.default_rng(0)
    image = np.full((120, 160, 3), 90, np.uint8)
    base = blob((60, 20, 90, 110), size=120)[:, :120]
    base = np.pad(base, ((0, 0), (0, 40)))
    person = (np.full((60, 20, 3), 200, np.uint8), np.ones((60, 20), bool))
    out, masks, salient = crowd_scene(rng, image, base[None], np.array([True]), [person, person, person])
    assert len(masks) == 4 and salient.all()
    assert not (masks[:, None] & masks[None]).sum(axis=(2, 3))[~np.eye(4, dtype=bool)].any()  # no pixel twice
    assert (out[masks[-1]] == 200).all()                     # the last one pasted is in front, whole
    assert masks[0].sum() < base.sum()                       # the photo's person is partly hidden


def test_a_street_scene_pastes_the_nearer_people_larger_and_in_front():
    feet, heights = [], []
    for seed in range(5):
        rng = np.random.default_rng(seed)
        image = np.zeros((200, 300, 3), np.uint8)
        people = [(np.full((60, 20, 3), 10 + 30 * k, np.uint8), np.ones((60, 20), bool)) for k in range(6)]
        out, masks, salient = street_scene(rng, image, np.zeros((0, 200, 300), bool), np.zeros(0, bool), people)
        assert len(masks) >= 2 and salient.dtype == bool
        assert not (masks[:, None] & masks[None]).sum(axis=(2, 3))[~np.eye(len(masks), dtype=bool)].any()
        front = out[masks[-1]]
        assert (front == front[0]).all()  # the last one pasted, the nearest, is whole
        for m in masks:
            ys = np.nonzero(m.any(1))[0]
            if ys[-1] < 199:  # feet inside the frame
                feet.append(ys[-1])
                heights.append(ys[-1] - ys[0] + 1)
    assert np.corrcoef(feet, heights)[0, 1] > 0.5
    assert max(heights) > 3 * min(heights)  # street scale and near scale in one set


def test_synthetic_crowds_are_made_only_of_the_people_given(data_root):
    people = [s for s in shared_datasets(data_root) if s.group.startswith("ccp-person/") and s.split == "val"]
    crowds = synthetic_crowds(people[:6], 3, seed=1)
    image, masks, salient = crowds[0].load()
    again = synthetic_crowds(people[:6], 3, seed=1)[0].load()
    assert np.array_equal(image, again[0]) and 2 <= len(masks) <= 5 and salient.sum() >= 2


def test_a_scenery_window_misses_the_salient_object():
    rng = np.random.default_rng(0)
    image = np.zeros((100, 200, 3), np.uint8)
    mask = blob((0, 0, 100, 100), size=100)
    mask = np.pad(mask, ((0, 0), (0, 100)))
    crop = scenery_crop(image, mask, rng)
    assert crop.shape == (60, 60, 3)
    assert scenery_crop(image, np.ones((100, 200), bool), rng) is None


def test_the_split_holds_out_coco_more_and_the_crowds_and_trains_on_scenery(data_root):
    samples = shared_datasets(data_root)
    by = {}
    for s in samples:
        by.setdefault(s.group.split("/")[0], set()).add(s.split)
    assert by["coco-more"] == {"val"} and by["crowds"] == {"val"} and by["scenery"] == {"train"}


def hand_made_cache(masks, union, group="davis/x"):
    n, size = len(masks), masks[0].shape[0]
    return {"images": np.zeros((1, size, size, 3), np.uint8), "groups": np.array([group]), "union": np.array([union]),
            "inst_masks": np.stack(masks), "inst_image": np.zeros(n, np.int64), "inst_salient": np.ones(n, bool),
            "unsure": np.zeros((1, size, size), bool), "size": np.int64(size)}


def test_a_split_union_trains_masks_but_no_detector_box():
    from model.train import CachedDataset
    two = blob((5, 10, 25, 50), (35, 10, 60, 50))
    _, t = CachedDataset(hand_made_cache([two], union=True)).sample(np.random.default_rng(0), 0, augmented=False)
    assert len(t["boxes"]) == 0 and len(t["ignore"]) == 1 and len(t["mask_only_boxes"]) == 1
    _, t = CachedDataset(hand_made_cache([blob((10, 10, 40, 50))], union=True)).sample(
        np.random.default_rng(0), 0, augmented=False)
    assert len(t["boxes"]) == 1 and len(t["mask_only_boxes"]) == 0
    _, t = CachedDataset(hand_made_cache([two], union=False, group="coco-extra/1")).sample(
        np.random.default_rng(0), 0, augmented=False)
    assert len(t["boxes"]) == 1  # an annotated instance in two pieces (occluded) is one object


def test_mask_only_regions_reach_the_mask_branch():
    import torch
    from model.config import LossConfig, NetConfig
    from model.s4net import S4Net
    from model.train import CachedDataset, training_step
    data = CachedDataset(hand_made_cache([blob((10, 20, 50, 100), (70, 20, 120, 100), size=128)], union=True))
    image, t = data.sample(np.random.default_rng(0), 0, augmented=False)
    assert len(t["boxes"]) == 0
    net = S4Net(NetConfig(image_size=128), pretrained=False).train()
    _, parts = training_step(net, [image], [t], LossConfig(), np.random.default_rng(0))
    assert parts["mask"] > 0 and torch.isfinite(torch.tensor(parts["mask"]))


def test_without_union_masks_a_region_that_may_hold_several_objects_trains_nothing():
    from model.config import LossConfig, NetConfig
    from model.s4net import S4Net
    from model.train import CachedDataset, training_step
    data = CachedDataset(hand_made_cache([blob((10, 20, 50, 100), (70, 20, 120, 100), size=128)], union=True))
    image, t = data.sample(np.random.default_rng(0), 0, augmented=False)
    net = S4Net(NetConfig(image_size=128), pretrained=False).train()
    _, parts = training_step(net, [image], [t], LossConfig(union_masks=False), np.random.default_rng(0))
    assert parts["mask"] == 0


def test_a_union_in_separate_parts_can_train_one_mask_per_part_and_one_region_nothing():
    from model.config import LossConfig, NetConfig
    from model.label_rules import union_parts
    from model.s4net import S4Net
    from model.train import CachedDataset, training_step
    two = blob((10, 20, 50, 100), (70, 20, 120, 100), size=128)
    parts = union_parts(two)
    assert len(parts) == 2 and sum(p.sum() for p in parts) == two.sum()
    assert union_parts(blob((10, 20, 50, 100), size=128)) == []
    net = S4Net(NetConfig(image_size=128), pretrained=False).train()
    split = LossConfig(union_masks=False, union_parts=True)
    image, t = CachedDataset(hand_made_cache([two], union=True)).sample(np.random.default_rng(0), 0, augmented=False)
    assert training_step(net, [image], [t], split, np.random.default_rng(0))[1]["mask"] > 0
    image, t = CachedDataset(hand_made_cache([blob((10, 20, 120, 100), size=128)], union=True,
                                             group="davis/swing")).sample(np.random.default_rng(0), 0, augmented=False)
    assert len(t["mask_only_masks"]) == 1  # a group sequence's one region
    assert training_step(net, [image], [t], split, np.random.default_rng(0))[1]["mask"] == 0


def test_crowds_are_made_of_the_named_sources_and_only_of_objects_big_enough_to_read():
    from model.train import CachedDataset
    groups = ["ccp-person/a", "coco-extra/b", "coco-extra/b", "coco128-seg/c"]
    masks = [blob((10, 5, 40, 60)), blob((20, 10, 50, 60)), blob((0, 0, 5, 5)), blob((5, 5, 60, 60))]
    cache = {"images": np.zeros((4, 64, 64, 3), np.uint8), "groups": np.array(groups), "union": np.zeros(4, bool),
             "inst_masks": np.stack(masks), "inst_image": np.arange(4), "inst_salient": np.ones(4, bool),
             "unsure": np.zeros((4, 64, 64), bool), "size": np.int64(64)}
    assert list(CachedDataset(cache).person_ids) == [0]  # by default: the standing people only
    # a 5x5 object (0.6% of the picture) would be mostly blur once scaled to a person's height
    assert list(CachedDataset(cache, crowd_sources=("ccp-person", "coco-extra")).person_ids) == [0, 1]
    assert list(CachedDataset(cache, crowd_sources=("coco128-seg",)).person_ids) == [3]
