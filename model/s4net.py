"""S4Net: backbone -> FPN (strides 8..64) -> anchor head, plus RoIMasking -> segmentation branch.

Training feeds ground-truth boxes to the mask branch; inference feeds the boxes that survive
decode, top-k, NMS and the score threshold (see `S4Net.infer`).
"""
import torch
import torch.nn as nn
import torch.nn.functional as F

from . import boxes as B
from .backbones import IMAGENET_MEAN, IMAGENET_STD, build_backbone
from .config import NetConfig
from .crop_op import crop_windows
from .nms_op import nms


def conv3x3(cin, cout, separable=False, dilation=1):
    """A 3x3 conv, or its depthwise-separable form (3x3 per channel, then 1x1 across channels)."""
    if not separable:
        return nn.Conv2d(cin, cout, 3, padding=dilation, dilation=dilation)
    return nn.Sequential(nn.Conv2d(cin, cin, 3, padding=dilation, dilation=dilation, groups=cin, bias=False),
                         nn.Conv2d(cin, cout, 1))


class FPN(nn.Module):
    """Lateral 1x1 + bilinear top-down + 3x3 smoothing; P6 = stride-2 max-pool of P5."""

    def __init__(self, in_channels, ch, separable=False):
        super().__init__()
        self.lateral = nn.ModuleList(nn.Conv2d(c, ch, 1) for c in in_channels)
        self.smooth = nn.ModuleList(conv3x3(ch, ch, separable) for _ in in_channels[:-1])

    def forward(self, feats):
        p = self.lateral[-1](feats[-1])  # top level: 1x1 conv of C5
        outs = [p]
        for i in range(len(feats) - 2, -1, -1):
            p = self.lateral[i](feats[i]) + F.interpolate(p, size=feats[i].shape[-2:], mode="bilinear",
                                                         align_corners=False)
            outs.insert(0, self.smooth[i](p))
        outs.append(F.max_pool2d(outs[-1], 1, 2))
        return outs  # strides 8, 16, 32, 64


class DetectionHead(nn.Module):
    def __init__(self, ch, mid, num_anchors, separable=False):
        super().__init__()
        self.conv = conv3x3(ch, mid, separable)
        self.cls = nn.Conv2d(mid, num_anchors * 2, 3, padding=1)
        self.reg = nn.Conv2d(mid, num_anchors * 4, 3, padding=1)
        nn.init.normal_(self.cls.weight, std=0.01)
        nn.init.normal_(self.reg.weight, std=0.01)
        nn.init.zeros_(self.reg.bias)
        # start with background favoured so early training is not swamped by false positives
        with torch.no_grad():
            self.cls.bias.view(-1, 2)[:, 0] = 2.0
            self.cls.bias.view(-1, 2)[:, 1] = 0.0

    def forward(self, levels):
        logits, deltas = [], []
        # classes and deltas from one conv (the two kernels stacked): same numbers, one pass
        weight, bias = torch.cat([self.cls.weight, self.reg.weight]), torch.cat([self.cls.bias, self.reg.bias])
        split = self.cls.out_channels
        for x in levels:
            h = F.relu(self.conv(x))
            n = x.shape[0]
            both = F.conv2d(h, weight, bias, padding=1)
            # (N, A*k, H, W) -> (N, H*W*A, k): cell-major, anchor fastest, like make_anchors
            logits.append(both[:, :split].permute(0, 2, 3, 1).reshape(n, -1, 2))
            deltas.append(both[:, split:].permute(0, 2, 3, 1).reshape(n, -1, 4))
        return torch.cat(logits, 1), torch.cat(deltas, 1)


def roi_masking_weights(boxes, map_h, map_w, stride, alpha, ternary=True):
    """(K,4) image-pixel boxes -> (K,1,H,W) mask over the whole map: +1 in the box, -1 in the band
    alpha*w / alpha*h around it (ternary) or 0 (binary), 0 elsewhere.

    Cells: x0 = floor(x1/stride), x1' = floor(x2/stride) + 1; cell j is in the band when
    x0 - alpha*w <= j < x1' + alpha*w. Index comparisons rather than slicing, so it exports and
    the band is simply clipped by the map border."""
    b = torch.floor(boxes / stride)
    x0, y0 = b[:, 0, None, None], b[:, 1, None, None]
    x1, y1 = b[:, 2, None, None] + 1, b[:, 3, None, None] + 1
    xs = torch.arange(map_w, dtype=boxes.dtype, device=boxes.device).reshape(1, 1, -1)
    ys = torch.arange(map_h, dtype=boxes.dtype, device=boxes.device).reshape(1, -1, 1)
    inside = (xs >= x0) & (xs < x1) & (ys >= y0) & (ys < y1)
    m = inside.to(boxes.dtype)
    if ternary:
        bw, bh = (x1 - x0) * alpha, (y1 - y0) * alpha
        grown = (xs >= x0 - bw) & (xs < x1 + bw) & (ys >= y0 - bh) & (ys < y1 + bh)
        m = m - (grown & ~inside).to(boxes.dtype)
    return m.unsqueeze(1)


def neighbour_cells(boxes, map_h, map_w, stride, padding=0, told=None):
    """(n,4) detector boxes of one image -> (n + padding,1,H,W): 1 in the cells of the boxes other
    than the instance's own, 0 elsewhere; the `padding` extra rows (dummy boxes, which have no box
    of their own here) see all n. told (n,) bool: only these boxes are told of (all if None)."""
    inside = roi_masking_weights(boxes, map_h, map_w, stride, 0.0, ternary=False)
    if told is not None:
        inside = inside * told.to(inside.dtype).reshape(-1, 1, 1, 1)
    own = torch.cat([inside, inside.new_zeros((padding, 1, map_h, map_w))]) if padding else inside
    return ((inside.sum(0, keepdim=True) - own) > 0).to(boxes.dtype)


class ResidualBlock(nn.Module):
    def __init__(self, ch, separable=False):
        super().__init__()
        self.conv1 = conv3x3(ch, ch, separable)
        self.conv2 = conv3x3(ch, ch, separable)

    def forward(self, x):
        return F.relu(x + self.conv2(F.relu(self.conv1(x))))


class SegmentationBranch(nn.Module):
    """max-pool -> res block -> max-pool -> dilated 3x3 -> res block -> 1x1 logits (no final ReLU).
    separable: every 3x3 is depthwise + 1x1 (same receptive field, ~7x fewer MACs per instance)."""

    def __init__(self, cin, c1, c2, separable=False):
        super().__init__()
        self.inp = nn.Conv2d(cin, c1, 1) if cin != c1 else nn.Identity()
        self.res1 = ResidualBlock(c1, separable)
        self.dilated = conv3x3(c1, c2, separable, dilation=2)
        self.res2 = ResidualBlock(c2, separable)
        self.out = nn.Conv2d(c2, 1, 1)

    def forward(self, x):
        x = self.res1(self.inp(F.max_pool2d(x, 3, 1, 1)))
        x = F.relu(self.dilated(F.max_pool2d(x, 3, 1, 1)))
        return self.out(self.res2(x))


class MaskRefiner(nn.Module):
    """Finer masks, one octave: each instance's logits (stride 8; or stride 4, for the optional
    second refiner) are upsampled x2 and concatenated with reduced backbone features of that finer
    stride; two 3x3 convs predict a correction that is added to the upsampled logits. The last conv
    starts at zero, so a refiner added to a trained model starts out giving exactly its coarse masks.

    The first conv is linear in its input, so its part over the image features is the same for
    every instance: `image_features` computes it once per image, and per instance only the one
    upsampled-logit channel goes through it (same result as the concatenation, a fraction of
    the cost)."""

    def __init__(self, cin, ch, separable=False):
        super().__init__()
        self.reduce = nn.Conv2d(cin, ch, 1)
        self.conv1 = conv3x3(ch + 1, ch, separable)  # input channel 0: the logits, 1..: features
        self.conv2 = conv3x3(ch, ch, separable)
        self.out = conv3x3(ch, 1, separable)
        last = self.out[-1] if separable else self.out
        nn.init.zeros_(last.weight)
        nn.init.zeros_(last.bias)

    def _conv1_part(self, x, channels):
        """conv1 restricted to input `channels` (a slice), bias included with the feature part."""
        if isinstance(self.conv1, nn.Sequential):
            dw, pw = self.conv1
            if x.shape[1] == 1:  # from one channel, depthwise then 1x1 is one (ch, 1, 3, 3) conv
                return F.conv2d(x, pw.weight[:, channels] * dw.weight[channels], None, 1, dw.padding, dw.dilation)
            y = F.conv2d(x, dw.weight[channels], None, 1, dw.padding, dw.dilation, x.shape[1])
            return F.conv2d(y, pw.weight[:, channels], pw.bias)
        bias = self.conv1.bias if channels.start else None
        return F.conv2d(x, self.conv1.weight[:, channels], bias, 1, self.conv1.padding)

    def image_features(self, fine):
        """Once per image: (N, cin, H/4, W/4) -> conv1's term of the image features (N, ch, H/4, W/4)."""
        return self._conv1_part(F.relu(self.reduce(fine)), slice(1, None))

    def forward(self, coarse, feats):
        """coarse (K,1,h,w) logits, feats (K or 1,ch,2h,2w) from image_features -> refined
        logits (K,1,2h,2w)."""
        up = F.interpolate(coarse, scale_factor=2.0, mode="bilinear", align_corners=False)
        own = self._conv1_part(up, slice(0, 1))
        # expanded, not broadcast: onnxruntime's blocked-layout Add fails when 0 instances meet 1
        # image; and conv + add of equal shapes + ReLU fuse into one kernel
        x = F.relu(own + feats.expand_as(own))
        return up + self.out(F.relu(self.conv2(x)))

    # the correction at a cell depends on cells up to this far (conv1, conv2 and out: 3x3 each)
    RECEPTIVE_RADIUS = 3

    def forward_windows(self, coarse, feats, rows, cols):
        """forward for one image, with the correction computed only in each instance's window:
        coarse (K,1,h,w), feats (1,ch,2h,2w), rows (K,Sh) / cols (K,Sw) the window's cells on the
        fine map (model.crop_op). Outside the window the result is the upsampled coarse logits;
        inside it, more than RECEPTIVE_RADIUS cells from a window edge that is not the map's edge,
        it equals forward's (to float rounding). Saves the convolutions over the rest of the map.

        Upsampling, cropping and pasting are small matrix products (bilinear weights, one-hot
        row/column selections): no 1-channel map goes through onnxruntime's 16-channel blocked
        layout, and nothing is gathered element by element."""
        k, _, h, w = coarse.shape
        uy, ux = upsample_matrix(h, coarse), upsample_matrix(w, coarse)          # (2h, h), (2w, w)
        small = coarse[:, 0]
        # expanded, not broadcast: onnxruntime's MatMul cannot broadcast against 0 instances
        up = uy.expand(k, -1, -1) @ small @ ux.t().expand(k, -1, -1)              # (K, 2h, 2w)
        sh, sw = rows.shape[1], cols.shape[1]
        wy = uy.index_select(0, rows.reshape(-1)).reshape(k, sh, h)
        wx = ux.index_select(0, cols.reshape(-1)).reshape(k, sw, w)
        up_win = wy @ small @ wx.transpose(1, 2)                                  # (K, Sh, Sw)
        ch = feats.shape[1]
        flat = (rows[:, :, None] * (2 * w) + cols[:, None, :]).reshape(-1)        # (K*Sh*Sw,)
        # cells as rows of (2h*2w, ch): each pick copies one contiguous row of channels
        feats_win = feats.reshape(ch, -1).t().index_select(0, flat).reshape(k, sh, sw, ch).permute(0, 3, 1, 2)
        x = F.relu(self._conv1_part(up_win[:, None], slice(0, 1)) + feats_win)
        correction = self.out(F.relu(self.conv2(x)))[:, 0]                      # (K, Sh, Sw)
        pick_y = (torch.arange(2 * h, device=rows.device)[None, :, None] == rows[:, None, :]).to(small.dtype)
        pick_x = (torch.arange(2 * w, device=cols.device)[None, None, :] == cols[:, :, None]).to(small.dtype)
        return (up + pick_y @ correction @ pick_x)[:, None]                      # (K, 1, 2h, 2w)


def shrink(x, size):
    """NCHW square images to size x size: an exact average pool when the ratio is whole (area
    resampling, as the app's resize), else antialiased bilinear."""
    ratio = x.shape[-1] // size
    if ratio * size == x.shape[-1]:
        return F.avg_pool2d(x, ratio) if ratio > 1 else x
    return F.interpolate(x, size=(size, size), mode="bilinear", antialias=True, align_corners=False)


def upsample_matrix(n, like):
    """(2n, n) weights of x2 bilinear upsampling along one axis (align_corners=False, edges
    clamped), as F.interpolate computes it: U @ v upsamples a length-n vector v."""
    src = ((torch.arange(2 * n, device=like.device, dtype=torch.float32) + 0.5) / 2 - 0.5).clamp(min=0)
    i0 = src.floor().long()
    i1 = (i0 + 1).clamp(max=n - 1)
    w1 = src - i0
    cells = torch.arange(n, device=like.device)[None, :]
    m = (cells == i0[:, None]) * (1 - w1)[:, None] + (cells == i1[:, None]) * w1[:, None]
    return m.to(like.dtype)


class SaliencyHeads(nn.Module):
    """Training-only dense supervision: every pixel of the maps the mask path reads gets a target
    (is it part of a salient instance?), not just the cells inside the few ground-truth boxes that
    reach the branch. The graph never runs these heads."""

    def __init__(self, seg_channels, fine_channels):
        super().__init__()
        self.coarse = nn.Conv2d(seg_channels, 1, 1)
        self.fine = nn.Conv2d(fine_channels, 1, 1) if fine_channels else None

    def forward(self, seg_map, fine=None):
        """seg_map (N,C,H/8,W/8), fine (N,c,H/4,W/4) or None -> list of (N,1,h,w) logits."""
        out = [self.coarse(seg_map)]
        if self.fine is not None and fine is not None:
            out.append(self.fine(F.relu(fine)))
        return out


class S4Net(nn.Module):
    def __init__(self, cfg: NetConfig = None, pretrained=True, backbone_weights=None):
        super().__init__()
        self.cfg = cfg = cfg or NetConfig()
        if cfg.masking not in ("ternary", "binary", "roialign"):
            raise ValueError(f"unknown masking {cfg.masking!r}")
        finest = cfg.mask_stride == cfg.strides[0] // 4
        self.backbone = build_backbone(cfg.backbone, pretrained, backbone_weights, cfg.trim_last_stage, finest)
        self.fpn = FPN(self.backbone.out_channels, cfg.fpn_channels, cfg.separable)
        self.num_anchors = 3
        self.head = DetectionHead(cfg.fpn_channels, cfg.head_channels, self.num_anchors, cfg.separable)
        self.seg_feature = conv3x3(cfg.fpn_channels, cfg.seg_channels, cfg.separable)
        self.branch = SegmentationBranch(cfg.seg_channels, *cfg.branch_channels, separable=cfg.mask_separable)
        # NetConfig.neighbour_cue: a learned vector added to the branch's input where another
        # instance's box lies; zero at first, so a trained model given it is unchanged
        self.neighbour_cue = nn.Parameter(torch.zeros(1, cfg.seg_channels, 1, 1)) if cfg.neighbour_cue else None
        strides = (cfg.strides[0], cfg.strides[0] // 2, cfg.strides[0] // 4)
        if cfg.mask_stride not in strides:
            raise ValueError(f"mask_stride must be one of {strides}, not {cfg.mask_stride}")
        self.refiner = MaskRefiner(self.backbone.fine_channels, cfg.refine_channels, cfg.mask_separable) \
            if cfg.mask_stride < cfg.strides[0] else None
        # a second refiner doubles the first one's stride-4 logits to stride 2, on the backbone's
        # stride-2 features: finer masks without a larger input (the trunk's cost is unchanged)
        self.refiner2 = MaskRefiner(self.backbone.finest_channels, cfg.refine_channels, cfg.mask_separable) \
            if finest else None
        self.saliency = SaliencyHeads(cfg.seg_channels, cfg.refine_channels if self.refiner is not None else 0) \
            if cfg.saliency_aux else None
        self.register_buffer("anchors", torch.zeros(0, 4), persistent=False)
        # onnxruntime's float16 CPU kernels fail on convolutions over an empty batch (no instance
        # found): the float16 export runs the mask path on one extra dummy box and drops it
        self.pad_empty = False
        self.input_folded = False  # see fold_input_conversion
        # inference: the refiner runs only in a window around each box (same masks inside the box)
        self.refine_in_windows = True
        self.set_input_size(cfg.image_size)
        self.register_buffer("mean", torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1) * 255, persistent=False)
        self.register_buffer("std", torch.tensor(IMAGENET_STD).view(1, 3, 1, 1) * 255, persistent=False)

    def set_input_size(self, size):
        """Square input size in pixels (a multiple of 64, so every pyramid level tiles it exactly)."""
        for s in (size, self.cfg.detector_size or size):
            if s % 64 or not 128 <= s <= 2048:
                raise ValueError(f"input size {s} is not a multiple of 64 between 128 and 2048")
        if self.cfg.detector_size > size:
            raise ValueError(f"detector size {self.cfg.detector_size} is larger than the input size {size}")
        self.cfg.image_size = size
        det = self.cfg.detector_size or size
        self.anchors = B.make_anchors((det, det), self.cfg.strides, self.cfg.anchor_sizes)

    def enlarge_mask_path(self, size, flip=True):
        """The GPU graph's layout: the mask path reads a size x size input (and, with flip, its mirror
        too), the detector the same input shrunk to the size it was trained at."""
        self.cfg.detector_size = self.cfg.detector_size or self.cfg.image_size
        self.cfg.mask_flip = flip
        self.set_input_size(size)
        return self

    # -- shared trunk ---------------------------------------------------------------------------
    def normalise(self, images_rgb_uint8_nhwc):
        x = images_rgb_uint8_nhwc.permute(0, 3, 1, 2).to(self.mean.dtype)  # float16 in the fp16 export
        return (x - self.mean) / self.std

    def fold_input_conversion(self):
        """For export: take BGR pixels minus the mean straight into the first conv, whose input
        channels are reversed and divided by the ImageNet std. Exact (zero padding of (x - mean) / std
        is zero padding of x - mean), and it saves a channel flip and a division over the whole
        input (~0.7 ms of ~17 on 2 cores). `infer` then skips both."""
        if self.input_folded:
            return self
        stem = next(m for m in self.backbone.modules() if isinstance(m, nn.Conv2d))
        with torch.no_grad():
            stem.weight.div_(self.std.view(1, 3, 1, 1))
            stem.weight.copy_(stem.weight.flip(1))
            self.mean.copy_(self.mean.flip(1))
        self.input_folded = True
        return self

    def features(self, x):
        """x: normalised NCHW. Returns class logits, box deltas, the stride-8 segmentation map and
        the refiners' image features (a tuple, one per refiner; see mask_features)."""
        fine, levels = self.trunk(x)
        logits, deltas = self.head(levels)
        return (logits, deltas) + self.mask_features(fine, levels)

    @property
    def refiners(self):
        """The refiners in the order they run (stride 4, then stride 2): none, one or two."""
        return [r for r in (self.refiner, self.refiner2) if r is not None]

    def trunk(self, x):
        """Backbone + FPN: (the refiners' backbone maps, FPN levels). The maps are a tuple in the
        refiners' order: (stride 4,), or (stride 4, stride 2) with the stride-2 refiner."""
        if self.refiner2 is not None:
            finest, fine, *feats = self.backbone(x)
            return (fine, finest), self.fpn(feats)
        fine, *feats = self.backbone(x)
        return (fine,), self.fpn(feats)

    def mask_features(self, fine, levels):
        """The mask path's inputs: (stride-8 segmentation map, a tuple of each refiner's image
        features: empty without a refiner)."""
        seg_map = F.relu(self.seg_feature(levels[0]))
        return seg_map, tuple(r.image_features(f) for r, f in zip(self.refiners, fine))

    def mask_logits(self, seg_map, batch_index, boxes, fine=(), with_coarse=False, windows=None, others=None):
        """Per box (image-pixel coords) the mask logits over the whole map at cfg.mask_stride:
        (K,1,H,W). fine: the refiners' image features (mask_features). with_coarse: (stride-8
        logits, final logits), for the training loss.
        others (K,1,h,w) on the stride-8 map: where the other instances' boxes lie
        (neighbour_cells); used with cfg.neighbour_cue, ignored without.
        windows: one (rows, cols) per refiner (model.crop_op) for one image: each refiner runs in
        its windows only (exact inside the boxes, see MaskRefiner.forward_windows)."""
        # one image (inference): the masking below broadcasts its map over the boxes, no copies
        one_image = seg_map.shape[0] == 1 and self.cfg.masking != "roialign"
        maps = seg_map if one_image else seg_map.index_select(0, batch_index)
        h, w = seg_map.shape[-2:]
        stride = self.cfg.strides[0]
        if self.cfg.masking == "roialign":
            coarse = self._roialign_logits(maps, boxes, h, w, stride)
        else:
            m = roi_masking_weights(boxes, h, w, stride, self.cfg.alpha, self.cfg.masking == "ternary")
            x = maps * m.to(maps.dtype)
            if self.neighbour_cue is not None and others is not None:
                x = x + others.to(maps.dtype) * self.neighbour_cue.to(maps.dtype)
            coarse = self.branch(x)
        final = coarse
        for k, (refiner, feats) in enumerate(zip(self.refiners, fine)):
            if windows is not None and one_image:
                final = refiner.forward_windows(final, feats, *windows[k])
            else:
                final = refiner(final, feats if one_image else feats.index_select(0, batch_index))
        return (coarse, final) if with_coarse else final

    def _roialign_logits(self, maps, boxes, h, w, stride):
        """Ablation variant: bilinear crop of the box to a fixed grid, branch, pasted back on the map."""
        s = self.cfg.roialign_size
        t = torch.linspace(0, 1, s, device=maps.device)
        bx = boxes / stride
        gx = bx[:, 0, None] + (bx[:, 2] - bx[:, 0])[:, None] * t  # (K, s) in cells
        gy = bx[:, 1, None] + (bx[:, 3] - bx[:, 1])[:, None] * t
        grid = torch.stack([gx[:, None, :].expand(-1, s, -1), gy[:, :, None].expand(-1, -1, s)], -1)
        grid = (grid + 0.5) / torch.tensor([w, h], device=maps.device) * 2 - 1  # cell centres -> [-1,1]
        crops = F.grid_sample(maps, grid, align_corners=False)
        small = self.branch(crops)
        xs = (torch.arange(w, device=maps.device) + 0.5)[None, :] * stride
        ys = (torch.arange(h, device=maps.device) + 0.5)[None, :] * stride
        u = (xs - boxes[:, 0, None]) / (boxes[:, 2] - boxes[:, 0]).clamp(min=1)[:, None] * 2 - 1
        v = (ys - boxes[:, 1, None]) / (boxes[:, 3] - boxes[:, 1]).clamp(min=1)[:, None] * 2 - 1
        back = torch.stack([u[:, None, :].expand(-1, h, -1), v[:, :, None].expand(-1, -1, w)], -1)
        pasted = F.grid_sample(small, back, padding_mode="border", align_corners=False)
        outside = (back.abs() > 1).any(-1, keepdim=True).permute(0, 3, 1, 2)
        return pasted.masked_fill(outside, -20.0)

    # -- inference ------------------------------------------------------------------------------
    def infer(self, image_bgr_uint8, score_threshold):
        """One image (1,H,W,3) uint8 BGR at cfg.image_size -> boxes (N,4) in input pixels (grown by
        cfg.mask_box_expand: each mask lies inside its box),
        scores (N), mask probabilities (N,H/s,W/s) over the whole image, s = cfg.mask_stride.

        The GPU layout (cfg.detector_size, cfg.mask_flip; enlarge_mask_path) detects on the input
        shrunk to detector_size and averages each mask with its mirror image's; boxes and masks are
        still in input pixels / on the input's grid.

        This is exactly what the ONNX graph computes. The mask branch runs only for the boxes that
        survive NMS and the score threshold (at most max_detections): that, plus the narrower branch,
        keeps its cost to a few tens of MMAC per instance instead of ~1 GMAC per candidate."""
        cfg = self.cfg
        if self.input_folded:
            x = image_bgr_uint8.permute(0, 3, 1, 2).to(self.mean.dtype) - self.mean
        else:
            x = self.normalise(image_bgr_uint8.flip(-1))
        det_size = cfg.detector_size or cfg.image_size
        mask_x = torch.cat([x, x.flip(-1)]) if cfg.mask_flip else x
        fine, levels = self.trunk(mask_x)
        if det_size == cfg.image_size:  # one pass: the detector reads the (unmirrored) image's levels
            det_levels = [lv[:1] for lv in levels] if cfg.mask_flip else levels
        else:  # the detector's own pass, on the input shrunk to the size it was trained at
            det_levels = self.trunk(shrink(x.float(), det_size).to(x.dtype))[1]  # float16: no fp16 Resize on CPUs
        logits, deltas = self.head(det_levels)
        seg_map, fine = self.mask_features(fine, levels)
        # scores, boxes and NMS in float32 whatever the network's precision;
        # 1 - softmax(l)[0] == sigmoid(l1 - l0), without the softmax's exp/sum over both columns
        logits = logits[0].float()
        fg = torch.sigmoid(logits[:, 1] - logits[:, 0])
        size = float(det_size)  # the detector's pixels, until the boxes are scaled to the input
        if 0 < cfg.pre_nms_topk < fg.shape[0]:
            scores, idx = fg.topk(cfg.pre_nms_topk, sorted=False)  # NMS ranks them itself
            boxes = B.decode(deltas[0].float().index_select(0, idx), self.anchors.index_select(0, idx))
        else:  # every anchor is a candidate: no top-k, no gathers
            scores, boxes = fg, B.decode(deltas[0].float(), self.anchors)
        boxes = boxes.clamp(min=0.0).clamp(max=size)
        keep = nms(boxes, scores, cfg.nms_iou, cfg.max_detections, score_threshold)
        boxes, scores = boxes.index_select(0, keep), scores.index_select(0, keep)
        tight = boxes * (cfg.image_size / det_size) if det_size != cfg.image_size else boxes  # input pixels
        if cfg.mask_box_expand:
            boxes = B.expand_boxes(boxes, cfg.mask_box_expand, size)
        if det_size != cfg.image_size:
            boxes = boxes * (cfg.image_size / det_size)
        n = boxes.shape[0]
        mask_boxes = boxes
        if self.pad_empty:  # one dummy box, so no per-instance op ever sees an empty batch
            # (a tiny one: the refiner's window is as large as the largest box)
            mask_boxes = torch.cat([boxes, boxes.new_tensor([[0.0, 0.0, 1.0, 1.0]])])
        def maps_of(i):  # image i of the mask path's batch (1: the mirror)
            return seg_map[i:i + 1], tuple(f[i:i + 1] for f in fine)
        # only confident neighbours are told of (as in training, where they are ground truth), so
        # a graph run at a low threshold does not carve masks along weak part-boxes
        told = scores >= cfg.neighbour_cue_score
        logits = self._one_image_mask_logits(*maps_of(0), mask_boxes, self._neighbour_cells(tight, told, seg_map))
        if cfg.mask_flip:  # the mirrored image's masks of the mirrored boxes, mirrored back
            width = float(cfg.image_size)
            def mirror(b):
                return torch.stack([width - b[:, 2], b[:, 1], width - b[:, 0], b[:, 3]], 1)
            mirrored = self._one_image_mask_logits(*maps_of(1), mirror(mask_boxes),
                                                   self._neighbour_cells(mirror(tight), told, seg_map))
            logits = (logits + mirrored.flip(-1)) * 0.5
        masks = torch.sigmoid(logits + cfg.mask_bias if cfg.mask_bias else logits)[:, 0]
        return boxes, scores, masks[:n]

    def _neighbour_cells(self, tight, told, seg_map):
        """The neighbour cue's cells (neighbour_cells) of the detected boxes `tight` (input pixels),
        `told` those it tells of, one row per mask window (padding included); None without the cue."""
        if self.neighbour_cue is None:
            return None
        return neighbour_cells(tight, *seg_map.shape[-2:], self.cfg.strides[0], int(self.pad_empty), told)

    def _one_image_mask_logits(self, seg_map, fine, boxes, others=None):
        """Mask logits (K,1,H/s,W/s) in float32 of `boxes` (mask windows) on one image's maps (batch
        of 1); `others`: the neighbour cue's cells (_neighbour_cells), or None."""
        cfg = self.cfg
        batch_index = torch.zeros(boxes.shape[0], dtype=torch.long, device=boxes.device)
        windows = None
        if self.refiner is not None and self.refine_in_windows:
            windows = [crop_windows(boxes, stride, margin, cfg.image_size // stride)
                       for stride, margin in self.refine_windows()]
        return self.mask_logits(seg_map, batch_index, boxes, fine, windows=windows, others=others).float()

    def refine_windows(self):
        """(stride, margin in cells) of each refiner's windows. The last refiner's margin: +1 cell, as
        the app samples the mask bilinearly, so a box's edge reads one cell beyond it. Before a
        stride-2 refiner, the stride-4 one must be exact where the stride-2 one reads it: its
        window's reach plus one stride-4 cell for the x2 upsampling."""
        r = MaskRefiner.RECEPTIVE_RADIUS
        if self.refiner2 is None:
            return [(self.cfg.mask_stride, r + 1)]
        reach = (r + 2) // 2 + 1  # stride-4 cells beyond the box that the stride-2 refiner reads
        return [(self.cfg.mask_stride * 2, r + reach), (self.cfg.mask_stride, r + 1)]

    def train(self, mode=True):
        super().train(mode)
        # BatchNorm stays frozen (running statistics of ImageNet), as in the paper
        for m in self.backbone.modules():
            if isinstance(m, nn.BatchNorm2d):
                m.eval()
        return self
