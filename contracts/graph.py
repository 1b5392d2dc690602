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


def contract_problem(input_names, output_names, meta):
    """None when a graph keeps the contract, else a short description of what differs."""
    if meta.get(META_MODEL_NAME) != MODEL_NAME or list(input_names) != INPUTS or list(output_names) != OUTPUTS \
            or META_INPUT_SIZE not in meta:
        return (f"inputs {list(input_names)}, outputs {list(output_names)}, "
                f"model_name {meta.get(META_MODEL_NAME)!r}")
    return None
