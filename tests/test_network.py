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
         "masks": torch.from_numpy(small), "unsure": torch.zeros(small.shape[1:], dtype=torch.bool)}
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
    fine, *feats = dst.eval()(torch.zeros(1, 3, 128, 128))
    assert [f.shape[1] for f in feats] == dst.out_channels and feats[0].shape[-1] == 16
    assert fine.shape[1] == dst.fine_channels and fine.shape[-1] == 32


def test_finer_masks_have_stride_4_and_start_as_the_coarse_ones(real_batch):
    """A refiner added to a trained network changes nothing until it is trained (zero last conv);
    its masks are twice as fine; it trains (gradient reaches it)."""
    torch.manual_seed(0)
    img, t = real_batch
    coarse_net = S4Net(NetConfig(image_size=128, mask_stride=8), pretrained=False).eval()
    fine_net = S4Net(NetConfig(image_size=128, mask_stride=4), pretrained=False).eval()
    missing, unexpected = fine_net.load_state_dict(coarse_net.state_dict(), strict=False)
    assert not unexpected and missing and all(k.startswith("refiner.") for k in missing)
    x = torch.from_numpy(img[None])
    with torch.no_grad():
        b8, s8, m8 = coarse_net.infer(x, torch.tensor([0.0]))
        b4, s4, m4 = fine_net.infer(x, torch.tensor([0.0]))
    assert torch.equal(b8, b4) and m8.shape[1:] == (16, 16) and m4.shape[1:] == (32, 32)
    up = torch.nn.functional.interpolate(torch.logit(m8[:, None].clamp(1e-6, 1 - 1e-6)), scale_factor=2.0,
                                         mode="bilinear", align_corners=False).sigmoid()[:, 0]
    assert torch.allclose(up, m4, atol=1e-4)
    fine_net.train()
    loss, parts = training_step(fine_net, [img], [t], LossConfig(), np.random.default_rng(0))
    loss.backward()
    assert fine_net.refiner.out.weight.grad.abs().sum() > 0


def test_stride_2_masks_start_as_the_stride_4_ones_and_train(real_batch):
    """A stride-2 refiner (on the backbone's stride-2 features) added to a stride-4 network changes
    nothing until trained, whether it refines the whole map or only each box's window; its masks
    are twice as fine again; it trains; and its windows give the whole-map masks inside the boxes
    once it is no longer a no-op."""
    torch.manual_seed(0)
    img, t = real_batch
    s4 = S4Net(NetConfig(image_size=128, mask_stride=4), pretrained=False).eval()
    torch.nn.init.normal_(s4.refiner.out.weight, std=0.3)  # a stride-4 refiner that does something
    s2 = S4Net(NetConfig(image_size=128, mask_stride=2), pretrained=False).eval()
    missing, unexpected = s2.load_state_dict(s4.state_dict(), strict=False)
    assert not unexpected and missing and all(k.startswith("refiner2.") for k in missing)
    assert s2.backbone.finest_channels == 16
    x = torch.from_numpy(img[None])
    with torch.no_grad():
        s4.refine_in_windows = s2.refine_in_windows = False
        b4, _, m4 = s4.infer(x, torch.tensor([0.0]))
        b2, _, m2 = s2.infer(x, torch.tensor([0.0]))
    assert len(b4) and torch.equal(b4, b2) and m4.shape[1:] == (32, 32) and m2.shape[1:] == (64, 64)
    up = torch.nn.functional.interpolate(torch.logit(m4[:, None].double().clamp(1e-7, 1 - 1e-7)), scale_factor=2.0,
                                         mode="bilinear", align_corners=False).sigmoid()[:, 0]
    assert torch.allclose(up.float(), m2, atol=1e-4)

    torch.nn.init.normal_(s2.refiner2.out.weight, std=0.3)
    with torch.no_grad():
        _, _, full = s2.infer(x, torch.tensor([0.0]))
        s2.refine_in_windows = True
        _, _, windowed = s2.infer(x, torch.tensor([0.0]))
    assert (full - m2).abs().max() > 0.05                      # the stride-2 refiner now acts...
    for i, box in enumerate(b2):                               # ...and its windows are exact inside each box
        c = torch.floor(box / 2).long()
        ys, xs = slice(max(int(c[1]) - 1, 0), int(c[3]) + 2), slice(max(int(c[0]) - 1, 0), int(c[2]) + 2)
        assert (full[i, ys, xs] - windowed[i, ys, xs]).abs().max() < 1e-5

    s2.train()
    loss, _ = training_step(s2, [img], [t], LossConfig(), np.random.default_rng(0))
    loss.backward()
    assert s2.refiner2.out.weight.grad.abs().sum() > 0 and s2.refiner2.reduce.weight.grad.abs().sum() > 0
