"""Train S4Net on the compact data cache (see model/cache.py). Resumes from the last checkpoint.

    python -m model.cache --data ../shared/data --out data_cache
    python -m model.train --cache data_cache --out runs/s4net --iterations 4000

Checkpoints: <out>/last.pt every few minutes and at the end (model, optimiser, step, RNG states,
config), so a stopped run continues where it stopped with the same command.
"""
import argparse
import dataclasses
import json
import os
import signal
import time

import cv2
import numpy as np
import torch
from tqdm import tqdm

from . import augment
from . import boxes as B
from .cache import load_cache
from .config import SHIPPED_RECIPE, LossConfig, NetConfig, TrainConfig
from .crowds import crowd_scene, person_crop, street_scene
from .label_rules import MASK_ONLY, SALIENT, instance_roles, union_images, union_parts
from .losses import detection_loss, mask_loss, saliency_loss
from .s4net import S4Net, roi_masking_weights
from .warm_start import warm_start

# share of each source in a batch: DAVIS frames are many but near-duplicates within a sequence
SOURCE_SHARE = {"davis": 0.3, "coco128-seg": 0.08, "coco-extra": 0.17, "balloon": 0.07, "ccp-person": 0.1,
                "human-seg": 0.1, "unlabelled": 0.18, "scenery": 0.08}
# instances pasted onto other photos come from these (whole objects, not DAVIS unions or pseudo-labels)
PASTE_SOURCES = ("coco128-seg", "coco-extra", "ccp-person", "human-seg", "balloon")
# crowds are made of these: one person per region (human-seg's one region may hold two people);
# COCO's salient objects (model.train --crowd-source) are mostly people, often seated, cut or half hidden
CROWD_SOURCES = TrainConfig.crowd_sources
CROWD_CHOICES = ("ccp-person", "coco-extra", "coco128-seg")
CROWD_MIN_AREA = 0.03  # of the picture: smaller objects, scaled to a person's height, are mostly blur


def masks_to_boxes(masks):
    boxes = []
    for m in masks:
        ys, xs = np.nonzero(m)
        boxes.append([xs.min(), ys.min(), xs.max() + 1, ys.max() + 1])
    return np.array(boxes, np.float32).reshape(-1, 4)


class CachedDataset:
    def __init__(self, cache, shares=None, crowd_sources=CROWD_SOURCES):
        self.c = cache
        shares = {**SOURCE_SHARE, **(shares or {})}
        self.by_image = [[] for _ in range(len(cache["images"]))]
        for j, i in enumerate(cache["inst_image"]):
            self.by_image[i].append(j)
        sources = np.array([g.split("/")[0] for g in cache["groups"]])
        donor_ok = np.isin(sources[cache["inst_image"]], PASTE_SOURCES) if len(cache["inst_image"]) else []
        self.salient_ids = np.nonzero(cache["inst_salient"] & donor_ok)[0]
        person_ok = np.isin(sources[cache["inst_image"]], crowd_sources) if len(cache["inst_image"]) else []
        if len(person_ok):
            person_ok &= cache["inst_masks"].mean(axis=(1, 2)) >= CROWD_MIN_AREA
        self.person_ids = np.nonzero(cache["inst_salient"] & person_ok)[0]
        # which instances teach the detector a box (label_rules): a union of several regions does not
        union = union_images(cache["groups"], cache["union"])
        self.roles = instance_roles(cache["inst_salient"], union[cache["inst_image"]], cache["inst_masks"],
                                    cache["groups"][cache["inst_image"]])
        w = np.zeros(len(sources))
        for src in np.unique(sources):
            sel = sources == src
            w[sel] = shares.get(src, 0.1) / sel.sum()
        self.weights = w / w.sum()
        self.sources = {str(k): int(v) for k, v in zip(*np.unique(sources, return_counts=True))}

    def raw(self, i):
        ids = self.by_image[i]
        return self.c["images"][i], self.c["inst_masks"][ids], self.roles[ids], self.c["unsure"][i]

    def person(self, j):
        return person_crop(self.c["images"][self.c["inst_image"][j]], self.c["inst_masks"][j])

    def sample(self, rng, i, augmented=True, paste_prob=0.5, max_pasted=3, crowd_prob=0.0, crowd=(2, 7),
               street_share=0.0):
        """One training image and its targets. Augmented: a crowd of real people pasted side by
        side and over each other in depth order (crowd_prob; street_share of those crowds stand
        in groups at several depths and scales, crowds.street_scene), or else several real instances pasted
        at random places (touching and overlapping ones included, as in a webcam frame with two
        people); flip, zoom-crop, colour jitter."""
        image, masks, salient, unsure = self.raw(i)  # salient: the label_rules role of each
        if augmented:
            if rng.random() < crowd_prob and len(self.person_ids):
                picks = self.person_ids[rng.integers(len(self.person_ids), size=int(rng.integers(*crowd) + 1))]
                people = [p for p in (self.person(j) for j in picks) if p is not None]
                before = image
                # street_share 0 draws nothing, so the recipes before it replay exactly
                street = street_share > 0 and rng.random() < street_share
                image, masks, salient = (street_scene if street else crowd_scene)(rng, image, masks, salient, people)
                unsure = unsure & ~(image != before).any(2)  # pasted pixels are certain
            elif rng.random() < paste_prob and len(self.salient_ids):
                for _ in range(rng.integers(1, max_pasted + 1)):
                    j = self.salient_ids[rng.integers(len(self.salient_ids))]
                    donor = self.c["images"][self.c["inst_image"][j]]
                    image, masks, salient, unsure = augment.copy_paste(rng, image, masks, salient, donor,
                                                                       self.c["inst_masks"][j], unsure)
            both = np.concatenate([masks, unsure[None]])  # unsure pixels move with the picture
            if rng.random() < 0.5:
                image, both = augment.hflip(image, both)
            if rng.random() < 0.5:
                image, both = augment.zoom_crop(rng, image, both)
            masks, unsure = both[:-1], both[-1]
            image = augment.colour_jitter(rng, image)
        keep = masks.reshape(len(masks), -1).any(1) if len(masks) else np.zeros(0, bool)
        masks, role = masks[keep], np.asarray(salient)[keep]
        boxes = masks_to_boxes(masks)
        positive, mask_only = role == SALIENT, role == MASK_ONLY
        return np.ascontiguousarray(image), {
            "boxes": torch.from_numpy(boxes[positive]),
            "ignore": torch.from_numpy(boxes[~positive]),  # mask-only regions too: no group box
            "masks": torch.from_numpy(np.ascontiguousarray(masks[positive])),
            "mask_only_boxes": torch.from_numpy(boxes[mask_only]),
            "mask_only_masks": torch.from_numpy(np.ascontiguousarray(masks[mask_only])),
            "unsure": torch.from_numpy(np.ascontiguousarray(unsure)),
        }


def draw_batch(data, rng, cfg: TrainConfig):
    """One training batch: cfg.batch_size (image, targets) pairs, images drawn by source share."""
    idx = rng.choice(len(data.weights), cfg.batch_size, p=data.weights)
    return [data.sample(rng, int(i), augmented=cfg.augment, paste_prob=cfg.paste_prob,
                        crowd_prob=cfg.crowd_prob, street_share=cfg.street_share) for i in idx]


class BatchStream(torch.utils.data.IterableDataset):
    """Batches drawn in worker processes (TrainConfig.workers), each worker with its own random
    stream seeded from the run's seed, the step the run starts at and the worker's number. Targets
    travel as numpy arrays: thousands of small tensors in shared memory can run out of file handles."""

    def __init__(self, data, cfg, start_step):
        self.data, self.cfg, self.start_step = data, cfg, start_step

    def __iter__(self):
        worker = torch.utils.data.get_worker_info()
        rng = np.random.default_rng([self.cfg.seed, self.start_step, worker.id if worker else 0])
        while True:
            yield [(image, {k: v.numpy() for k, v in t.items()}) for image, t in draw_batch(self.data, rng, self.cfg)]


def as_is(batch):
    return batch


def batches(data, rng, cfg, start_step):
    """Endless training batches: from cfg.workers processes, or drawn here with the run's rng."""
    if not cfg.workers:
        while True:
            yield draw_batch(data, rng, cfg)
    loader = torch.utils.data.DataLoader(BatchStream(data, cfg, start_step), batch_size=None,
                                         num_workers=cfg.workers, collate_fn=as_is, prefetch_factor=4)
    for batch in loader:
        yield [(image, {k: torch.from_numpy(v) for k, v in t.items()}) for image, t in batch]


def network_input(model, images_bgr):
    """A list of (H, W, 3) uint8 BGR images -> the normalised NCHW batch on the model's device."""
    rgb = torch.from_numpy(np.stack(images_bgr)[..., ::-1].copy()).to(model.anchors.device)
    return model.normalise(rgb)


def mask_branch_boxes(gt_boxes, expand, jitter, rng, size):
    """The boxes the mask branch trains on: ground truth grown as at inference
    (NetConfig.mask_box_expand), each side then moved by a uniform share of the box size in
    [-jitter, jitter], so the branch sees boxes as loose or as short as a detector's."""
    if not expand and not jitter:
        return gt_boxes
    b = B.expand_boxes(gt_boxes, expand, size)
    if jitter:
        wh = (gt_boxes[:, 2:] - gt_boxes[:, :2]).repeat(1, 2)
        noise = torch.from_numpy(rng.uniform(-jitter, jitter, b.shape).astype(np.float32)).to(b.device)
        b = (b + noise * wh * b.new_tensor([-1, -1, 1, 1])).clamp(min=0.0).clamp(max=size)
        # never less than 2 px a side, so every box keeps a cell of loss
        centre = (b[:, :2] + b[:, 2:]) / 2
        half = ((b[:, 2:] - b[:, :2]) / 2).clamp(min=1.0)
        b = torch.cat([centre - half, centre + half], 1)
    return b


def neighbour_maps(masks, counted):
    """(K, H, W) bool masks -> (K, H, W): for each object, where the image's other objects lie,
    of the first `counted` (those with a detector box, when a region's parts follow them)."""
    return masks[:counted].any(0)[None] & ~masks


NEIGHBOUR_CUE_LR_MULT = 30.0


def neighbour_cue_cells(boxes, own, drop, jitter, rng, map_h, map_w, stride):
    """What the mask branch is told of one training mask's neighbours (NetConfig.neighbour_cue):
    the cells of the image's detector boxes `boxes` (n,4) other than its own (index `own`, or -1
    for a mask with no detector box), each moved like a detector's box (`jitter`) and each left out
    with probability `drop`, as the detector at inference misses neighbours too -> (1,H,W)."""
    keep = [k for k in range(len(boxes)) if k != own and rng.random() >= drop]
    if not keep:
        return boxes.new_zeros((1, map_h, map_w))
    b = mask_branch_boxes(boxes[keep], 0.0, jitter, rng, float(map_w * stride))
    return roi_masking_weights(b, map_h, map_w, stride, 0.0, ternary=False).amax(0)


def training_step(model, images_bgr, targets, loss_cfg, rng):
    """Total loss and its parts for one batch: GT boxes (at most max_masks_per_image each) go to
    the mask branch, as in the paper, or loose ones made from them (mask_branch_boxes)."""
    device = model.anchors.device
    x = network_input(model, images_bgr)
    targets = [{k: v.to(device) for k, v in t.items()} for t in targets]
    logits, deltas, seg_map, fine = model.features(x)
    cls, box = detection_loss(logits, deltas, model.anchors, targets, loss_cfg)
    bidx, mboxes, mmasks, munsure, mothers, mcue = [], [], [], [], [], []
    cue_grid = seg_map.shape[-2:]
    for i, t in enumerate(targets):
        boxes, masks = t["boxes"], t["masks"]
        boxed = len(boxes)  # the first `boxed` objects train a detector box; the rest are masks only
        if len(t.get("mask_only_boxes", ())) and loss_cfg.union_masks:  # masks but no detector box
            boxes, masks = torch.cat([boxes, t["mask_only_boxes"]]), torch.cat([masks, t["mask_only_masks"]])
        elif len(t.get("mask_only_masks", ())) and loss_cfg.union_parts:
            parts = [p for m in t["mask_only_masks"].cpu().numpy() for p in union_parts(m)]
            if parts:
                boxes = torch.cat([boxes, torch.from_numpy(masks_to_boxes(parts)).to(device)])
                masks = torch.cat([masks, torch.from_numpy(np.stack(parts)).to(device, masks.dtype)])
        n = len(boxes)
        pick = rng.permutation(n)[:loss_cfg.max_masks_per_image] if n else []
        others = neighbour_maps(masks.bool(), boxed if loss_cfg.neighbours == "boxed" else n)
        for j in pick:
            bidx.append(i)
            mboxes.append(boxes[j])
            mmasks.append(masks[j])
            mothers.append(others[j])
            munsure.append(t["unsure"] if "unsure" in t else torch.zeros_like(t["masks"][j]))
            if model.neighbour_cue is not None:
                mcue.append(neighbour_cue_cells(t["boxes"], j if j < boxed else -1, loss_cfg.neighbour_cue_drop,
                                                loss_cfg.mask_box_jitter, rng, *cue_grid, model.cfg.strides[0]))
    if bidx:
        bidx_t = torch.tensor(bidx, device=device)
        mboxes_t = mask_branch_boxes(torch.stack(mboxes), model.cfg.mask_box_expand, loss_cfg.mask_box_jitter,
                                     rng, float(model.cfg.image_size))
        gt, unsure, others = torch.stack(mmasks), torch.stack(munsure), torch.stack(mothers)
        cue = torch.stack(mcue) if mcue else None
        coarse, final = model.mask_logits(seg_map, bidx_t, mboxes_t, fine, with_coarse=True, others=cue)
        extra = dict(dice_weight=loss_cfg.mask_dice_weight, neighbour_weight=loss_cfg.neighbour_weight,
                     neighbours=others if loss_cfg.neighbour_weight != 1.0 else None)
        msk = mask_loss(coarse, gt, mboxes_t, model.cfg.strides[0], unsure, **extra)
        if model.refiner is not None:  # the stride-8 logits stay supervised; the refiners add detail
            msk = 0.5 * msk + mask_loss(final, gt, mboxes_t, model.cfg.mask_stride, unsure, **extra)
    else:
        msk = seg_map.sum() * 0
    total, parts = cls + box + msk, {"cls": cls.item(), "box": box.item(), "mask": msk.item()}
    if model.saliency is not None and loss_cfg.saliency_weight > 0:
        sal = saliency_loss(model.saliency(seg_map, fine[0] if fine else None), targets)
        total = total + loss_cfg.saliency_weight * sal
        parts["sal"] = sal.item()
    return total, parts


def freeze_detector(model):
    """Backbone, FPN and detection head get no gradient: only the mask path learns."""
    for part in (model.backbone, model.fpn, model.head):
        for p in part.parameters():
            p.requires_grad_(False)


def freeze_early_backbone(model, stages):
    """Stem and the first `stages` backbone stages get no gradient (cheaper, small data)."""
    bb = model.backbone
    if not hasattr(bb, "stage_ends") or stages <= 0:
        return
    last_block = bb.stage_ends[stages - 1][0]
    for name, p in bb.named_parameters():
        if name.startswith(("_conv_stem", "_bn0")) or (
                name.startswith("_blocks.") and int(name.split(".")[1]) <= last_block):
            p.requires_grad_(False)


def lr_at(step, cfg: TrainConfig):
    factor = 0.1 ** sum(step >= int(f * cfg.iterations) for f in cfg.lr_steps)
    return cfg.lr * factor * min(1.0, (step + 1) / cfg.warmup)


def save_checkpoint(path, model, opt, step, rng, cfg, history, data_sources=None):
    tmp = path + ".tmp"
    torch.save({"model": model.state_dict(), "optimizer": opt.state_dict(), "step": step,
                "data_sources": data_sources or {},
                "rng": rng.bit_generator.state, "torch_rng": torch.get_rng_state(),
                "net_config": model.cfg.to_dict(), "train_config": dataclasses.asdict(cfg),
                "history": history}, tmp)
    os.replace(tmp, path)


def write_config(cfg):
    with open(os.path.join(cfg.out, "config.json"), "w") as f:
        json.dump(dataclasses.asdict(cfg), f, indent=1)


def pick_device(name):
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name == "cuda" and not torch.cuda.is_available():
        raise SystemExit("error: --device cuda, but this torch build sees no CUDA GPU")
    return torch.device(name)


class RunFitter:
    """--fit-minutes: times steps 10-40 (after the first few, which warm the GPU up), then sets
    cfg.iterations so that the whole run, counted from `t_start`, takes about `minutes`."""
    STEPS = (10, 40)

    def __init__(self, minutes, t_start):
        self.minutes, self.t_start, self.t_first = minutes, t_start, None

    def after_step(self, step, cfg):
        """True once, at the step where cfg.iterations was just set."""
        if step == self.STEPS[0]:
            self.t_first = time.time()
        if step != self.STEPS[1] or self.t_first is None:
            return False
        per_step = (time.time() - self.t_first) / (self.STEPS[1] - self.STEPS[0])
        cfg.iterations = step + max(0, int((self.minutes * 60 - (time.time() - self.t_start)) / per_step))
        tqdm.write(f"{per_step * 1000:.0f} ms a step: {cfg.iterations} iterations fill {self.minutes:g} minutes")
        return True


def train(cfg: TrainConfig, max_minutes=None, device="auto", init=None, fit_minutes=None):
    device = pick_device(device)
    torch.manual_seed(cfg.seed)
    torch.set_num_threads(cfg.threads)
    rng = np.random.default_rng(cfg.seed)
    if cfg.workers:
        # before OpenCV starts its thread pool: a pool copied into a forked worker deadlocks there
        cv2.setNumThreads(1)
    data = CachedDataset(load_cache(os.path.join(cfg.cache, "train.npz")), cfg.source_share, cfg.crowd_sources)
    if int(data.c["size"]) != cfg.net.image_size:
        raise SystemExit(f"error: cache is {int(data.c['size'])}px, network expects {cfg.net.image_size}px")
    last = os.path.join(cfg.out, "last.pt")
    # the ImageNet backbone is only read for a run from scratch (a GPU machine may not have it)
    model = S4Net(cfg.net, pretrained=not (init or os.path.exists(last))).to(device).train()
    freeze_early_backbone(model, cfg.freeze_backbone_stages)
    if cfg.mask_path_only:
        freeze_detector(model)
    params = [p for p in model.parameters() if p.requires_grad]
    cue = [p for p in params if p is model.neighbour_cue]
    groups = [{"params": [p for p in params if p is not model.neighbour_cue]}]
    if cue:
        # one vector whose gradient is a sum over a few cells: at the network's lr it would move
        # ~30x too slowly to matter within a fine-tune (measured: grad norm 0.01, the map's 7)
        groups.append({"params": cue, "lr_mult": NEIGHBOUR_CUE_LR_MULT, "weight_decay": 0.0})
    opt = torch.optim.SGD(groups, lr=cfg.lr, momentum=cfg.momentum, weight_decay=cfg.weight_decay)
    os.makedirs(cfg.out, exist_ok=True)
    step, history = 0, []
    if os.path.exists(last):
        ckpt = torch.load(last, map_location=device, weights_only=False)
        model.load_state_dict(ckpt["model"])
        opt.load_state_dict(ckpt["optimizer"])
        step, history = ckpt["step"], ckpt.get("history", [])
        rng.bit_generator.state = ckpt["rng"]
        torch.set_rng_state(ckpt["torch_rng"].cpu())
        print(f"resumed from {last} at step {step}")
        if fit_minutes:  # the length the run was fitted to when it started
            cfg.iterations = ckpt["train_config"]["iterations"]
    elif init:
        picks = rng.choice(len(data.weights), 48, p=data.weights)
        warm_start(init, model, network_input(model, [data.sample(rng, int(i), augmented=False)[0] for i in picks]))
    print(f"training on {device}" + (f" ({cfg.workers} processes drawing batches)" if cfg.workers else ""))
    write_config(cfg)

    stop = {"now": False}
    signal.signal(signal.SIGTERM, lambda *_: stop.update(now=True))
    t_start, t_ckpt = time.time(), time.time()
    fitter = RunFitter(fit_minutes, t_start) if fit_minutes and step == 0 else None
    stream = batches(data, rng, cfg, step)
    bar = tqdm(total=cfg.iterations, initial=step, desc="train", unit="it", dynamic_ncols=True)
    running = None
    try:
        while step < cfg.iterations and not stop["now"]:
            for g in opt.param_groups:
                g["lr"] = lr_at(step, cfg) * g.get("lr_mult", 1.0)
            batch = next(stream)
            loss, parts = training_step(model, [b[0] for b in batch], [b[1] for b in batch], cfg.loss, rng)
            opt.zero_grad()
            loss.backward()
            torch.nn.utils.clip_grad_norm_(params, 10.0)
            opt.step()
            step += 1
            parts["loss"] = loss.item()
            running = parts if running is None else {k: 0.95 * running[k] + 0.05 * v for k, v in parts.items()}
            bar.set_postfix({k: f"{v:.3f}" for k, v in running.items()} | {"lr": f"{lr_at(step - 1, cfg):.4f}"}, refresh=False)
            bar.update(1)
            if step % 50 == 0:
                history.append({"step": step, **running})
            if fitter and fitter.after_step(step, cfg):
                bar.total = cfg.iterations
                write_config(cfg)
            if time.time() - t_ckpt > cfg.checkpoint_minutes * 60:
                save_checkpoint(last, model, opt, step, rng, cfg, history, data.sources)
                t_ckpt = time.time()
            if max_minutes and time.time() - t_start > max_minutes * 60:
                break
    except KeyboardInterrupt:
        print("\ninterrupted: saving checkpoint")
    finally:
        bar.close()
        save_checkpoint(last, model, opt, step, rng, cfg, history, data.sources)
        print(f"checkpoint {last} at step {step}")
    return model, step


def main(argv=None):
    d = TrainConfig()
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--cache", default=d.cache, help="folder made by model.cache")
    p.add_argument("--out", default=d.out)
    p.add_argument("--iterations", type=int, default=d.iterations)
    p.add_argument("--batch-size", type=int, default=d.batch_size)
    p.add_argument("--lr", type=float, default=d.lr)
    p.add_argument("--backbone", default=d.net.backbone, choices=["lite0", "lite1", "lite2", "resnet50"])
    p.add_argument("--image-size", type=int, default=d.net.image_size,
                   help="training input size (the cache's: model.cache --size); 512 with --mask-path-only "
                        "trains the GPU graph's mask path")
    p.add_argument("--masking", default=d.net.masking, choices=["ternary", "binary", "roialign"])
    p.add_argument("--mask-stride", type=int, default=SHIPPED_RECIPE["mask_stride"], choices=[2, 4, 8],
                   help="4: finer masks through the stride-4 refiner (default); 8: the paper's stride-8 masks; "
                        "2: a second refiner on the backbone's stride-2 features (with --init, it starts as a no-op)")
    p.add_argument("--dense", action="store_true",
                   help="full 3x3 convs everywhere (the paper's) instead of depthwise-separable ones")
    p.add_argument("--dense-mask", action="store_true",
                   help="full 3x3 convs in the per-instance mask path only (the second model's layout)")
    p.add_argument("--seg-channels", type=int, default=SHIPPED_RECIPE["seg_channels"],
                   help="channels of the RoIMasking map and the branch's first block (the second model: 64)")
    p.add_argument("--full-backbone", action="store_true",
                   help="stride 32 from EfficientNet-Lite's last stage (the second model) instead of stage 6")
    p.add_argument("--init", help="start from this checkpoint's weights (a trained model; new parts start fresh)")
    p.add_argument("--share", action="append", default=[], metavar="SOURCE=W",
                   help=f"a source's share of each batch (default {SOURCE_SHARE}); repeatable")
    p.add_argument("--threads", type=int, default=d.threads)
    p.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda"])
    p.add_argument("--no-augment", action="store_true", help="no augmentation at all (ablation)")
    p.add_argument("--paste-prob", type=float, default=d.paste_prob,
                   help="share of training images that get pasted instances (0 turns copy-paste off)")
    p.add_argument("--crowd-prob", type=float, default=d.crowd_prob,
                   help="share of training images that get a crowd of 2-7 real people pasted side by side "
                        "and over each other (0: none)")
    p.add_argument("--crowd-source", action="append", choices=CROWD_CHOICES, default=[],
                   help="what the crowds are made of (repeat for several; default ccp-person: standing people, "
                        "one a photo); COCO's salient objects of 3%% of the picture or more are mostly people")
    p.add_argument("--street-share", type=float, default=d.street_share,
                   help="share of those crowds made as street scenes: groups at several depths and scales")
    p.add_argument("--saliency-weight", type=float, default=d.loss.saliency_weight,
                   help="weight of a dense saliency loss on the mask path's feature maps (training-only "
                        "heads, not exported); 0: off")
    p.add_argument("--mask-box-expand", type=float, default=SHIPPED_RECIPE["mask_box_expand"],
                   help="grow each detected box by this share of its size per side before the mask "
                        "branch (stored in the model; inference does the same)")
    p.add_argument("--mask-box-jitter", type=float, default=SHIPPED_RECIPE["mask_box_jitter"],
                   help="move each side of the mask branch's training boxes by up to this share of "
                        "the box size, like a detector's error")
    p.add_argument("--mask-dice-weight", type=float, default=d.loss.mask_dice_weight,
                   help="add this much of a soft Dice loss to the mask cross-entropy (0: off)")
    p.add_argument("--mask-path-only", action="store_true",
                   help="train only the mask path (with --init: the detections stay as they were)")
    p.add_argument("--no-union-masks", action="store_true",
                   help="regions that may hold several objects train no mask either (label_rules.MASK_ONLY)")
    p.add_argument("--union-parts", action="store_true",
                   help="with --no-union-masks: a region in separate parts trains one mask per part")
    p.add_argument("--neighbour-weight", type=float, default=d.loss.neighbour_weight,
                   help="mask-loss weight of the cells where another object of the image lies (1: none extra)")
    p.add_argument("--neighbours", choices=["all", "boxed"], default=d.loss.neighbours,
                   help="with --neighbour-weight: every other object of the image, or only those the "
                        "detector draws a box for (not the parts of one DAVIS region)")
    p.add_argument("--positives", choices=["anchor", "object"], default=d.loss.positives,
                   help="the detector's positives averaged over anchors, or over objects (each object "
                        "weighs one, however many anchors it has: small people in groups count as much)")
    p.add_argument("--ambiguous-iou", type=float, default=d.loss.ambiguous_iou,
                   help="ignore an anchor whose IoU with two objects is at least this (unless it is one's best): "
                        "it would learn to fire between two overlapping people (0: off)")
    p.add_argument("--repulsion-weight", type=float, default=d.loss.repulsion_weight,
                   help="weight of RepGT: a positive's box is pushed off the other object its anchor "
                        "overlaps most (crowds); 0: off")
    p.add_argument("--neighbour-cue", action="store_true",
                   help="tell the mask branch where the other instances' boxes lie (a learned vector in "
                        "their cells; with --init it starts as a no-op)")
    p.add_argument("--neighbour-cue-drop", type=float, default=d.loss.neighbour_cue_drop,
                   help="with --neighbour-cue: the share of each training mask's neighbours left out, "
                        "as the detector misses some")
    p.add_argument("--seed", type=int, default=d.seed)
    p.add_argument("--checkpoint-minutes", type=float, default=d.checkpoint_minutes)
    p.add_argument("--max-minutes", type=float, default=None, help="stop (with a checkpoint) after this long")
    p.add_argument("--fit-minutes", type=float, default=None,
                   help="set --iterations so that the run, its learning-rate steps included, takes about this "
                        "long here (timed on its first steps)")
    p.add_argument("--workers", type=int, default=d.workers,
                   help="processes drawing and augmenting batches (0: in the training process, replayable)")
    a = p.parse_args(argv)
    try:
        shares = {k: float(v) for k, v in (x.split("=", 1) for x in a.share)}
    except ValueError:
        p.error("--share takes SOURCE=WEIGHT, e.g. --share davis=0.45")
    if not all(0.0 <= v <= 1.0 for v in (a.paste_prob, a.crowd_prob, a.street_share)):
        p.error("--paste-prob, --crowd-prob and --street-share must be between 0 and 1")
    if a.saliency_weight < 0:
        p.error("--saliency-weight must be >= 0")
    if not 0.0 <= a.mask_box_expand <= 0.5 or not 0.0 <= a.mask_box_jitter <= 0.5:
        p.error("--mask-box-expand and --mask-box-jitter must be between 0 and 0.5")
    if a.mask_dice_weight < 0:
        p.error("--mask-dice-weight must be >= 0")
    if a.union_parts and not a.no_union_masks:
        p.error("--union-parts needs --no-union-masks: with union masks trained, there are no parts to split")
    if a.neighbour_weight < 1:
        p.error("--neighbour-weight must be >= 1")
    if a.repulsion_weight < 0:
        p.error("--repulsion-weight must be at least 0 (off)")
    if not 0.0 <= a.ambiguous_iou < 1.0:
        p.error("--ambiguous-iou must be at least 0 (off) and under 1")
    if not 0.0 <= a.neighbour_cue_drop < 1.0:
        p.error("--neighbour-cue-drop must be at least 0 and under 1")
    if a.workers < 0 or (a.fit_minutes is not None and a.fit_minutes <= 0):
        p.error("--workers must be >= 0 and --fit-minutes > 0")
    if a.mask_path_only and not a.init:
        p.error("--mask-path-only needs --init: a detector to keep")
    cfg = TrainConfig(loss=LossConfig(saliency_weight=a.saliency_weight, mask_box_jitter=a.mask_box_jitter,
                                      mask_dice_weight=a.mask_dice_weight, union_masks=not a.no_union_masks,
                                      union_parts=a.union_parts, neighbour_weight=a.neighbour_weight,
                                      neighbours=a.neighbours, positives=a.positives,
                                      neighbour_cue_drop=a.neighbour_cue_drop, ambiguous_iou=a.ambiguous_iou,
                                      repulsion_weight=a.repulsion_weight),
                      mask_path_only=a.mask_path_only, source_share=shares, cache=a.cache, out=a.out, iterations=a.iterations, batch_size=a.batch_size, lr=a.lr,
                      threads=a.threads, workers=a.workers, seed=a.seed, checkpoint_minutes=a.checkpoint_minutes,
                      augment=not a.no_augment, paste_prob=a.paste_prob, crowd_prob=a.crowd_prob, street_share=a.street_share,
                      crowd_sources=tuple(a.crowd_source) or d.crowd_sources,
                      net=NetConfig(backbone=a.backbone, image_size=a.image_size, masking=a.masking, mask_stride=a.mask_stride,
                                    separable=not a.dense, mask_separable=not (a.dense or a.dense_mask),
                                    seg_channels=a.seg_channels, branch_channels=(a.seg_channels, 32),
                                    saliency_aux=a.saliency_weight > 0, mask_box_expand=a.mask_box_expand,
                                    neighbour_cue=a.neighbour_cue,
                                    trim_last_stage=not a.full_backbone and a.backbone.startswith("lite")))
    if not os.path.exists(os.path.join(cfg.cache, "train.npz")):
        raise SystemExit(f"error: {cfg.cache}/train.npz not found: run python -m model.cache first")
    train(cfg, a.max_minutes, a.device, a.init, a.fit_minutes)


if __name__ == "__main__":
    main()
