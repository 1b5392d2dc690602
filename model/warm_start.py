"""Start a changed network from a trained one (`model.train --init`) instead of from scratch.

Three changes keep most of what the trained model knows:
- a dense 3x3 conv that became depthwise-separable: per input channel the best rank-1 product
  W[:, i] ~ P[:, i] x D[i] (SVD of the O x 9 matrix), D the depthwise kernel, P the 1x1 mixing;
- a narrower segmentation map / first branch block: the channels that carry the most signal are
  kept (pruning);
- a trimmed backbone (stride 32 from an earlier stage): the new top lateral conv is fitted by
  least squares to give what the old lateral gave on real images.
Everything else is copied where names and shapes match; what cannot be matched starts fresh.
"""
import torch

from .checkpoint import load_checkpoint


def rank1_separable(weight):
    """(O, I, kh, kw) dense kernel -> depthwise (I, 1, kh, kw), pointwise (O, I, 1, 1), and the
    share of the kernel's energy (squared Frobenius norm) the rank-1 factors keep."""
    o, i, kh, kw = weight.shape
    mats = weight.permute(1, 0, 2, 3).reshape(i, o, kh * kw)  # per input channel: O x 9
    u, s, vh = torch.linalg.svd(mats, full_matrices=False)
    root = s[:, :1].sqrt()
    depthwise = (vh[:, 0, :] * root).reshape(i, 1, kh, kw)
    pointwise = (u[:, :, 0] * root).t().reshape(o, i, 1, 1)
    kept = float((s[:, 0] ** 2).sum() / (s ** 2).sum().clamp(min=1e-12))
    return depthwise, pointwise, kept


def separable_from_dense(state, own):
    """Tensors for `own`'s separable convs (keys `X.0.weight`, `X.1.weight`, `X.1.bias`) made from
    dense convs in `state` (`X.weight`, `X.bias`) where `own` has no such dense conv.
    Returns (tensors, {conv name: energy kept})."""
    out, kept = {}, {}
    for key, w in state.items():
        if not key.endswith(".weight") or w.dim() != 4 or w.shape[-1] == 1:
            continue
        name = key[:-len(".weight")]
        dw, pw = f"{name}.0.weight", f"{name}.1.weight"
        if key in own or dw not in own or pw not in own:
            continue
        d, p, share = rank1_separable(w.float())
        if own[dw].shape != d.shape or own[pw].shape != p.shape:
            continue
        out[dw], out[pw] = d.to(own[dw].dtype), p.to(own[pw].dtype)
        if f"{name}.bias" in state and f"{name}.1.bias" in own:
            out[f"{name}.1.bias"] = state[f"{name}.bias"]
        kept[name] = share
    return out, kept


def _dense(state, name):
    """A 3x3 conv of `state` as dense (weight, bias), whether stored dense or separable."""
    if f"{name}.weight" in state:
        return state[f"{name}.weight"], state[f"{name}.bias"]
    return state[f"{name}.1.weight"] * state[f"{name}.0.weight"].transpose(0, 1), state[f"{name}.1.bias"]


def prune_segmentation_channels(old_net, images, keep):
    """The old network's segmentation map and first residual block cut to `keep` channels (largest
    mean activation times outgoing weight), in the old key layout with narrower shapes (branch convs
    dense; `separable_from_dense` factors them afterwards when the new network wants that)."""
    state = old_net.state_dict()
    with torch.no_grad():
        seg = old_net.features(images)[2]
    w_dil, b_dil = _dense(state, "branch.dilated")
    score = seg.mean((0, 2, 3)) * w_dil.flatten(2).norm(dim=(0, 2))
    idx = score.argsort(descending=True)[:keep].sort().values
    sf = "seg_feature.1" if "seg_feature.1.weight" in state else "seg_feature"
    out = {f"{sf}.weight": state[f"{sf}.weight"][idx], f"{sf}.bias": state[f"{sf}.bias"][idx]}
    for conv in ("branch.res1.conv1", "branch.res1.conv2"):
        w, b = _dense(state, conv)
        out[f"{conv}.weight"], out[f"{conv}.bias"] = w[idx][:, idx], b[idx]
    out["branch.dilated.weight"], out["branch.dilated.bias"] = w_dil[:, idx], b_dil
    return out


def least_squares_1x1(source, target, ridge=1e-3):
    """The 1x1 conv (weight (C, c, 1, 1), bias (C,)) that best maps source (N, c, H, W) to
    target (N, C, H, W) in the least-squares sense (a little ridge for stability)."""
    x = source.permute(0, 2, 3, 1).reshape(-1, source.shape[1]).double()
    y = target.permute(0, 2, 3, 1).reshape(-1, target.shape[1]).double()
    x1 = torch.cat([x, torch.ones(len(x), 1, dtype=x.dtype, device=x.device)], 1)
    a = x1.T @ x1 + ridge * torch.eye(x1.shape[1], dtype=x.dtype, device=x.device)
    sol = torch.linalg.solve(a, x1.T @ y)  # (c + 1, C)
    weight = sol[:-1].T.reshape(y.shape[1], x.shape[1], 1, 1)
    return weight.to(source.dtype).contiguous(), sol[-1].to(source.dtype).contiguous()


def fit_top_lateral(old_net, new_net, images):
    """The new top lateral conv fitted to give, from the new backbone's top feature, what the old
    top lateral gave from the old one: (weight, bias)."""
    with torch.no_grad():
        target = old_net.fpn.lateral[-1](old_net.backbone(images)[-1])
        source = new_net.backbone(images)[-1]
    return least_squares_1x1(source, target)


def warm_start(init_path, model, images):
    """Load what `init_path` (a trained checkpoint) can give into `model`; `images` (N,3,H,W),
    normalised real training images, drive the pruning and the least-squares fit. Returns the notes
    it printed."""
    old = load_checkpoint(init_path)[0].to(images.device)
    state, own = old.state_dict(), model.state_dict()
    notes = []
    if old.cfg.seg_channels > model.cfg.seg_channels == model.cfg.branch_channels[0]:
        state.update(prune_segmentation_channels(old, images, model.cfg.seg_channels))
        notes.append(f"segmentation map pruned {old.cfg.seg_channels} -> {model.cfg.seg_channels} channels")
    fitting = {k: v for k, v in state.items() if k in own and own[k].shape == v.shape}
    factored, kept = separable_from_dense(state, own)
    fitting.update(factored)
    if kept:
        notes.append("separable convs from dense ones (rank-1 share of each kernel): "
                     + ", ".join(f"{k} {v:.2f}" for k, v in kept.items()))
    lateral = f"fpn.lateral.{len(model.fpn.lateral) - 1}"
    if own[f"{lateral}.weight"].shape != state[f"{lateral}.weight"].shape:
        model.load_state_dict(fitting, strict=False)  # the backbone, for the fit
        was = model.training
        model.eval()
        fitting[f"{lateral}.weight"], fitting[f"{lateral}.bias"] = fit_top_lateral(old, model, images)
        model.train(was)
        notes.append(f"{lateral} fitted by least squares to the old top feature")
    model.load_state_dict(fitting, strict=False)
    fresh = sorted({".".join(k.split(".")[:2]) for k in own if k not in fitting})
    notes.insert(0, f"initialised from {init_path}: {len(fitting)} of {len(own)} tensors"
                 + (f"; new: {fresh}" if fresh else ""))
    print("\n  ".join(notes))
    return notes
