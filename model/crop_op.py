"""Crop windows for the per-instance refiner, as a torch custom op: the window size depends on the
boxes (data), which the exporter cannot trace through plain torch code. Eager PyTorch runs
`crop_windows_reference`; the ONNX exporter emits the same arithmetic as standard ops (translation
in export/onnx_ops.py).

Every instance gets a window of the same size (one batch for the convolutions): the largest box
in cells plus `margin` cells on each side, at most the whole map, shifted to lie inside the map."""
import torch


def crop_windows_reference(boxes, stride: int, margin: int, size: int):
    """boxes (K,4) x1 y1 x2 y2 in input pixels -> rows (K,Sh), cols (K,Sw): int64 cell indices of
    each instance's window on a size x size map of `stride`-pixel cells."""
    cells = torch.floor(boxes.float() / stride)
    lo = cells[:, :2] - margin                       # (K, 2): x, y
    hi = cells[:, 2:] + 1 + margin
    need = torch.cat([hi - lo, boxes.new_ones(1, 2)]).amax(0).clamp(max=size)  # (2,), 1 when K = 0
    origin = torch.minimum(lo, size - need).clamp(min=0).long()
    sw, sh = int(need[0]), int(need[1])
    cols = origin[:, :1] + torch.arange(sw, device=boxes.device)
    rows = origin[:, 1:] + torch.arange(sh, device=boxes.device)
    return rows, cols


@torch.library.custom_op("s4net::crop_windows", mutates_args=())
def crop_windows(boxes: torch.Tensor, stride: int, margin: int, size: int) -> tuple[torch.Tensor, torch.Tensor]:
    return crop_windows_reference(boxes, stride, margin, size)


@crop_windows.register_fake
def _(boxes, stride, margin, size):
    ctx = torch.library.get_ctx()
    sh, sw = ctx.new_dynamic_size(min=1, max=size), ctx.new_dynamic_size(min=1, max=size)
    k = boxes.shape[0]
    return boxes.new_empty((k, sh), dtype=torch.long), boxes.new_empty((k, sw), dtype=torch.long)
