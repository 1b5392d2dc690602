"""The one way to rebuild S4Net from a checkpoint file (training, evaluation and export use it).
A checkpoint stores its own network config, so no other settings are needed."""
import os

import torch

from .config import NetConfig
from .s4net import S4Net


class CheckpointError(Exception):
    """One line saying what is wrong with a checkpoint file."""


def read_checkpoint(path, map_location="cpu"):
    """The checkpoint's dict (weights, net_config, step, ...), checked to be one of this project's."""
    if not os.path.isfile(path):
        raise CheckpointError(f"checkpoint not found: {path}")
    try:
        ckpt = torch.load(path, map_location=map_location, weights_only=False)
    except Exception as e:
        raise CheckpointError(f"{path} is not a PyTorch checkpoint ({type(e).__name__})") from None
    if not isinstance(ckpt, dict) or "model" not in ckpt or "net_config" not in ckpt:
        raise CheckpointError(f"{path} is not an S4Net checkpoint of this project (no model/net_config)")
    return ckpt


def load_checkpoint(path, map_location="cpu"):
    """(S4Net in eval mode, checkpoint dict); CheckpointError when the file is missing or does not fit."""
    ckpt = read_checkpoint(path, map_location)
    try:
        net = S4Net(NetConfig.from_dict(ckpt["net_config"]), pretrained=False)
        net.load_state_dict(ckpt["model"])
    except (RuntimeError, ValueError, TypeError) as e:
        first = str(e).strip().splitlines()
        raise CheckpointError(f"{path} does not match the S4Net architecture: "
                              f"{first[1].strip() if len(first) > 1 else first[0]}") from None
    return net.eval(), ckpt


# what evaluation, calibration and export read; the optimiser's state (as large again) is left out
WEIGHTS_KEYS = ("model", "net_config", "train_config", "step", "history", "data_sources")


def strip_checkpoint(path, out):
    """Write `path` without its optimiser and random states (about half the size), atomically."""
    ckpt = read_checkpoint(path)
    tmp = out + ".tmp"
    torch.save({k: ckpt[k] for k in WEIGHTS_KEYS if k in ckpt}, tmp)
    os.replace(tmp, out)


def main(argv=None):
    import argparse
    import sys
    p = argparse.ArgumentParser(description="Copy a training checkpoint without its optimiser state "
                                            "(what evaluation, calibration and export read).")
    p.add_argument("checkpoint")
    p.add_argument("out")
    a = p.parse_args(argv)
    try:
        strip_checkpoint(a.checkpoint, a.out)
    except CheckpointError as e:
        sys.exit(f"error: {e}")
    print(f"{a.out}: {os.path.getsize(a.out) / 2**20:.1f} MiB")


if __name__ == "__main__":
    main()
