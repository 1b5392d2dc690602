"""Export a trained S4Net checkpoint to one ONNX graph, pixels in, instances out.

    python -m export.export_onnx --checkpoint runs/s4net/last.pt --out assets/s4net.onnx [--fp16]

Graph contract (also written into the graph's metadata, which the app reads):
  inputs   image            uint8 (1, S, S, 3), BGR, the frame already resized to S x S
           score_threshold  float32 (1,): boxes at or below it are dropped before NMS
  outputs  boxes   float32 (N, 4) x1 y1 x2 y2 in input pixels (0..S)
           scores  float32 (N,)
           masks   float32 (N, S/8, S/8) mask probabilities over the whole input, stride 8
  N is dynamic (0 included), at most max_detections. ImageNet normalisation happens inside.
Exporter: torch.onnx dynamo exporter, opset 18 (pinned), NMS as the standard NonMaxSuppression op.
"""
import argparse
import json
import os
import sys
import time
import warnings

import numpy as np
import onnx
import torch

from model.config import NetConfig
from model.s4net import S4Net

from .onnx_ops import TRANSLATIONS

OPSET = 18
MODEL_NAME = "S4Net"
FORMAT_VERSION = "1"


class ExportError(Exception):
    pass


class GraphWrapper(torch.nn.Module):
    def __init__(self, net):
        super().__init__()
        self.net = net

    def forward(self, image, score_threshold):
        return self.net.infer(image, score_threshold)


def load_checkpoint(path):
    """S4Net from a checkpoint, or ExportError with one line saying what is wrong."""
    if not os.path.isfile(path):
        raise ExportError(f"checkpoint not found: {path}")
    try:
        ckpt = torch.load(path, map_location="cpu", weights_only=False)
    except Exception as e:
        raise ExportError(f"{path} is not a PyTorch checkpoint ({type(e).__name__})") from None
    if not isinstance(ckpt, dict) or "model" not in ckpt or "net_config" not in ckpt:
        raise ExportError(f"{path} is not an S4Net checkpoint of this project (no model/net_config)")
    try:
        net = S4Net(NetConfig.from_dict(ckpt["net_config"]), pretrained=False)
        net.load_state_dict(ckpt["model"])
    except (RuntimeError, ValueError, TypeError) as e:
        first = str(e).strip().splitlines()
        raise ExportError(f"{path} does not match the S4Net architecture: "
                          f"{first[1].strip() if len(first) > 1 else first[0]}") from None
    return net.eval(), ckpt


def metadata(net, precision, ckpt):
    cfg = net.cfg
    return {
        "model_name": MODEL_NAME, "format_version": FORMAT_VERSION,
        "input_size": str(cfg.image_size), "input_layout": "NHWC uint8", "colour_order": "BGR",
        "normalisation": "ImageNet mean/std, inside the graph", "mask_stride": str(cfg.strides[0]),
        "score_threshold_default": str(cfg.score_threshold), "max_detections": str(cfg.max_detections),
        "backbone": cfg.backbone, "masking": cfg.masking, "precision": precision,
        "training_data": "DAVIS 2016 train (22 of 27 sequences), coco128-seg, balloon (see README)",
        "training_steps": str(ckpt.get("step", "")),
        "net_config": json.dumps(cfg.to_dict()),
    }


def export(net, out_path, size, fp16=False, ckpt=None):
    try:
        net.set_input_size(size)
    except ValueError as e:
        raise ExportError(str(e)) from None
    if fp16:
        # weights and activations in float16; anchors, boxes, scores and NMS stay float32
        # (onnxruntime's NonMaxSuppression is float32 only), inputs/outputs unchanged
        net = net.half()
        net.anchors = net.anchors.float()
    image = torch.zeros(1, size, size, 3, dtype=torch.uint8)
    thr = torch.tensor([net.cfg.score_threshold])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        program = torch.onnx.export(GraphWrapper(net).eval(), (image, thr), dynamo=True, opset_version=OPSET,
                                    custom_translation_table=TRANSLATIONS, verbose=False,
                                    input_names=["image", "score_threshold"],
                                    output_names=["boxes", "scores", "masks"])
    model = program.model_proto
    for k, v in metadata(net, "float16" if fp16 else "float32", ckpt or {}).items():
        model.metadata_props.add(key=k, value=v)
    onnx.checker.check_model(model)
    tmp = out_path + ".tmp"
    onnx.save(model, tmp)
    os.replace(tmp, out_path)
    return out_path


def cpu_latency_ms(path, runs=20):
    import onnxruntime as ort
    sess = ort.InferenceSession(path, providers=["CPUExecutionProvider"])
    size = int(sess.get_modelmeta().custom_metadata_map["input_size"])
    image = np.random.default_rng(0).integers(0, 255, (1, size, size, 3), dtype=np.uint8)
    feed = {"image": image, "score_threshold": np.array([0.5], np.float32)}
    for _ in range(3):
        sess.run(None, feed)
    times = []
    for _ in range(runs):
        t = time.perf_counter()
        sess.run(None, feed)
        times.append((time.perf_counter() - t) * 1000)
    return float(np.median(times))


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--checkpoint", required=True)
    p.add_argument("--out", default="assets/s4net.onnx")
    p.add_argument("--size", type=int, default=None, help="input size (default: the training size)")
    p.add_argument("--fp16", action="store_true", help="float16 weights/activations (for GPUs)")
    a = p.parse_args(argv)
    try:
        net, ckpt = load_checkpoint(a.checkpoint)
        out_dir = os.path.dirname(os.path.abspath(a.out))
        if not os.path.isdir(out_dir) or not os.access(out_dir, os.W_OK):
            raise ExportError(f"cannot write to {out_dir}")
        path = export(net, a.out, a.size or net.cfg.image_size, a.fp16, ckpt)
    except ExportError as e:
        sys.exit(f"error: {e}")
    mb = os.path.getsize(path) / 2 ** 20
    print(f"wrote {path} ({mb:.1f} MB, {'float16' if a.fp16 else 'float32'}, opset {OPSET})")
    print(f"CPU provider latency (median of 20, random image): {cpu_latency_ms(path):.1f} ms")


if __name__ == "__main__":
    main()
