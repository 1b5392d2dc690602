"""What a training run on a GPU machine relies on: a cache packed small enough to travel that reads
back as the cache it came from, batches drawn in worker processes like those drawn in the training
process, a run sized to the minutes it has, weights without the optimiser, and the one call
(tools/train_on_gpu.sh, tried on the CPU) whose weights come back in parts that join into a checkpoint."""
import os
import subprocess
import sys

import numpy as np
import pytest
import torch

from model.cache import build, unpack
from model.checkpoint import load_checkpoint, strip_checkpoint
from model.config import NetConfig, TrainConfig
from model.pack_cache import pack
from model.splits import shared_datasets
from model.train import CachedDataset, batches, train


@pytest.fixture(scope="module")
def small_cache(data_root):
    """Six DAVIS frames of one sequence and two balloon photos, as model.cache stores them at 128 px."""
    samples = shared_datasets(data_root)
    pick = [s for s in samples if s.group == "davis/bear"][:6] + [s for s in samples if s.group == "balloon"][:2]
    arrays, skipped = build(pick, 128)
    assert not skipped
    return arrays


@pytest.fixture
def packed_cache_dir(small_cache, tmp_path):
    """A folder holding small_cache packed for travel, as model.pack_cache writes it."""
    folder = tmp_path / "cache"
    folder.mkdir()
    np.savez_compressed(folder / "train.npz", **pack(small_cache))
    return folder


def test_a_packed_cache_reads_back_as_the_cache_it_came_from_less_the_frames_left_out(small_cache):
    packed = pack(small_cache, quality=50, davis_every=2)
    assert "images" not in packed and packed["webp"].dtype == np.uint8
    assert packed["webp"].nbytes < small_cache["images"].nbytes / 5
    full, back = unpack(small_cache), unpack(packed)
    kept = [0, 2, 4, 6, 7]  # every second bear frame, both balloon photos
    assert list(back["groups"]) == [full["groups"][i] for i in kept]
    assert back["images"].shape == (5, 128, 128, 3)
    # WebP is lossy, but only just: a few grey levels on average (about 2-3 at the training 320 px)
    assert np.abs(back["images"].astype(int) - full["images"][kept]).mean() < 6
    for new, old in enumerate(kept):  # each kept image keeps exactly its own instances, bit for bit
        mine = back["inst_masks"][back["inst_image"] == new]
        theirs = full["inst_masks"][full["inst_image"] == old]
        assert len(mine) == len(theirs) > 0 and (mine == theirs).all()
        assert (back["unsure"][new] == full["unsure"][old]).all()
    assert list(back["inst_salient"]) == [full["inst_salient"][j] for j in np.nonzero(np.isin(full["inst_image"], kept))[0]]


def test_batches_drawn_in_worker_processes_are_batches_like_those_drawn_in_the_training_process(small_cache):
    data = CachedDataset(unpack(small_cache))
    here = next(batches(data, np.random.default_rng(0), TrainConfig(batch_size=3), 0))
    workers = batches(data, np.random.default_rng(0), TrainConfig(batch_size=3, workers=2), 0)
    there = [next(workers) for _ in range(3)]
    for batch in there:
        assert len(batch) == 3
        for (image, t), (image0, t0) in zip(batch, here):
            assert image.shape == image0.shape and image.dtype == image0.dtype
            assert t.keys() == t0.keys()
            assert all(isinstance(v, torch.Tensor) and v.dtype == t0[k].dtype for k, v in t.items())
    # each worker draws its own stream: two workers' first batches are not the same images
    assert not all(np.array_equal(a[0], b[0]) for a, b in zip(there[0], there[1]))


def test_a_run_fitted_to_its_minutes_sizes_its_iterations_and_comes_back_as_weights_alone(packed_cache_dir, tmp_path):
    cfg = TrainConfig(cache=str(packed_cache_dir), out=str(tmp_path / "run"), batch_size=2, iterations=100000, lr=0.001,
                      workers=1, checkpoint_minutes=100, net=NetConfig(image_size=128))
    _, steps = train(cfg, device="cpu", fit_minutes=0.15)
    assert 40 <= steps < 100000 and cfg.iterations == steps  # timed on steps 10-40, then sized to the rest
    strip_checkpoint(str(tmp_path / "run" / "last.pt"), str(tmp_path / "weights.pt"))
    assert os.path.getsize(tmp_path / "weights.pt") < 0.8 * os.path.getsize(tmp_path / "run" / "last.pt")
    net, ckpt = load_checkpoint(str(tmp_path / "weights.pt"))
    assert ckpt["step"] == steps and "optimizer" not in ckpt and net.cfg.image_size == 128


def test_the_one_call_for_a_gpu_machine_returns_weights_that_join_into_a_checkpoint(packed_cache_dir, tmp_path):
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    (tmp_path / "back").mkdir()
    env = dict(os.environ, OUT=str(tmp_path / "back"), CACHE=str(packed_cache_dir), RUN=str(tmp_path / "run"),
               TRAIN_DEVICE="cpu", PATH=os.path.dirname(sys.executable) + os.pathsep + os.environ["PATH"])
    done = subprocess.run(["bash", os.path.join(root, "tools", "train_on_gpu.sh"), "0.1", "--batch-size", "2",
                           "--image-size", "128", "--lr", "0.001"], env=env, capture_output=True, text=True)
    assert done.returncode == 0, done.stdout + done.stderr
    back = sorted(p.name for p in (tmp_path / "back").iterdir())
    parts = [p for p in back if p.startswith("weights.part.")]
    assert "train.log" in back and "config.json" in back and len(parts) == 2  # 18.5 MiB in 15 MiB parts
    assert all(os.path.getsize(tmp_path / "back" / p) <= 15 * 2**20 for p in parts)
    with open(tmp_path / "joined.pt", "wb") as f:
        for p in parts:
            f.write((tmp_path / "back" / p).read_bytes())
    net, ckpt = load_checkpoint(str(tmp_path / "joined.pt"))
    assert ckpt["step"] >= 40 and ckpt["train_config"]["workers"] >= 2 and net.cfg.image_size == 128
    assert "iterations fill 0.1 minutes" in (tmp_path / "back" / "train.log").read_text()
