"""What a Result looks like on screen or in a file: the overlay (colour fill + contours, see
drawing.py) or an effect on the background behind the salient instances.

    overlay        the instances filled with their colour (the default)
    blur           background blurred (strength = the blur's sigma in pixels at 640 px width)
    remove         background a flat colour
    replace IMAGE  background from a picture, scaled to cover the frame
    cutout         BGRA: the frame with alpha = the instances (for VP9/ProRes video and PNG)

Each effect is one entry of EFFECTS (how it draws, its argument, whether the live window offers
it, whether it has alpha): a new effect is one entry there and its test; the command line, the live
window and the video command read the registry.

The foreground's edge is soft: the instances' probability maps, sampled bilinearly to full
resolution, are thresholded and then feathered with a small Gaussian, so alpha is exactly 1 well
inside the instances and exactly 0 well outside.
"""
from dataclasses import dataclass
from typing import Callable, Optional

import cv2
import numpy as np

from .drawing import DrawStyle, draw
from .results import Result
from .sources import read_image_file, shown_name


@dataclass
class Effect:
    name: str = "overlay"
    strength: float = 15.0                 # blur sigma, in pixels of a 640-wide frame
    colour: tuple = (0, 177, 64)           # remove: BGR (a chroma green)
    background: Optional[np.ndarray] = None  # replace: the picture (BGR)
    feather: float = 2.0                   # edge softness, pixels
    _cover: Optional[np.ndarray] = None    # replace: the picture scaled to the last frame size

    def __post_init__(self):
        if self.name not in EFFECTS:
            raise ValueError(f"unknown effect {self.name!r} (one of {', '.join(EFFECTS)})")
        if self.name == "replace" and self.background is None:
            raise ValueError("the replace effect needs a background picture")

    def cover(self, frame_size):
        """The background picture scaled to cover frame_size and centre-cropped (computed once per size)."""
        h, w = frame_size
        if self._cover is None or self._cover.shape[:2] != (h, w):
            bh, bw = self.background.shape[:2]
            s = max(w / bw, h / bh)
            big = cv2.resize(self.background, (max(w, round(bw * s)), max(h, round(bh * s))),
                             interpolation=cv2.INTER_AREA if s < 1 else cv2.INTER_LINEAR)
            y, x = (big.shape[0] - h) // 2, (big.shape[1] - w) // 2
            self._cover = np.ascontiguousarray(big[y:y + h, x:x + w])
        return self._cover


def load_background(path):
    image = read_image_file(path)
    if image is None:
        raise ValueError(f"not a readable picture: {shown_name(path)}")
    return image


def foreground_alpha(result: Result, feather=2.0):
    """float32 (H, W) in 0..1: 1 on the instances, 0 elsewhere, feathered over ~2*feather pixels."""
    h, w = result.frame_size
    hard = np.zeros((h, w), np.uint8)
    for inst in result.instances():
        mh, mw = inst.mask.shape
        hard[inst.y0:inst.y0 + mh, inst.x0:inst.x0 + mw] |= inst.mask
    if feather <= 0:
        return hard.astype(np.float32)
    k = 2 * int(np.ceil(3 * feather)) + 1
    return np.clip(cv2.GaussianBlur(hard.astype(np.float32), (k, k), feather), 0.0, 1.0)


def blurred(frame, strength):
    """A strong blur cheaply: blur at a quarter of the size, then scale back up."""
    h, w = frame.shape[:2]
    sigma = max(strength * w / 640, 0.5)
    f = 4 if sigma >= 4 else 1
    small = cv2.resize(frame, (max(w // f, 1), max(h // f, 1)), interpolation=cv2.INTER_AREA) if f > 1 else frame
    k = 2 * int(np.ceil(3 * sigma / f)) + 1
    small = cv2.GaussianBlur(small, (k, k), sigma / f)
    return cv2.resize(small, (w, h), interpolation=cv2.INTER_LINEAR) if f > 1 else small


def composite(foreground, background, alpha):
    """alpha * foreground + (1 - alpha) * background, in uint8 (alpha float32 H x W)."""
    return cv2.blendLinear(foreground, background, alpha, np.subtract(1.0, alpha, dtype=np.float32))


def _background_effect(background):
    """An effect that keeps the instances and puts background(result, effect) behind them."""
    def draw_it(result: Result, effect: Effect, style: DrawStyle, in_place=False):
        alpha = foreground_alpha(result, effect.feather)
        return composite(result.frame, background(result, effect), alpha)
    return draw_it


def _flat(result, effect):
    background = np.empty_like(result.frame)
    background[:] = np.array(effect.colour, np.uint8)
    return background


def _cutout(result: Result, effect: Effect, style: DrawStyle, in_place=False):
    out = cv2.cvtColor(result.frame, cv2.COLOR_BGR2BGRA)
    out[..., 3] = np.round(foreground_alpha(result, effect.feather) * 255).astype(np.uint8)
    return out


def _strength(word):
    strength = float(word)
    if not 0 < strength <= 200:
        raise ValueError(f"blur strength must be in (0, 200], not {strength}")
    return {"strength": strength}


def _colour(word):
    colour = word.lstrip("#")
    if len(colour) != 6:
        raise ValueError(f"colour must be #RRGGBB, not {word!r}")
    try:
        r, g, b = (int(colour[i:i + 2], 16) for i in (0, 2, 4))
    except ValueError:
        raise ValueError(f"colour must be #RRGGBB, not {word!r}") from None
    return {"colour": (b, g, r)}


def _picture(word):
    return {"background": load_background(word)}


@dataclass(frozen=True)
class EffectKind:
    draw: Callable                      # (result, effect, style, in_place) -> the picture (in_place: it
                                        # may draw on the result's frame; only the overlay does)
    help: str
    arg: str = ""                       # the argument's name on the command line ("": none)
    parse: Optional[Callable] = None    # the argument's word -> Effect fields (ValueError: why not)
    arg_required: bool = False
    live: bool = True                   # offered in the live window
    alpha: bool = False                 # BGRA pictures (video: .webm/.mov; images: .png ...)


EFFECTS = {
    "overlay": EffectKind(lambda result, effect, style, in_place=False: draw(result, style, in_place),
                          "each instance filled with its colour, outlined"),
    "blur": EffectKind(_background_effect(lambda r, e: blurred(r.frame, e.strength)),
                       "the background blurred (SIGMA: pixels at 640 px width, default 15)", "SIGMA", _strength),
    "remove": EffectKind(_background_effect(_flat), "the background a flat colour (default #00b140)", "#RRGGBB",
                         _colour),
    "replace": EffectKind(_background_effect(lambda r, e: e.cover(r.frame_size)),
                          "the background from a picture, scaled to cover the frame", "IMAGE", _picture,
                          arg_required=True),
    "cutout": EffectKind(_cutout, "transparent background (BGRA)", live=False, alpha=True),
}


def parse_effect(words):
    """["blur", "20"] -> Effect, or ValueError with the reason in one line."""
    name, args = words[0], list(words[1:])
    kind = EFFECTS.get(name)
    if kind is None:
        raise ValueError(f"unknown effect {name!r} (one of {', '.join(EFFECTS)})")
    if len(args) > (1 if kind.arg else 0):
        raise ValueError(f"{name} takes {'one argument' if kind.arg else 'no argument'}")
    if kind.arg_required and not args:
        raise ValueError(f"{name} needs {'a picture' if kind.arg == 'IMAGE' else kind.arg}: --effect {name} {kind.arg}")
    return Effect(name, **(kind.parse(args[0]) if args else {}))


def render(result: Result, effect: Effect, style: DrawStyle, in_place=False):
    """The picture to show or write for this result: BGR, or BGRA for an effect with alpha.
    in_place: the overlay may draw on the result's frame itself (the caller has no further use of it)."""
    return EFFECTS[effect.name].draw(result, effect, style, in_place)
