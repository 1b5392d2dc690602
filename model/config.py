"""Every setting of the network and of training, in one place: the dataclasses (their defaults are
the paper's layout) and SHIPPED_RECIPE, where the shipped model differs from them, which
model/train.py's command line starts from.

The dataclasses are saved inside each checkpoint, so a checkpoint rebuilds its own network.
"""
from dataclasses import asdict, dataclass, field


@dataclass
class NetConfig:
    backbone: str = "lite0"            # lite0 | lite1 | lite2 | resnet50
    trim_last_stage: bool = False      # Lite: stride 32 from stage 6, stage 7 skipped (faster)
    image_size: int = 320              # square input, aspect ignored as in the paper
    strides: tuple = (8, 16, 32, 64)   # the paper's pyramid: no stride-4 level
    anchor_sizes: tuple = (32, 64, 128, 256)
    # Narrower than the original (256 FPN / 512 head / 128-64 branch) so the whole graph runs
    # in real time on a 2-core CPU; see README "Deviations from the paper".
    fpn_channels: int = 128
    head_channels: int = 128
    seg_channels: int = 64             # the RoIMasking input map
    branch_channels: tuple = (64, 32)  # residual blocks before / after the dilated conv
    masking: str = "ternary"           # ternary | binary | roialign (the paper's ablation)
    alpha: float = 1 / 3               # width of the sign-flipped context band
    roialign_size: int = 14
    # True: the FPN smoothing, head and segmentation-feature 3x3 convs are depthwise-separable
    # (3x3 depthwise + 1x1), as in real-time detectors: ~8x fewer MACs in those layers
    separable: bool = False
    # 8: masks at the stride-8 map (the paper); 4: a small refiner adds stride-4 detail (MaskRefiner);
    # 2: a second refiner adds stride-2 detail from the backbone's stride-2 map (tried, not shipped)
    mask_stride: int = 8
    refine_channels: int = 16
    # True: the mask branch is also told where the other instances' boxes lie (a learned vector
    # added to its input in their cells), so a mask can stop where a neighbour the detector found
    # begins instead of running onto it
    neighbour_cue: bool = False
    neighbour_cue_score: float = 0.5   # the boxes it tells of: those scored this much or more
    # True: the per-instance convs (segmentation branch and refiner) are depthwise-separable too;
    # they run once per instance, so with a few instances they cost as much as the backbone
    mask_separable: bool = False
    # training only: 1x1 heads that predict the union of salient instances densely from the
    # segmentation map (stride 8) and the refiner's features (stride 4); never exported
    saliency_aux: bool = False
    # inference
    # the paper keeps the top 5000 before NMS; at 320x320 there are only 6,375 anchors and
    # NonMaxSuppression drops those under the score threshold first, so 0 (every anchor) gives the
    # same detections unless over 5000 anchors pass the threshold, without a top-k and two gathers
    pre_nms_topk: int = 0
    nms_iou: float = 0.4
    max_detections: int = 20
    score_threshold: float = 0.5       # display default, stored in the ONNX metadata
    # added to the mask logits at inference, so that probability 0.5 (where every consumer cuts)
    # falls where the model's masks are best: a calibration chosen on training images
    # (model.calibrate); 0: masks cut at the trained probability 0.5
    mask_bias: float = 0.0
    # each detected box grows by this share of its width/height per side before the mask branch
    # (and is returned so): detected boxes often fall short of the object (feet, wheels, a hull),
    # and the mask is cut to its box. Train with LossConfig.mask_box_jitter so the branch learns to
    # cut a loose box, not to fill it. 0: the paper's tight boxes
    mask_box_expand: float = 0.0
    # inference: the mask path also runs on the mirrored image and the two mask logits are averaged
    # (test-time flip). Twice the backbone's work: for the GPU graph, not the 2-core CPU default
    mask_flip: bool = False
    # inference: the detector runs on the input shrunk to this size (the size it was trained at),
    # the mask path on the full input: finer masks, the same detections (a detector run at a size it
    # never trained at returns more part-boxes). 0: both at image_size. Needs a multiple of 64;
    # image_size a whole multiple of it shrinks by an exact average (area) pool
    detector_size: int = 0

    def to_dict(self):
        return asdict(self)

    @classmethod
    def from_dict(cls, d):
        d = dict(d)
        for k in ("strides", "anchor_sizes", "branch_channels"):
            if k in d:
                d[k] = tuple(d[k])
        return cls(**{k: v for k, v in d.items() if k in cls.__dataclass_fields__})


@dataclass
class LossConfig:
    positive_iou: float = 0.4
    # an anchor that overlaps two objects this much (IoU with each) is ignored, unless it is an
    # object's best: between two overlapping people it would learn to fire and regress to either,
    # i.e. to a box between them; 0: off
    ambiguous_iou: float = 0.0
    hard_negatives: int = 256
    cls_weight: float = 0.3
    smooth_l1_sigma: float = 3.0
    max_masks_per_image: int = 4       # GT boxes fed to the mask branch per image (cost bound)
    saliency_weight: float = 0.0       # dense saliency loss (NetConfig.saliency_aux heads); 0: off
    # boxes fed to the mask branch: ground truth grown by NetConfig.mask_box_expand, then each side
    # moved by a uniform share in [-jitter, +jitter] of the box size, like a detector's error
    mask_box_jitter: float = 0.0
    mask_dice_weight: float = 0.0      # soft Dice loss added to the mask cross-entropy; 0: off
    # regions that may hold several objects (label_rules.MASK_ONLY) as mask targets; False: they
    # train nothing, so no window learns to take in a whole group
    union_masks: bool = True
    # with union_masks False: a region in separate parts trains one mask per part, in the part's
    # own box (a group in one region still trains nothing)
    union_parts: bool = False
    # mask-loss weight of the cells where another object of the image lies (1: no extra weight)
    neighbour_weight: float = 1.0
    # which objects count as neighbours: "all" (parts of one DAVIS region too) or "boxed" (only
    # objects the detector draws a box for: a region's parts have none, so the one mask a user
    # sees for such a region must hold all of them)
    neighbours: str = "all"
    # how the detector's positives are averaged: "anchor" (every positive anchor of the batch alike:
    # an object a quarter of the frame across has 20, a far 10 x 30-pixel person 1) or "object"
    # (each object's anchors share one object's weight, so small people train as much as a large one)
    positives: str = "anchor"
    # NetConfig.neighbour_cue: the share of a training mask's neighbours left out of what its branch
    # is told (the detector at inference draws no box for many of them)
    neighbour_cue_drop: float = 0.3
    # RepGT (Wang et al., "Repulsion loss: detecting pedestrians in a crowd", CVPR 2018): weight of
    # a loss on each positive's predicted box for how much of its nearest *other* object it covers
    # (intersection over that object's area), so that boxes between two people learn to pick one;
    # 0: off
    repulsion_weight: float = 0.0


@dataclass
class TrainConfig:
    data: str = "../shared/data"
    cache: str = "data_cache"
    out: str = "runs/s4net"
    iterations: int = 6000
    batch_size: int = 8
    lr: float = 0.01
    momentum: float = 0.9
    weight_decay: float = 1e-4
    lr_steps: tuple = (0.7, 0.9)       # fractions of iterations where lr drops x0.1
    warmup: int = 200
    augment: bool = True               # flip, zoom-crop, colour, copy-paste (False: none, for ablation)
    paste_prob: float = 0.5            # share of training images that get 1-3 pasted instances (0: ablation)
    crowd_prob: float = 0.0            # share that get a crowd of 2-7 real people instead (model/crowds.py)
    street_share: float = 0.0          # share of those crowds standing at several depths (crowds.street_scene)
    crowd_sources: tuple = ("ccp-person",)  # whose people the crowds are made of (train.CROWD_CHOICES)
    freeze_backbone_stages: int = 2    # stem + first stages stay frozen (BN is frozen everywhere)
    # True: only the mask path learns (segmentation features, branch, refiner); the backbone, FPN
    # and detection head stay as they are, so detections are unchanged by the fine-tune
    mask_path_only: bool = False
    checkpoint_minutes: float = 5.0
    seed: int = 0
    threads: int = 2
    # processes drawing and augmenting batches beside the training one (a GPU machine's cores);
    # 0 draws them in the training process, so a run replays exactly from its seed
    workers: int = 0
    source_share: dict = field(default_factory=dict)  # overrides of train.SOURCE_SHARE
    net: NetConfig = field(default_factory=NetConfig)
    loss: LossConfig = field(default_factory=LossConfig)


# The shipped model's choices where they differ from the defaults above (docs/model.md says why):
# the stride-4 refiner, a 32-channel RoIMasking map, and mask windows grown by 15% a side with
# training boxes moved like a detector's.
SHIPPED_RECIPE = {"mask_stride": 4, "seg_channels": 32, "mask_box_expand": 0.15, "mask_box_jitter": 0.15}
