"""The first thing a user sees: README command 1 on the bundled clip. The bunny's mask on 10 of its
frames (tests/fixtures/bunny/NNN.png, NNN the frame index) was made with the IS-Net teacher and
corrected by hand: the rocks it also marked on frames 70 and 130 removed, holes filled. What the
video command shows on those frames must be the bunny, as one instance, and little else."""
import os

import cv2
import numpy as np
import pytest

from app.pipeline import Pipeline
from app.sources import VideoReader
from conftest import ROOT, SAMPLE

FIXTURES = os.path.join(ROOT, "tests", "fixtures", "bunny")
MAX_OUTSIDE = 0.05  # of the frame's pixels shown outside the bunny: what the model issue asks
# what the shipped model holds, so that it cannot slip back (v5 showed up to 0.42, a median of 0.33;
# v7 0.22 and 0.09): the rock next to the bunny on some frames and the dark burrow still get some mask
HELD_MAX, HELD_MEDIAN = 0.15, 0.085


def bunny_masks():
    return {int(name[:3]): cv2.imread(os.path.join(FIXTURES, name), cv2.IMREAD_GRAYSCALE) > 127
            for name in sorted(os.listdir(FIXTURES)) if name.endswith(".png")}


@pytest.fixture(scope="module")
def shown_on_fixture_frames(engine_cpu):
    """frame index -> (share of the frame shown outside the bunny, instances lying mostly on it)."""
    bunny = bunny_masks()
    pipeline = Pipeline(engine_cpu, draw_now=False)  # the video command's tracker and masks
    out = {}
    for frame in VideoReader(SAMPLE):
        result = pipeline.process(frame.image, index=frame.index).result
        if frame.index in bunny:
            truth = bunny[frame.index]
            shown = np.zeros(result.frame_size, bool)
            on_bunny = 0
            for inst in result.instances():
                m = inst.full_mask(result.frame_size)
                shown |= m
                on_bunny += (m & truth).sum() >= 0.5 * m.sum()
            out[frame.index] = ((shown & ~truth).mean(), on_bunny)
    return out


def test_the_fixture_covers_at_least_eight_frames_of_the_clip():
    masks = bunny_masks()
    assert len(masks) >= 8 and all(m.shape == (720, 1280) and 0.05 < m.mean() < 0.3 for m in masks.values())


@pytest.mark.xfail(strict=True, reason="the shipped model shows up to 12% of a frame outside the bunny (the rock, "
                                       "the burrow): the model issue's 5% is not reached yet")
def test_little_of_the_frame_is_shown_outside_the_bunny(shown_on_fixture_frames):
    outside = {k: round(float(v[0]), 3) for k, v in shown_on_fixture_frames.items()}
    assert max(outside.values()) <= MAX_OUTSIDE, outside


def test_the_scenery_shown_outside_the_bunny_stays_below_what_the_shipped_model_holds(shown_on_fixture_frames):
    outside = [float(v[0]) for v in shown_on_fixture_frames.values()]
    assert max(outside) <= HELD_MAX and np.median(outside) <= HELD_MEDIAN, [round(v, 3) for v in outside]


def test_the_bunny_is_one_instance(shown_on_fixture_frames):
    on = {k: int(v[1]) for k, v in shown_on_fixture_frames.items()}
    assert set(on.values()) == {1}, on
