"""Buffers reused from frame to frame (high-resolution reading and every encoder) never show one
frame's picture in another: a frame still held is never written over, and each written frame is
encoded from its own pixels."""
import platform

import numpy as np
import pytest

from app.memory import reuse_blocks_below
from app.sources import ReusedArrays, VideoReader
from app.video_io import VideoWriter

COLOURS = [(200, 30, 30), (30, 200, 30), (30, 30, 200), (128, 128, 128)]


def test_an_array_is_handed_out_again_only_when_nothing_holds_it():
    pool = ReusedArrays((4, 4, 3), most=2)
    a = pool.take()
    b = pool.take()
    assert b is not a
    view = a[1:]
    first = id(a)
    del a
    c = pool.take()
    assert id(c) != first  # a view still holds the first array
    del view, c
    assert id(pool.take()) == first


def test_frames_written_and_read_at_4k_each_keep_their_own_pixels(tmp_path):
    path = str(tmp_path / "colours.mp4")
    writer = VideoWriter(path, 3840, 2160, 25)
    for c in COLOURS:
        writer.write(np.full((2160, 3840, 3), c, np.uint8))
    writer.finish()
    reader = VideoReader(path)
    held = [f.image for f in reader]  # every frame kept: none may be reused for a later one
    reader.close()
    assert len(held) == len(COLOURS)
    for image, c in zip(held, COLOURS):
        assert image.shape == (2160, 3840, 3)
        assert np.abs(image.reshape(-1, 3).mean(0) - c).max() < 3


@pytest.mark.skipif(platform.system() != "Linux" or platform.libc_ver()[0] != "glibc", reason="glibc only")
def test_glibc_takes_the_allocator_setting_for_large_frames():
    assert reuse_blocks_below()
