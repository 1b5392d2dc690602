"""Put a trained checkpoint into assets/: a slim PyTorch checkpoint (weights + config, no optimiser),
the float32 ONNX graph and its float16 variant.

    python -m export.ship --checkpoint runs/s4net/last.pt
"""
import argparse
import os
import sys

import torch

from assets import ASSETS_DIR as ASSETS
from model.checkpoint import CheckpointError, load_checkpoint

from .export_onnx import cpu_latency_ms, export


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--checkpoint", required=True)
    p.add_argument("--assets", default=ASSETS)
    a = p.parse_args(argv)
    try:
        net, ckpt = load_checkpoint(a.checkpoint)
    except CheckpointError as e:
        sys.exit(f"error: {e}")
    slim = {"model": net.state_dict(), "net_config": ckpt["net_config"], "step": ckpt.get("step"),
            "train_config": ckpt.get("train_config"), "history": ckpt.get("history")}
    pt = os.path.join(a.assets, f"s4net_{net.cfg.backbone}.pt")
    torch.save(slim, pt + ".tmp")
    os.replace(pt + ".tmp", pt)
    fp32 = export(net, os.path.join(a.assets, "s4net.onnx"), net.cfg.image_size, ckpt=ckpt)
    net, _ = load_checkpoint(a.checkpoint)
    fp16 = export(net, os.path.join(a.assets, "s4net.fp16.onnx"), net.cfg.image_size, fp16=True, ckpt=ckpt)
    for path in (pt, fp32, fp16):
        print(f"{path}: {os.path.getsize(path) / 2 ** 20:.1f} MB")
    print(f"CPU provider latency: float32 {cpu_latency_ms(fp32):.1f} ms, float16 {cpu_latency_ms(fp16):.1f} ms")


if __name__ == "__main__":
    main()
