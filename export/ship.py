"""Put a trained checkpoint into assets/: a slim PyTorch checkpoint (weights + config, no optimiser),
the float32 ONNX graph (the app's CPU graph) and a float16 graph (the app's CUDA graph): the same
model, or with --gpu-checkpoint that checkpoint's layout (model.calibrate --input-size --mask-flip:
the mask path at a larger input and flip-averaged, which a GPU affords and a 2-core CPU does not).
With --int8 also an int8 variant, calibrated on training frames of --data: the app then prefers
it on the CPU, so ship it only after checking its quality (for the v2 model it lost 6 AP points).

    python -m export.ship --checkpoint runs/s4net/last.pt [--gpu-checkpoint runs/s4net/gpu.pt]
"""
import argparse
import os
import sys

import torch

from assets import ASSETS_DIR as ASSETS
from model.checkpoint import CheckpointError, load_checkpoint

from .export_onnx import cpu_latency_ms, export
from .quantize import calibration_frames, quantize


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--checkpoint", required=True)
    p.add_argument("--gpu-checkpoint", help="the float16 (CUDA) graph's checkpoint (default: --checkpoint)")
    p.add_argument("--assets", default=ASSETS)
    p.add_argument("--int8", action="store_true", help="also an int8 graph (the app's CPU default when present)")
    p.add_argument("--data", default="../shared/data", help="shared data: int8 calibration frames")
    a = p.parse_args(argv)
    try:
        net, ckpt = load_checkpoint(a.checkpoint)
        gpu_net, gpu_ckpt = load_checkpoint(a.gpu_checkpoint) if a.gpu_checkpoint else (net, ckpt)
    except CheckpointError as e:
        sys.exit(f"error: {e}")
    slim = {"model": net.state_dict(), "net_config": ckpt["net_config"], "step": ckpt.get("step"),
            "train_config": ckpt.get("train_config"), "history": ckpt.get("history"),
            "data_sources": ckpt.get("data_sources")}  # the graphs' training_data metadata
    pt = os.path.join(a.assets, f"s4net_{net.cfg.backbone}.pt")
    torch.save(slim, pt + ".tmp")
    os.replace(pt + ".tmp", pt)
    fp32 = export(net, os.path.join(a.assets, "s4net.onnx"), net.cfg.image_size, ckpt=ckpt)
    fp16 = export(gpu_net, os.path.join(a.assets, "s4net.fp16.onnx"), gpu_net.cfg.image_size, fp16=True, ckpt=gpu_ckpt)
    paths = [pt, fp32, fp16]
    int8 = os.path.join(a.assets, "s4net.int8.onnx")
    if a.int8:
        paths.append(quantize(fp32, int8, calibration_frames(a.data, 120, net.cfg.image_size)))
    elif os.path.exists(int8):
        os.remove(int8)  # an int8 graph of another model must not be picked up
    for path in paths:
        print(f"{path}: {os.path.getsize(path) / 2 ** 20:.1f} MB")
    print("CPU provider latency: " + ", ".join(f"{os.path.basename(p)} {cpu_latency_ms(p):.1f} ms" for p in paths[1:]))


if __name__ == "__main__":
    main()
