"""The exported S4Net graph's contract: input/output names and the metadata keys the app reads.

    inputs   image            uint8 (1, S, S, 3), BGR, the frame already resized to S x S
             score_threshold  float32 (1,): boxes at or below it are dropped before NMS
    outputs  boxes   float32 (N, 4) x1 y1 x2 y2 in input pixels (0..S): each instance's mask window
                     (the detected box grown by the model's mask_box_expand; the mask lies inside)
             scores  float32 (N,) best first
             masks   float32 (N, S/m, S/m) mask probabilities over the whole input at the mask
                     stride m (metadata mask_stride: 8, or 4 with the refiner); meant to be read
                     inside each instance's box (contracts/masks.py), where they are final: the
                     refiner runs in a window of the box plus a margin, the rest of the map holds
                     the upsampled stride-8 masks
    N is dynamic (0 included), at most max_detections.
"""
MODEL_NAME = "S4Net"
FORMAT_VERSION = "1"
OPSET = 18

INPUT_IMAGE, INPUT_THRESHOLD = "image", "score_threshold"
INPUTS = [INPUT_IMAGE, INPUT_THRESHOLD]
OUTPUTS = ["boxes", "scores", "masks"]

# metadata keys: written by export/, read by app/ and the evaluator
META_MODEL_NAME = "model_name"
META_INPUT_SIZE = "input_size"
META_THRESHOLD = "score_threshold_default"
META_MAX_DETECTIONS = "max_detections"
META_BACKBONE = "backbone"
META_PRECISION = "precision"
META_MASK_STRIDE = "mask_stride"


def metadata_problem(meta):
    """None when the metadata the app reads has usable types and ranges, else what is wrong."""
    checks = ((META_INPUT_SIZE, int, lambda v: 32 <= v <= 4096 and v % 32 == 0, "a multiple of 32 in 32..4096"),
              (META_THRESHOLD, float, lambda v: 0 <= v < 1, "in [0, 1)"),
              (META_MAX_DETECTIONS, int, lambda v: 1 <= v <= 1000, "in 1..1000"),
              (META_MASK_STRIDE, int, lambda v: v in (2, 4, 8, 16), "2, 4, 8 or 16"))
    for key, kind, ok, wanted in checks:
        if key not in meta:
            continue
        try:
            value = kind(meta[key])
        except (TypeError, ValueError):
            return f"metadata {key} is {meta[key]!r}, not a number"
        if not ok(value):
            return f"metadata {key} is {meta[key]!r}, not {wanted}"
    return None


def outputs_problem(boxes, scores, masks, input_size):
    """None when one run's outputs have the contract's shapes, else what is wrong."""
    n = len(scores)
    if scores.ndim != 1 or boxes.shape != (n, 4) or masks.ndim != 3 or len(masks) != n:
        return f"outputs of shapes {list(boxes.shape)}, {list(scores.shape)}, {list(masks.shape)}, not (N,4), (N,), (N,h,w)"
    if masks.shape[1] * 2 > input_size or masks.shape[1] < 1 or masks.shape[1] != masks.shape[2]:
        return f"mask maps of {masks.shape[2]}x{masks.shape[1]} for a {input_size}px input"
    return None


def contract_problem(input_names, output_names, meta):
    """None when a graph keeps the contract, else a short description of what differs."""
    if meta.get(META_MODEL_NAME) != MODEL_NAME or list(input_names) != INPUTS or list(output_names) != OUTPUTS \
            or META_INPUT_SIZE not in meta:
        return (f"inputs {list(input_names)}, outputs {list(output_names)}, "
                f"model_name {meta.get(META_MODEL_NAME)!r}")
    return None
