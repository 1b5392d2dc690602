"""Training augmentation on the cached square images: horizontal flip (the paper's only one), plus
random zoom-crop (scale), colour jitter, and copy-paste of a salient instance from another image."""
import cv2
import numpy as np


def hflip(image, masks):
    return image[:, ::-1], masks[:, :, ::-1]


def zoom_crop(rng, image, masks, min_scale=0.6):
    """Crop a random window of min_scale..1 of each side and resize it back to the full size."""
    size = image.shape[0]
    s = rng.uniform(min_scale, 1.0)
    cw, ch = int(size * s), int(size * rng.uniform(max(min_scale, s * 0.8), min(1.0, s * 1.25)))
    x0, y0 = rng.integers(0, size - cw + 1), rng.integers(0, size - ch + 1)
    image = cv2.resize(image[y0:y0 + ch, x0:x0 + cw], (size, size), interpolation=cv2.INTER_LINEAR)
    if len(masks):
        masks = np.stack([cv2.resize(m[y0:y0 + ch, x0:x0 + cw].astype(np.uint8), (size, size),
                                     interpolation=cv2.INTER_NEAREST) for m in masks]).astype(bool)
    return image, masks


def colour_jitter(rng, image, strength=0.25):
    img = image.astype(np.float32)
    img = img * rng.uniform(1 - strength, 1 + strength)                       # brightness
    mean = img.mean()
    img = (img - mean) * rng.uniform(1 - strength, 1 + strength) + mean       # contrast
    grey = img.mean(2, keepdims=True)
    img = (img - grey) * rng.uniform(1 - strength, 1 + strength) + grey       # saturation
    return np.clip(img, 0, 255).astype(np.uint8)


def copy_paste(rng, image, masks, salient, donor_image, donor_mask, unsure=None, scale=(0.5, 1.0)):
    """Paste one salient instance (its pixels only), scaled by a random factor in `scale`, at a
    random place; occluded parts of the existing masks are removed and instances hidden to under
    10% are dropped. Pasted pixels are certain (removed from `unsure`)."""
    s = rng.uniform(*scale)
    if s < 0.99:
        ys, xs = np.nonzero(donor_mask)
        if len(ys) == 0:
            return (image, masks, salient) if unsure is None else (image, masks, salient, unsure)
        y0, y1, x0, x1 = ys.min(), ys.max() + 1, xs.min(), xs.max() + 1
        h, w = max(int((y1 - y0) * s), 1), max(int((x1 - x0) * s), 1)
        small_img = cv2.resize(donor_image[y0:y1, x0:x1], (w, h), interpolation=cv2.INTER_AREA)
        small_mask = cv2.resize(donor_mask[y0:y1, x0:x1].astype(np.uint8), (w, h), interpolation=cv2.INTER_NEAREST)
        donor_image = np.zeros_like(donor_image)
        donor_mask = np.zeros_like(donor_mask)
        donor_image[:h, :w], donor_mask[:h, :w] = small_img, small_mask > 0
    ys, xs = np.nonzero(donor_mask)
    if len(ys) == 0:
        return (image, masks, salient) if unsure is None else (image, masks, salient, unsure)
    size = image.shape[0]
    dy = rng.integers(-ys.min(), size - ys.max())
    dx = rng.integers(-xs.min(), size - xs.max())
    m = np.zeros_like(donor_mask)
    m[ys + dy, xs + dx] = True
    image = image.copy()
    image[ys + dy, xs + dx] = donor_image[ys, xs]
    if len(masks):
        before = masks.reshape(len(masks), -1).sum(1)
        masks = masks & ~m
        left = masks.reshape(len(masks), -1).sum(1) >= 0.1 * np.maximum(before, 1)
        masks, salient = masks[left], salient[left]
    masks, salient = np.concatenate([masks, m[None]]), np.concatenate([salient, [True]])
    if unsure is None:
        return image, masks, salient
    return image, masks, salient, unsure & ~m
