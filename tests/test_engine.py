"""The onnxruntime engine with the shipped model on real frames: providers, metadata, bad models,
and the detections themselves."""
import os

import numpy as np
import pytest

from app.drawing import DrawStyle, draw
from app.engine import Engine, EngineError, has_nvidia_gpu
from app.tracking import Tracker
from contracts.masks import paste_mask
from conftest import MODEL_FP16


@pytest.fixture(scope="module")
def engine():
    return Engine(device="cpu")


def test_reports_the_provider_the_session_uses(engine):
    assert engine.provider == engine.session.get_providers()[0] == "CPUExecutionProvider"
    assert engine.input_size == 320 and engine.score_threshold == 0.5
    assert "CPUExecutionProvider" in engine.describe()


def test_cuda_request_without_gpu_is_an_error_or_really_cuda():
    try:
        e = Engine(device="cuda")
    except EngineError as err:
        assert "CUDA was requested" in str(err) or "no CUDA provider" in str(err)
    else:  # on a machine with a GPU the session must really be on CUDA
        assert e.session.get_providers()[0] == "CUDAExecutionProvider"


def test_auto_says_why_it_runs_on_cpu():
    messages = []
    e = Engine(device="auto", log=messages.append)
    if e.provider == "CPUExecutionProvider":
        assert len(messages) == 1 and messages[0].startswith("running on the CPU")
        if not has_nvidia_gpu():  # no advice about CUDA libraries where there is no GPU to use them
            assert messages == ["running on the CPU (no NVIDIA GPU)"]
    if e.provider == "CPUExecutionProvider":  # the float16 graph is for CUDA only
        assert os.path.basename(e.model_path) == "s4net.onnx" and e.precision == "float32"
    else:
        assert e.precision == "float16"


def test_the_gpu_graph_runs_anywhere_it_is_asked_for_and_finds_the_same_object(engine, davis_frame):
    """--model assets/s4net.fp16.onnx on the CPU: the CUDA graph's layout (512 px mask path, 320 px
    detector) behind the same engine, with finer masks of the same instances."""
    image, gt = davis_frame
    gpu = Engine(MODEL_FP16, device="cpu")
    assert gpu.provider == "CPUExecutionProvider" and gpu.input_size == 512 and gpu.precision == "float16"
    assert "512px" in gpu.describe()
    a, b = engine.run(image), gpu.run(image)
    assert b.maps.shape[1:] == (128, 128) and abs(len(a) - len(b)) <= 1
    union = np.zeros(gt.shape, bool)
    for inst in b.instances():
        union |= inst.full_mask(gt.shape)
    assert (union & gt).sum() / (union | gt).sum() > 0.7


def test_wrong_model_files(tmp_path):
    with pytest.raises(EngineError, match="model file not found"):
        Engine(str(tmp_path / "missing.onnx"), "cpu")
    with pytest.raises(EngineError, match="is a folder, not an ONNX file"):
        Engine(str(tmp_path), "cpu")
    junk = tmp_path / "junk.onnx"
    junk.write_bytes(b"\x00garbage" * 100)
    with pytest.raises(EngineError, match="is not a loadable ONNX model"):
        Engine(str(junk), "cpu")
    import onnx
    from onnx import helper, TensorProto
    g = helper.make_graph([helper.make_node("Identity", ["x"], ["y"])], "g",
                          [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1])],
                          [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1])])
    other = tmp_path / "other.onnx"
    onnx.save(helper.make_model(g, opset_imports=[helper.make_opsetid("", 18)], ir_version=9), str(other))
    with pytest.raises(EngineError, match="is not an S4Net graph"):
        Engine(str(other), "cpu")


def test_finds_the_salient_object_in_a_real_frame(engine, davis_frame):
    image, gt = davis_frame
    det = engine.run(image)
    assert len(det) >= 1
    side = engine.input_size // int(engine.meta["mask_stride"])   # 80: the refiner's stride-4 masks
    assert det.maps.shape[1:] == (side, side) and side == 80 and np.all(np.diff(det.scores) <= 0)
    insts = det.instances()
    union = np.zeros(gt.shape, bool)
    for inst in insts:
        union |= inst.full_mask(gt.shape)
    assert (union & gt).sum() / (union | gt).sum() > 0.5   # J on a frame it never trained on


def test_threshold_and_max_instances(engine, davis_frame):
    image, _ = davis_frame
    engine.score_threshold = 0.05
    try:
        many = engine.run(image)
        engine.max_instances = 2
        capped = engine.run(image)
    finally:
        engine.score_threshold, engine.max_instances = 0.5, 20
    assert len(many) > len(capped) == 2
    assert (many.scores >= 0.05).all()


def test_pasted_masks_stay_inside_their_boxes(engine, davis_frame):
    image, _ = davis_frame
    det = engine.run(image)
    for i in range(len(det)):
        x0, y0, crop = paste_mask(det.maps[i], det.boxes[i], det.frame_size)
        assert x0 >= np.floor(det.boxes[i][0]) and x0 + crop.shape[1] <= np.ceil(det.boxes[i][2])
        assert y0 + crop.shape[0] <= np.ceil(det.boxes[i][3])


def test_overlay_changes_only_instance_pixels(engine, davis_frame):
    image, _ = davis_frame
    det = Tracker().update(engine.run(image))
    insts = det.instances()
    out = draw(det, DrawStyle(alpha=0.5, contours=False))
    ids = det.id_mask()
    changed = (out != image).any(2)
    assert changed.any()
    assert not (changed & (ids == 0)).any()
    assert set(np.unique(ids)) - {0} == {i.id for i in insts}


def test_tracker_keeps_ids_across_real_frames(engine, data_root):
    import cv2, os
    d = os.path.join(data_root, "davis2016-train", "JPEGImages", "elephant")
    tracker = Tracker()
    ids = []
    for name in sorted(os.listdir(d))[:6]:
        det = tracker.update(engine.run(cv2.imread(os.path.join(d, name))))
        ids.append(int(det.ids[0]) if len(det) else None)
    assert ids[0] is not None and ids.count(ids[0]) >= 5


def graph_with(tmp_path, name, meta=None, boxes=None, scores=None, masks=None, base=None):
    """The shipped graph with other metadata, or a stand-in graph giving fixed outputs."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper
    from conftest import MODEL
    if boxes is None:
        model = onnx.load(MODEL)
        props = {p.key: p.value for p in model.metadata_props}
        props.update(meta or {})
        del model.metadata_props[:]
        for k, v in props.items():
            model.metadata_props.add(key=k, value=v)
    else:
        outs = {"boxes": boxes, "scores": scores, "masks": masks}
        nodes = [helper.make_node("Constant", [], [k], value=numpy_helper.from_array(np.asarray(v, np.float32), k))
                 for k, v in outs.items()]
        g = helper.make_graph(nodes, "g", [helper.make_tensor_value_info("image", TensorProto.UINT8, [1, 320, 320, 3]),
                                           helper.make_tensor_value_info("score_threshold", TensorProto.FLOAT, [1])],
                              [helper.make_tensor_value_info(k, TensorProto.FLOAT, None) for k in outs])
        model = helper.make_model(g, opset_imports=[helper.make_opsetid("", 18)], ir_version=9)
        for k, v in {"model_name": "S4Net", "input_size": "320", **(meta or {})}.items():
            model.metadata_props.add(key=k, value=v)
    path = str(tmp_path / name)
    onnx.save(model, path)
    return path


@pytest.mark.parametrize("meta, problem", [({"input_size": "abc"}, "input_size is 'abc', not a number"),
                                           ({"input_size": "0"}, "input_size is '0', not a multiple of 32"),
                                           ({"score_threshold_default": "7"}, "score_threshold_default is '7'")])
def test_a_graph_with_bad_metadata_is_one_line(tmp_path, meta, problem):
    with pytest.raises(EngineError, match=problem):
        Engine(graph_with(tmp_path, "bad.onnx", meta), "cpu")


def test_a_graph_with_wrong_output_shapes_is_one_line(tmp_path):
    path = graph_with(tmp_path, "shapes.onnx", boxes=np.zeros((2, 3)), scores=np.zeros(2), masks=np.zeros((2, 80, 80)))
    with pytest.raises(EngineError, match=r"outputs of shapes \[2, 3\]"):
        Engine(path, "cpu")


def test_nan_boxes_are_no_instances(tmp_path, davis_frame):
    boxes = np.array([[10, 10, 100, 100], [np.nan, 0, 5, 5]], np.float32)
    path = graph_with(tmp_path, "nan.onnx", boxes=boxes, scores=np.array([0.9, 0.8]), masks=np.ones((2, 80, 80)))
    r = Engine(path, "cpu").run(davis_frame[0])
    assert len(r) == 1 and np.isfinite(r.boxes).all() and r.instances()
