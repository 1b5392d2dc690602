"""What a user sees of the instances, counted: false instances, splits, merges and one-to-one
recall, on hand-made scenes where the answer is known."""
import numpy as np
import pytest

from model.instance_metrics import image_counts, summarise, touching_pairs

H, W = 40, 60


def box(x0, y0, x1, y1):
    m = np.zeros((H, W), bool)
    m[y0:y1, x0:x1] = True
    return m


def stack(*masks):
    return np.stack(masks) if masks else np.zeros((0, H, W), bool)


LEFT, RIGHT = box(5, 5, 25, 35), box(30, 5, 50, 35)  # two people side by side
GT = stack(LEFT, RIGHT)
SALIENT = np.array([True, True])


def test_one_mask_per_object_is_all_found_and_nothing_else():
    c = image_counts(GT, SALIENT, stack(LEFT, RIGHT))
    assert (c["false"], c["splits"], c["merges"], c["matched"], c["instances"]) == (0, 0, 0, 2, 2)


def test_a_mask_on_scenery_is_a_false_instance():
    c = image_counts(GT, SALIENT, stack(LEFT, RIGHT, box(52, 0, 60, 40)))
    assert c["false"] == 1 and c["matched"] == 2


def test_a_mask_over_two_objects_is_a_merge_and_finds_neither():
    c = image_counts(GT, SALIENT, stack(box(5, 5, 50, 35)))
    assert (c["merges"], c["matched"], c["false"]) == (1, 0, 0)


def test_an_object_in_two_masks_is_a_split():
    thirds = box(5, 5, 25, 15), box(5, 15, 25, 25), box(5, 25, 25, 35)  # none is half of it
    c = image_counts(GT, SALIENT, stack(*thirds, RIGHT))
    assert (c["splits"], c["matched"], c["merges"]) == (1, 1, 0)


def test_matching_is_one_to_one():
    c = image_counts(GT, SALIENT, stack(LEFT, LEFT, RIGHT))
    assert c["matched"] == 2 and c["splits"] == 1  # the duplicate finds nothing more


def test_objects_that_are_not_salient_do_not_count_but_masks_on_them_are_false():
    c = image_counts(GT, np.array([True, False]), stack(LEFT, RIGHT))
    assert (c["instances"], c["matched"], c["false"]) == (1, 1, 1)


def test_a_union_mask_counts_only_false_instances():
    union = stack(LEFT | RIGHT)
    c = image_counts(union, np.array([True]), stack(LEFT, RIGHT, box(52, 0, 60, 40)), union_only=True)
    assert (c["false"], c["instances"], c["splits"], c["merges"]) == (1, 0, 0, 0)


def test_rates_are_per_image_and_per_instance():
    r = summarise([image_counts(GT, SALIENT, stack(box(5, 5, 50, 35))), image_counts(GT, SALIENT, stack(LEFT, RIGHT))])
    assert r["merges_per_image"] == 0.5 and r["recall50"] == pytest.approx(0.5) and r["false_per_image"] == 0


def test_touching_means_boxes_meet_within_a_few_pixels():
    assert touching_pairs(stack(LEFT, box(27, 5, 40, 35)))
    assert not touching_pairs(stack(box(0, 0, 10, 10), box(30, 30, 40, 40)))
    assert not touching_pairs(stack(LEFT))


def test_object_kinds_name_each_mask_of_a_real_scene_from_its_own_annotation(data_root):
    import os
    from model import formats
    from model.splits import geometric_rule
    from model.crowds import synthetic_crowds
    from tools.object_kinds import ObjectKinds
    kinds = ObjectKinds(data_root)
    riders = [s for s in formats.yolo_seg(os.path.join(data_root, "coco128-seg"), geometric_rule)
              if s.image_path.endswith("000000000049.jpg")][0]
    _, masks, _ = riders.load()
    assert sorted(kinds(riders, masks)) == ["animal"] * 2 + ["other"] + ["person"] * 6
    assert kinds(riders, ~masks[:1]) == ["unknown"]  # a mask that is no annotated object
    people = [s for s in formats.instance_pngs(os.path.join(data_root, "ccp-person", "images"),
                                               os.path.join(data_root, "ccp-person", "masks"), "ccp-person")][:4]
    crowd = synthetic_crowds(people, 1)[0]
    _, masks, _ = crowd.load()
    assert kinds(crowd, masks) == ["person"] * len(masks)


def test_touching_failures_reads_the_detectors_box_back_from_its_mask_window():
    import torch
    from model.boxes import expand_boxes
    from tools.touching_failures import box_iou, detector_boxes
    box = np.array([[40.0, 60.0, 100.0, 180.0]])
    window = expand_boxes(torch.tensor(box, dtype=torch.float32), 0.15, 320.0).numpy()
    assert window[0, 2] - window[0, 0] > 60  # grown
    assert np.allclose(detector_boxes(window, 0.15), box, atol=1e-3)
    assert box_iou(box, np.array([[70.0, 60.0, 130.0, 180.0]]))[0, 0] == pytest.approx(1 / 3)


def test_the_selection_ceiling_is_the_objects_some_choice_of_candidate_masks_matches_one_to_one():
    from model.instance_metrics import reachable
    a, b = np.zeros((2, 20, 40), bool)
    a[:, :15] = True
    b[:, 25:] = True
    both = np.ones_like(a)                         # one mask over the two objects: matches neither
    low_b = b.copy()
    low_b[:2] = False                              # a slightly worse mask of b (IoU 0.9)
    gt = np.stack([a, b])
    assert reachable(np.stack([both]), gt) == set()
    assert reachable(np.stack([both, low_b]), gt) == {1}
    # two masks of the same object match it once: one-to-one
    assert reachable(np.stack([b, low_b]), gt) == {1}
    assert reachable(np.stack([both, low_b, a]), gt) == {0, 1}
    assert reachable(np.zeros((0, 20, 40), bool), gt) == set()
    # counted per image beside what is shown: shown the merge, the unshown masks could match both
    c = image_counts(gt, np.array([True, True]), np.stack([both]), candidates=np.stack([both, low_b, a]))
    assert (c["matched"], c["reachable"]) == (0, 2)
    r = summarise([c, image_counts(gt, np.array([True, True]), np.stack([a, b]))])  # no candidates: the shown
    assert r["recall50"] == pytest.approx(2 / 4) and r["recall50_ceiling"] == pytest.approx(4 / 4)
