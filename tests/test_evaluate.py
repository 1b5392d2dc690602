"""The evaluator: ground truth fed back scores AP 1.0, perturbed predictions score lower, and it
scores the very masks the app shows."""
import cv2
import numpy as np
import pytest

from model.evaluate import coco_mask_ap, region_similarity
from model.splits import shared_datasets


@pytest.fixture(scope="module")
def val_ground_truth(data_root):
    samples = [s for s in shared_datasets(data_root) if s.split == "val"]
    picked = [s for s in samples if s.group.startswith("balloon")][:4] + \
             [s for s in samples if s.group.startswith("coco")][:4]
    return [s.load()[1:] for s in picked]


def test_ground_truth_scores_one(val_ground_truth):
    preds = [(m[s], np.linspace(1, 0.5, int(s.sum()))) for m, s in val_ground_truth]
    ap = coco_mask_ap(val_ground_truth, preds)
    assert ap["AP50"] == pytest.approx(1.0) and ap["AP70"] == pytest.approx(1.0)


def test_perturbed_predictions_score_lower(val_ground_truth):
    rng = np.random.default_rng(0)
    preds = []
    for m, s in val_ground_truth:
        masks = m[s].copy()
        # shift every other image's masks far enough to fail IoU 0.7, and add a false positive
        if len(preds) % 2 == 0:
            masks = np.roll(masks, masks.shape[2] // 6, axis=2)
        fp = np.zeros_like(m[:1])
        fp[0, :50, :50] = True
        preds.append((np.concatenate([masks, fp]), np.concatenate([rng.uniform(0.5, 1, len(masks)), [0.99]])))
    ap = coco_mask_ap(val_ground_truth, preds)
    assert ap["AP70"] < 0.8 and ap["AP50"] < 1.0
    empty = [(np.zeros((0,) + m.shape[1:], bool), np.zeros(0)) for m, _ in val_ground_truth]
    assert coco_mask_ap(val_ground_truth, empty) == {"AP50": 0.0, "AP70": 0.0}


def test_region_similarity():
    a = np.zeros((10, 10), bool)
    a[:5] = True
    b = np.zeros((10, 10), bool)
    b[:, :5] = True
    assert region_similarity(a, a) == 1.0
    assert region_similarity(a, b) == pytest.approx(25 / 75)
    assert region_similarity(np.zeros_like(a), np.zeros_like(a)) == 1.0


def test_evaluation_of_the_shipped_graph_reports_sources_multi_instance_scenes_and_j(data_root):
    from model.evaluate import OnnxPredictor, evaluate
    samples = [s for s in shared_datasets(data_root) if s.split == "val"]
    picked = [s for s in samples if s.group.startswith("balloon")][:3] + \
             [s for s in samples if s.group.startswith("davis")][:2]
    salient_counts = [int(s.load()[2].sum()) for s in picked]
    assert max(salient_counts) >= 2 and min(salient_counts) < 2  # both kinds of scene are in the test
    r = evaluate(OnnxPredictor("assets/s4net.onnx"), picked)
    assert r["images"] == 5 and set(r["per_source"]) == {"balloon", "davis"}
    assert r["multi_instance"]["images"] == sum(c >= 2 for c in salient_counts)
    assert 0.0 <= r["multi_instance"]["AP70"] <= r["multi_instance"]["AP50"] <= 1.0
    assert list(r["J_per_sequence"]) == sorted({s.group for s in picked if s.union_mask})
    assert r["J_mean"] > 0.3  # the shipped model finds the DAVIS object


def test_the_evaluator_scores_the_masks_the_app_shows(engine_cpu, davis_frame):
    """Parity: the evaluator's masks are the engine's, pixel for pixel, at the frame sizes where
    the graph's input is made differently (enlarged, area-averaged, halved first)."""
    from model.evaluate import OnnxPredictor, predict_full_res
    image, _ = davis_frame
    predictor = OnnxPredictor(engine_cpu.model_path)
    for size in ((240, 160), (854, 480), (1920, 1080)):
        frame = cv2.resize(image, size, interpolation=cv2.INTER_LINEAR)
        masks, scores = predict_full_res(predictor, frame, 0.3)
        shown = engine_cpu.run(frame, 0.3)
        app_masks = np.stack([inst.full_mask(frame.shape[:2]) for inst in shown.instances()]) \
            if len(shown) else np.zeros((0,) + frame.shape[:2], bool)
        assert np.allclose(scores, shown.scores) and np.array_equal(masks, app_masks), size
