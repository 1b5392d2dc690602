"""The switchable parts of the network: ResNet-50 backbone (random weights, and loading a weights
file), and the binary-masking / RoIAlign variants of the paper's ablation, on a real image."""
import numpy as np
import pytest
import torch

from model.backbones import ResNet50
from model.cache import resize_sample
from model.config import LossConfig, NetConfig
from model.s4net import S4Net
from model.splits import shared_datasets
from model.train import masks_to_boxes, training_step


@pytest.fixture(scope="module")
def real_batch(data_root):
    s = [x for x in shared_datasets(data_root) if x.group == "balloon"][0]
    image, masks, _ = s.load()
    img, small = resize_sample(image, masks, 128)
    t = {"boxes": torch.from_numpy(masks_to_boxes(small)), "ignore": torch.zeros(0, 4),
         "masks": torch.from_numpy(small)}
    return img, t


@pytest.mark.parametrize("backbone,masking", [("resnet50", "ternary"), ("lite0", "binary"), ("lite0", "roialign")])
def test_variants_train_and_infer(real_batch, backbone, masking):
    torch.manual_seed(0)
    img, t = real_batch
    net = S4Net(NetConfig(backbone=backbone, masking=masking, image_size=128), pretrained=False).train()
    loss, parts = training_step(net, [img], [t], LossConfig(), np.random.default_rng(0))
    loss.backward()
    assert torch.isfinite(loss) and parts["mask"] > 0
    net.eval()
    with torch.no_grad():
        boxes, scores, masks = net.infer(torch.from_numpy(img[None]), torch.tensor([0.0]))
    assert boxes.shape[1] == 4 and masks.shape[1:] == (16, 16) and len(scores) == len(masks) <= 20
    assert ((masks >= 0) & (masks <= 1)).all()


def test_resnet50_loads_a_weights_file(tmp_path):
    torch.manual_seed(1)
    src = ResNet50()
    path = tmp_path / "resnet50.pth"
    sd = src.state_dict()
    sd["fc.weight"], sd["fc.bias"] = torch.zeros(1000, 2048), torch.zeros(1000)  # torchvision files carry fc
    torch.save(sd, path)
    dst = ResNet50(str(path))
    for k, v in src.state_dict().items():
        assert torch.equal(v, dst.state_dict()[k])
    feats = dst.eval()(torch.zeros(1, 3, 128, 128))
    assert [f.shape[1] for f in feats] == dst.out_channels and feats[0].shape[-1] == 16
