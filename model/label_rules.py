"""Which training regions teach the detector a box. A region that may hold several objects must
not train one box for the group, or the detector learns to draw group boxes (a rider and a horse,
two people side by side as one): it still trains the masks, and its anchors are ignored.

Roles of a training instance: IGNORED (neither positive nor negative: not salient, or unsure),
SALIENT (a detector positive and a mask target), MASK_ONLY (a mask target whose box the detector
ignores).
"""
import cv2
import numpy as np

IGNORED, SALIENT, MASK_ONLY = 0, 1, 2
MIN_PART = 0.05  # a union's connected part smaller than this share of it is a speck, not an object

# Sources whose one mask per image is the union of every salient object in it: DAVIS, and
# human-seg (a background-removal service's one region, sometimes two people).
UNION_SOURCES = ("davis", "human-seg")

# DAVIS training sequences whose salient "object" is a group of touching objects, checked by eye
# on their frames: a rider and a bicycle, horse, motorbike or scooter, a child and a swing, the
# wagons of a train. Their unions are one connected region, so the pixel rule cannot tell.
GROUP_SEQUENCES = frozenset({"davis/bmx-bumps", "davis/horsejump-low", "davis/motorbike",
                             "davis/scooter-gray", "davis/swing", "davis/train"})


def _parts(mask, min_part):
    """A union mask's connected regions of at least min_part of it (specks left out): the label
    image and the labels of those regions."""
    _, labels, stats, _ = cv2.connectedComponentsWithStats(mask.astype(np.uint8), connectivity=8)
    areas = stats[1:, cv2.CC_STAT_AREA]
    return labels, np.flatnonzero(areas >= min_part * max(areas.sum(), 1)) + 1


def union_trains_a_box(mask, min_part=MIN_PART):
    """Whether a union mask (DAVIS: every salient object of the frame in one mask) is one object as
    far as its pixels tell: a single connected region once specks are left out. Two or more
    separate regions are several objects (or one split by an occluder): no group box."""
    return len(_parts(mask, min_part)[1]) == 1


def union_parts(mask, min_part=MIN_PART):
    """A union mask's separate objects as far as its pixels tell: its connected regions of at least
    min_part of it, each (H, W) bool, when there are two or more; [] when it is one region (a
    group of touching objects cannot be split by its pixels)."""
    labels, big = _parts(mask, min_part)
    return [labels == k for k in big] if len(big) >= 2 else []


def union_images(groups, union_flags):
    """Which images hold one union mask: flagged so by their loader, or from a union source.
    groups (N,) "source/name" strings, union_flags (N,) bool."""
    sources = np.array([str(g).split("/")[0] for g in groups])
    return np.asarray(union_flags, bool) | np.isin(sources, UNION_SOURCES)


def instance_roles(salient, union_image, masks, groups=None):
    """Role of each cached instance: salient (N,) bool, union_image (N,) bool (its image has one
    union mask), masks (N, H, W) bool, groups (N,) its image's "source/sequence" (optional)."""
    roles = np.where(np.asarray(salient, bool), SALIENT, IGNORED).astype(np.int8)
    for j in np.flatnonzero(roles == SALIENT):
        in_group = groups is not None and str(groups[j]) in GROUP_SEQUENCES
        if union_image[j] and (in_group or not union_trains_a_box(masks[j])):
            roles[j] = MASK_ONLY
    return roles
