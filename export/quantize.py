"""An int8 S4Net graph for the CPU: onnxruntime's static quantization (QDQ), convolutions only
(weights int8 per channel, activations uint8, the U8S8 form x86 VNNI runs fastest), calibrated on
real training frames. Boxes, scores, NMS and the graph's inputs/outputs stay float32/uint8 as in
contracts/graph.py, so the app runs it like any other S4Net graph.

    python -m export.quantize --model assets/s4net.onnx --data ../shared/data --out assets/s4net.int8.onnx

Calibration frames are training images only (never the validation split), spread over the sources.
Check the result with `python -m model.evaluate --onnx assets/s4net.int8.onnx --data ../shared/data`.
"""
import argparse
import os
import sys
import tempfile

import cv2
import numpy as np
import onnx

from contracts import graph as G


def calibration_frames(data_root, count, size, seed=0):
    """`count` training images resized to size x size (uint8 BGR), drawn evenly over the sources."""
    from model.splits import shared_datasets
    samples = [s for s in shared_datasets(data_root) if s.split == "train"]
    by_source = {}
    for s in samples:
        by_source.setdefault(s.group.split("/")[0], []).append(s)
    rng = np.random.default_rng(seed)
    per = max(1, count // len(by_source))
    picked = []
    for items in by_source.values():
        picked += [items[i] for i in rng.choice(len(items), min(per, len(items)), replace=False)]
    frames = []
    for s in picked[:count]:
        image = cv2.imread(s.image_path, cv2.IMREAD_COLOR)
        if image is not None:
            frames.append(cv2.resize(image, (size, size), interpolation=cv2.INTER_AREA))
    return frames


class FrameReader:
    """onnxruntime CalibrationDataReader over real frames (threshold 0.3: the mask branch sees
    the instances it sees in use, a few more than at the display threshold)."""

    def __init__(self, frames):
        self.items = iter([{G.INPUT_IMAGE: f[None], G.INPUT_THRESHOLD: np.array([0.3], np.float32)} for f in frames])

    def get_next(self):
        return next(self.items, None)


def quantize(model_path, out_path, frames):
    from onnxruntime.quantization import CalibrationMethod, QuantFormat, QuantType, quantize_static
    from onnxruntime.quantization.shape_inference import quant_pre_process
    with tempfile.TemporaryDirectory() as tmp:
        pre = os.path.join(tmp, "pre.onnx")
        quant_pre_process(model_path, pre, skip_symbolic_shape=True)
        out_tmp = out_path + ".tmp"
        quantize_static(pre, out_tmp, FrameReader(frames), quant_format=QuantFormat.QDQ,
                        activation_type=QuantType.QUInt8, weight_type=QuantType.QInt8, per_channel=True,
                        op_types_to_quantize=["Conv"], calibrate_method=CalibrationMethod.MinMax)
    # keep the app's metadata (quantization rewrites the model), marked int8
    src, q = onnx.load(model_path), onnx.load(out_tmp)
    del q.metadata_props[:]
    for p in src.metadata_props:
        q.metadata_props.add(key=p.key, value="int8" if p.key == G.META_PRECISION else p.value)
    onnx.save(q, out_tmp)
    os.replace(out_tmp, out_path)
    return out_path


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", default="assets/s4net.onnx", help="the float32 S4Net graph")
    p.add_argument("--data", default="../shared/data", help="shared data: calibration frames (train split)")
    p.add_argument("--out", default="assets/s4net.int8.onnx")
    p.add_argument("--frames", type=int, default=120, help="calibration frames")
    a = p.parse_args(argv)
    if not os.path.isfile(a.model):
        sys.exit(f"error: model not found: {a.model}")
    meta = {m.key: m.value for m in onnx.load(a.model, load_external_data=False).metadata_props}
    if meta.get(G.META_MODEL_NAME) != G.MODEL_NAME or G.META_INPUT_SIZE not in meta:
        sys.exit(f"error: {a.model} is not an S4Net graph of this app")
    try:
        frames = calibration_frames(a.data, a.frames, int(meta[G.META_INPUT_SIZE]))
    except FileNotFoundError as e:
        sys.exit(f"error: {e}")
    path = quantize(a.model, a.out, frames)
    print(f"wrote {path} ({os.path.getsize(path) / 2 ** 20:.1f} MB, int8 convolutions, {len(frames)} calibration frames)")


if __name__ == "__main__":
    main()
