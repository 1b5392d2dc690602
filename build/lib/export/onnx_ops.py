"""How the project's custom torch ops become standard ONNX ops in the exported graph."""
import onnxscript
from onnxscript import opset18 as op

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


TRANSLATIONS = {torch.ops.s4net.nms.default: nms_to_onnx}
