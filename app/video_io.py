"""Video files in and out through the ffmpeg that imageio-ffmpeg bundles.

Writer: H.264 yuv420p, one output frame per input frame at the input's exact (fractional) rate,
the input's audio track copied, odd sizes padded by one edge pixel (never stretched), written to a
temporary file that is renamed into place only when finalised.
"""
import os
from fractions import Fraction

import imageio_ffmpeg
import numpy as np

COPYABLE_AUDIO = {"aac", "mp3", "ac3", "eac3", "opus", "alac"}


class VideoError(Exception):
    """One-line, user-facing problem with a video file."""


def exact_fps(fps):
    """ffmpeg reports 29.97 for 30000/1001: recover the NTSC rationals, keep others as they are."""
    fps = float(fps)
    ntsc = round(fps * 1.001)
    if abs(fps - ntsc / 1.001) < 0.005 and abs(fps - round(fps)) > 0.005:
        return Fraction(ntsc * 1000, 1001)
    return Fraction(fps).limit_denominator(1001)


class VideoReader:
    """Iterates BGR frames (H,W,3 uint8). After iteration, `error` says why it stopped early, if so."""

    def __init__(self, path):
        if not os.path.exists(path):
            raise VideoError(f"input not found: {path}")
        if not os.path.isfile(path):
            raise VideoError(f"input is not a file: {path}")
        self.path = path
        self._gen = imageio_ffmpeg.read_frames(path, pix_fmt="bgr24")
        try:
            self.meta = next(self._gen)
        except (OSError, RuntimeError, StopIteration) as e:
            raise VideoError(f"{path} is not a readable video ({_first_line(e)})") from None
        if not self.meta.get("size") or not self.meta.get("fps"):
            raise VideoError(f"{path} has no video stream")
        self.width, self.height = self.meta["size"]
        self.fps = exact_fps(self.meta["fps"])
        self.audio_codec = self.meta.get("audio_codec")
        duration = self.meta.get("duration") or 0
        self.expected_frames = int(round(duration * float(self.fps))) if duration else None
        self.frames_read = 0
        self.error = None

    def __iter__(self):
        nbytes = self.width * self.height * 3
        while True:
            try:
                buf = next(self._gen)
            except StopIteration:
                break
            except (OSError, RuntimeError) as e:
                self.error = _first_line(e)
                break
            if len(buf) != nbytes:
                self.error = "last frame incomplete"
                break
            self.frames_read += 1
            yield np.frombuffer(buf, np.uint8).reshape(self.height, self.width, 3)
        if self.error is None and self.expected_frames and self.frames_read < self.expected_frames - 2:
            self.error = f"decoding ended after {self.frames_read} of about {self.expected_frames} frames"

    def close(self):
        self._gen.close()


def _first_line(e):
    s = str(e).strip()
    return s.splitlines()[-1][:200] if s else type(e).__name__


def partial_path(out_path):
    d, name = os.path.split(os.path.abspath(out_path))
    stem, ext = os.path.splitext(name)
    return os.path.join(d, f".{stem}.partial{ext or '.mp4'}")


def check_writable(out_path):
    """Fail before any work when the output cannot be written."""
    d = os.path.dirname(os.path.abspath(out_path))
    if not os.path.isdir(d):
        raise VideoError(f"output folder does not exist: {d}")
    if not os.access(d, os.W_OK):
        raise VideoError(f"output folder is not writable: {d}")
    if os.path.isdir(out_path):
        raise VideoError(f"output is a folder, not a file: {out_path}")


class VideoWriter:
    def __init__(self, out_path, width, height, fps, audio_from=None, audio_codec=None, quality=7):
        check_writable(out_path)
        self.out_path, self.tmp_path = out_path, partial_path(out_path)
        self.size = (width + width % 2, height + height % 2)  # yuv420p needs even sizes
        self.frames = 0
        audio = {}
        if audio_from and audio_codec:
            audio = {"audio_path": audio_from, "audio_codec": "copy" if audio_codec in COPYABLE_AUDIO else "aac"}
        self._gen = imageio_ffmpeg.write_frames(
            self.tmp_path, self.size, pix_fmt_in="bgr24", pix_fmt_out="yuv420p", fps=Fraction(fps),
            codec="libx264", quality=quality, macro_block_size=1,
            output_params=["-preset", "veryfast", "-movflags", "+faststart"], **audio)
        self._gen.send(None)

    def write(self, frame):
        h, w = frame.shape[:2]
        if (w, h) != self.size:
            frame = np.pad(frame, ((0, self.size[1] - h), (0, self.size[0] - w), (0, 0)), mode="edge")
        self._gen.send(np.ascontiguousarray(frame))
        self.frames += 1

    def finish(self):
        """Finalise the file and move it into place; returns the path, or None if no frame was written."""
        self._gen.close()
        if self.frames == 0:
            self.discard()
            return None
        os.replace(self.tmp_path, self.out_path)
        return self.out_path

    def discard(self):
        try:
            self._gen.close()
        except Exception:
            pass
        if os.path.exists(self.tmp_path):
            os.remove(self.tmp_path)
