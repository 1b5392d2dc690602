"""Training really learns: the loss falls on a handful of real images within a few dozen steps."""
import numpy as np
import torch

from model.cache import build, unpack
from model.config import LossConfig, NetConfig, TrainConfig
from model.s4net import S4Net
from model.splits import shared_datasets
from model.train import CachedDataset, freeze_early_backbone, training_step


def test_loss_decreases_on_real_images(data_root):
    torch.manual_seed(0)
    rng = np.random.default_rng(0)
    samples = shared_datasets(data_root)
    pick = [s for s in samples if s.group == "davis/bear"][:2] + [s for s in samples if s.group == "balloon"][:2]
    arrays, _ = build(pick, 192)
    data = CachedDataset(unpack(arrays))
    batch = [data.sample(rng, i, augmented=False) for i in range(len(pick))]
    images, targets = [b[0] for b in batch], [b[1] for b in batch]
    net = S4Net(NetConfig(image_size=192)).train()
    freeze_early_backbone(net, TrainConfig().freeze_backbone_stages)
    opt = torch.optim.SGD([p for p in net.parameters() if p.requires_grad], lr=0.005, momentum=0.9)
    losses = []
    for _ in range(25):
        loss, parts = training_step(net, images, targets, LossConfig(), rng)
        opt.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(net.parameters(), 10.0)
        opt.step()
        losses.append(loss.item())
    first, last = np.mean(losses[:3]), np.mean(losses[-3:])
    assert np.isfinite(losses).all()
    assert last < 0.6 * first, (first, last)
