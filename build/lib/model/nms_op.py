"""NMS as a torch custom op, so that eager PyTorch runs the greedy loop and the ONNX exporter emits
the standard NonMaxSuppression op (translation in export/onnx_ops.py): one definition, two back-ends,
identical semantics (suppress IoU > threshold, keep score > score_threshold, best first)."""
import torch

from .boxes import greedy_nms


@torch.library.custom_op("s4net::nms", mutates_args=())
def nms(boxes: torch.Tensor, scores: torch.Tensor, iou_threshold: float, max_keep: int,
        score_threshold: torch.Tensor) -> torch.Tensor:
    return greedy_nms(boxes, scores, iou_threshold, max_keep, float(score_threshold))


@nms.register_fake
def _(boxes, scores, iou_threshold, max_keep, score_threshold):
    n = torch.library.get_ctx().new_dynamic_size(max=max_keep)
    return boxes.new_empty((n,), dtype=torch.long)
