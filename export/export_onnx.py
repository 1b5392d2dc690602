"""Export a trained S4Net checkpoint to one ONNX graph, pixels in, instances out.

    python -m export.export_onnx --checkpoint runs/s4net/last.pt --out assets/s4net.onnx [--fp16]

The graph keeps the contract in contracts/graph.py (names, shapes, metadata the app reads).
Exporter: torch.onnx dynamo exporter, opset 18 (pinned), NMS as the standard NonMaxSuppression op.
"""
import argparse
import copy
import json
import os
import sys
import time
import warnings

import numpy as np
import onnx
import torch

from contracts import graph as G
from model.checkpoint import CheckpointError, load_checkpoint

from .onnx_ops import TRANSLATIONS

OPSET = G.OPSET


class ExportError(Exception):
    pass


class GraphWrapper(torch.nn.Module):
    def __init__(self, net):
        super().__init__()
        self.net = net

    def forward(self, image, score_threshold):
        return self.net.infer(image, score_threshold)


def metadata(net, precision, ckpt):
    cfg = net.cfg
    return {
        G.META_MODEL_NAME: G.MODEL_NAME, "format_version": G.FORMAT_VERSION,
        G.META_INPUT_SIZE: str(cfg.image_size), "input_layout": "NHWC uint8", "colour_order": "BGR",
        "normalisation": "ImageNet mean/std, inside the graph", G.META_MASK_STRIDE: str(cfg.mask_stride),
        G.META_THRESHOLD: str(cfg.score_threshold), G.META_MAX_DETECTIONS: str(cfg.max_detections),
        G.META_BACKBONE: cfg.backbone, "masking": cfg.masking, G.META_PRECISION: precision,
        "training_data": json.dumps(ckpt["data_sources"]) if ckpt.get("data_sources") else "see the README",
        "training_steps": str(ckpt.get("step", "")),
        "net_config": json.dumps(cfg.to_dict()),
    }


def export(net, out_path, size, fp16=False, ckpt=None):
    """Writes the graph of `net` (left unchanged: the export works on a copy) and returns the path."""
    net = copy.deepcopy(net).fold_input_conversion()
    try:
        net.set_input_size(size)
    except ValueError as e:
        raise ExportError(str(e)) from None
    if fp16:
        # weights and activations in float16; anchors, boxes, scores and NMS stay float32
        # (onnxruntime's NonMaxSuppression is float32 only), inputs/outputs unchanged
        net = net.half()
        net.anchors = net.anchors.float()
        net.pad_empty = True
    image = torch.zeros(1, size, size, 3, dtype=torch.uint8)
    thr = torch.tensor([net.cfg.score_threshold])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        program = torch.onnx.export(GraphWrapper(net).eval(), (image, thr), dynamo=True, opset_version=OPSET,
                                    custom_translation_table=TRANSLATIONS, verbose=False,
                                    input_names=G.INPUTS, output_names=G.OUTPUTS)
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
    feed = {G.INPUT_IMAGE: image, G.INPUT_THRESHOLD: np.array([0.5], np.float32)}
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
    except (CheckpointError, ExportError) as e:
        sys.exit(f"error: {e}")
    mb = os.path.getsize(path) / 2 ** 20
    print(f"wrote {path} ({mb:.1f} MB, {'float16' if a.fp16 else 'float32'}, opset {OPSET})")
    print(f"CPU provider latency (median of 20, random image): {cpu_latency_ms(path):.1f} ms")


if __name__ == "__main__":
    main()
