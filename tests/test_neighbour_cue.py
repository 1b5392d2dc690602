"""The mask branch's neighbour cue (NetConfig.neighbour_cue): each instance's branch is told where
the other instances' boxes lie; a trained model given it is unchanged until it learns to use it;
the graph computes what PyTorch computes, with no instance, one, or several."""
import dataclasses

import numpy as np
import onnxruntime as ort
import pytest
import torch

from conftest import CHECKPOINT
from export.export_onnx import export
from model.checkpoint import load_checkpoint
from model.s4net import S4Net, neighbour_cells
from test_export import assert_same, frames, originals, run_onnx, run_torch  # noqa: F401 (fixtures)


def test_each_instance_is_told_the_cells_of_the_other_boxes_not_its_own():
    boxes = torch.tensor([[0.0, 0.0, 15.0, 15.0], [8.0, 8.0, 31.0, 23.0]])  # cells 0-1 and 1-3 x 1-2
    cells = neighbour_cells(boxes, 5, 5, 8)[:, 0].numpy()
    first, second = np.zeros((5, 5)), np.zeros((5, 5))
    first[1:3, 1:4] = 1   # the second box's cells, the overlap included
    second[0:2, 0:2] = 1  # the first box's cells
    assert (cells[0] == first).all() and (cells[1] == second).all()


def test_a_padding_row_sees_every_box_and_no_box_tells_nothing():
    boxes = torch.tensor([[0.0, 0.0, 15.0, 15.0]])
    cells = neighbour_cells(boxes, 5, 5, 8, padding=1)
    assert cells.shape == (2, 1, 5, 5)
    assert cells[0].sum() == 0 and cells[1].sum() == 4
    assert neighbour_cells(torch.zeros(0, 4), 5, 5, 8).shape == (0, 1, 5, 5)


@pytest.fixture(scope="module")
def shipped():
    return load_checkpoint(CHECKPOINT)[0]


def with_cue(net, vector):
    cued = S4Net(dataclasses.replace(net.cfg, neighbour_cue=True), pretrained=False)
    state = dict(net.state_dict(), neighbour_cue=vector.reshape(1, -1, 1, 1))
    cued.load_state_dict(state)
    return cued.eval()


def test_a_trained_model_given_the_cue_at_zero_finds_the_same_instances(shipped, frames):
    cued = with_cue(shipped, torch.zeros(shipped.cfg.seg_channels))
    for image in frames[:3]:
        a, b = run_torch(shipped, image, 0.05), run_torch(cued, image, 0.05)
        assert len(a[1]) >= 2  # several instances, so each one has neighbours to be told of
        assert np.allclose(a[2], b[2], atol=1e-6)


def test_a_learned_cue_changes_the_masks_where_neighbours_lie_and_the_graph_computes_the_same(
        shipped, frames, tmp_path):
    torch.manual_seed(0)
    cued = with_cue(shipped, torch.randn(shipped.cfg.seg_channels) * 3)
    a, b = run_torch(shipped, frames[0], 0.05), run_torch(cued, frames[0], 0.05)
    assert not np.allclose(a[2], b[2], atol=1e-2)
    path = str(tmp_path / "cued.onnx")
    export(cued, path, 320)
    sess = ort.InferenceSession(path, providers=["CPUExecutionProvider"])
    counts = []
    for image in frames:
        t, o = run_torch(cued, image, 0.05), run_onnx(sess, image, 0.05)
        assert_same(t, o, 0.99, 1e-3, 0.99)
        counts.append(len(o[1]))
    assert max(counts) >= 2 and counts[-1] == 0  # several instances, and none on the blank frame


def test_a_training_mask_is_told_of_its_neighbours_boxes_never_its_own():
    from model.train import neighbour_cue_cells
    boxes = torch.tensor([[0.0, 0.0, 15.0, 15.0], [8.0, 8.0, 31.0, 23.0]])
    rng = np.random.default_rng(0)
    told = lambda own, drop: neighbour_cue_cells(boxes, own, drop, 0.0, rng, 5, 5, 8)[0].numpy()
    assert (told(0, 0.0) == neighbour_cells(boxes, 5, 5, 8)[0, 0].numpy()).all()
    assert told(-1, 0.0).sum() == 4 + 6 - 1  # a mask with no box of its own: both boxes
    assert told(0, 0.999).sum() == 0          # a neighbour the detector missed tells nothing


def test_only_the_boxes_told_of_count_as_neighbours():
    boxes = torch.tensor([[0.0, 0.0, 15.0, 15.0], [8.0, 8.0, 31.0, 23.0]])
    cells = neighbour_cells(boxes, 5, 5, 8, told=torch.tensor([True, False]))[:, 0]
    assert cells[0].sum() == 0 and cells[1].sum() == 4  # the weak second box tells the first nothing


def test_the_masks_shown_do_not_depend_on_the_threshold_the_graph_runs_at(shipped, frames):
    torch.manual_seed(0)
    cued = with_cue(shipped, torch.randn(shipped.cfg.seg_channels) * 3)
    low, high = run_torch(cued, frames[1], 0.05), run_torch(cued, frames[1], cued.cfg.neighbour_cue_score)
    kept = low[1] >= cued.cfg.neighbour_cue_score
    assert 1 <= kept.sum() < len(low[1])  # weak boxes are there at 0.05, and dropped at the cue's score
    assert np.allclose(low[2][kept], high[2], atol=1e-5)
