"""How the project's custom torch ops become standard ONNX ops in the exported graph."""
import onnxscript
from onnxscript import opset18 as op

import model.crop_op  # noqa: F401  (registers torch.ops.s4net.crop_windows)
import model.nms_op  # noqa: F401  (registers torch.ops.s4net.nms)
import torch


def nms_to_onnx(boxes, scores, iou_threshold: float, max_keep: int, score_threshold):
    """s4net::nms -> NonMaxSuppression on one batch and one class; returns the kept box indices
    (best first, which is the order onnxruntime selects them in)."""
    selected = op.NonMaxSuppression(
        op.Unsqueeze(boxes, op.Constant(value_ints=[0])),
        op.Unsqueeze(scores, op.Constant(value_ints=[0, 1])),
        op.Constant(value_ints=[max_keep]),
        op.Constant(value_floats=[iou_threshold]),
        op.Reshape(score_threshold, op.Constant(value_ints=[1])),
    )
    return op.Reshape(op.Slice(selected, op.Constant(value_ints=[2]), op.Constant(value_ints=[3]),
                               op.Constant(value_ints=[1])), op.Constant(value_ints=[-1]))


def crop_windows_to_onnx(boxes, stride: int, margin: int, size: int):
    """s4net::crop_windows -> the same arithmetic as model.crop_op.crop_windows_reference."""
    zero, one, two, four = (op.Constant(value_ints=[i]) for i in (0, 1, 2, 4))
    cells = op.Floor(op.Div(op.Cast(boxes, to=1), op.Constant(value_float=float(stride))))
    lo = op.Sub(op.Slice(cells, zero, two, one), op.Constant(value_float=float(margin)))  # (K, 2): x, y
    hi = op.Add(op.Slice(cells, two, four, one), op.Constant(value_float=float(margin + 1)))
    ones = op.Reshape(op.Constant(value_floats=[1.0, 1.0]), op.Constant(value_ints=[1, 2]))
    side = op.Constant(value_float=float(size))
    need = op.Min(op.ReduceMax(op.Concat(op.Sub(hi, lo), ones, axis=0), zero, keepdims=0), side)  # (2,)
    origin = op.Cast(op.Max(op.Min(lo, op.Sub(side, need)), op.Constant(value_float=0.0)), to=7)
    steps = op.Cast(need, to=7)
    start, delta = op.Constant(value_int=0), op.Constant(value_int=1)
    cols = op.Add(op.Slice(origin, zero, one, one), op.Range(start, op.Gather(steps, op.Constant(value_int=0)), delta))
    rows = op.Add(op.Slice(origin, one, two, one), op.Range(start, op.Gather(steps, op.Constant(value_int=1)), delta))
    return rows, cols


TRANSLATIONS = {torch.ops.s4net.nms.default: nms_to_onnx,
                torch.ops.s4net.crop_windows.default: crop_windows_to_onnx}
