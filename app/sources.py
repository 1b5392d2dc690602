"""Where frames come from, behind one call: `open_source(spec)` for a video file, a picture or a
folder of pictures, a camera index or a stream URL. The command line, the API, the live session and
its window all read frames through it.

Every source iterates Frames, upright as players show them (a phone's rotation and flips applied),
and says what it is (`name`), whether it is live (a camera or stream: frames come at their own
pace, and it may fail and come back), its frame rate when it has one, and, after iteration, why it
stopped early (`error`).
"""
import math
import os
import struct
import sys
import time
from dataclasses import dataclass
from fractions import Fraction
from typing import Optional

import av
import cv2
import numpy as np

from .errors import VideoError, first_line

IMAGE_READ_EXTS = (".jpg", ".jpeg", ".png", ".bmp", ".webp", ".tif", ".tiff")


@dataclass
class Frame:
    """One decoded picture from any source."""
    image: np.ndarray                    # (H, W, 3) uint8 BGR
    index: int                           # 0-based position in the source
    time: Optional[float] = None         # presentation time in seconds (None for stills)
    captured_at: Optional[float] = None  # time.monotonic() when a live source delivered it
    decode_ms: Optional[float] = None    # time to read it, when the source measured it itself
    name: Optional[str] = None           # the file of a still image


def read_image_file(path):
    """A picture file as BGR (H, W, 3) uint8, or None when it is not one. The bytes are read by
    Python and decoded in memory: OpenCV's own file functions crash on names that are not UTF-8."""
    try:
        data = np.fromfile(path, np.uint8)
    except OSError:
        return None
    if not data.size:
        return None
    # a broken file is reported by the caller in one line: OpenCV's own "[ WARN ...]" lines are not
    log = cv2.utils.logging
    level = log.getLogLevel()
    log.setLogLevel(log.LOG_LEVEL_SILENT)
    try:
        return cv2.imdecode(data, cv2.IMREAD_COLOR)
    finally:
        log.setLogLevel(level)


def shown_name(path):
    """A path as it can be printed: bytes that are not UTF-8 shown as \\xNN."""
    return os.fsencode(path).decode("utf-8", "backslashreplace")


def display_transform(matrix):
    """What turns a decoded picture upright, as players show it, from the stream's display matrix
    (nine 16.16 fixed-point numbers; None: none): a function of an (H, W, ...) array, and whether
    it swaps width and height. The same decisions as ffmpeg's autorotate (fftools), so the frames
    are what ffmpeg and players show."""
    if matrix is None:
        return None, False
    m = [v / 65536 for v in matrix[:6]]
    s0, s1 = math.hypot(m[0], m[3]), math.hypot(m[1], m[4])
    if not s0 or not s1:
        return None, False
    theta = round(math.degrees(math.atan2(m[1] / s1, m[0] / s0)))
    theta -= 360 * math.floor(theta / 360 + 0.9 / 360)
    if abs(theta - 90) < 1:
        if m[3] > 0:
            return (lambda a: np.ascontiguousarray(np.rot90(a, 1)[::-1])), True   # counter-clockwise, flipped
        return (lambda a: np.ascontiguousarray(np.rot90(a, -1))), True            # clockwise
    if abs(theta - 270) < 1:
        if m[3] < 0:
            return (lambda a: np.ascontiguousarray(np.rot90(a, -1)[::-1])), True  # clockwise, flipped
        return (lambda a: np.ascontiguousarray(np.rot90(a, 1))), True             # counter-clockwise
    if abs(theta - 180) < 1:
        h, v = m[0] < 0, m[4] < 0
    elif abs(theta) < 1:
        h, v = False, m[4] < 0
    else:
        return None, False  # an odd angle: left as decoded
    if not h and not v:
        return None, False
    return (lambda a: np.ascontiguousarray(a[::-1 if v else 1, ::-1 if h else 1])), False


def display_matrix(path):
    """The first video frame's display matrix (9 int32), or None."""
    try:
        with av.open(path) as c:
            for frame in c.decode(c.streams.video[0]):
                for sd in frame.side_data:
                    if getattr(sd.type, "name", "") == "DISPLAYMATRIX":
                        return struct.unpack("<9i", bytes(sd)[:36])
                return None
    except (av.FFmpegError, OSError, ValueError, StopIteration):
        return None
    return None


# frames of more pixels than 1080p (padded to 16) take the high-resolution paths: OpenCV colour
# conversion, one decoding thread, x264 ultrafast (app/video_io.py)
LARGE_FRAME = 1920 * 1088


def to_bgr(frame, scratch=None, out=None):
    """A decoded video frame as BGR, through FFmpeg; frames above 1080p in 4:2:0 through OpenCV's
    conversion (at 4K 4 against 11 ms of CPU; the same BT.601 video-range colours within 1-3
    levels), its planes gathered into scratch (a (H * 3 / 2, W) uint8 buffer kept by the caller,
    or None) and converted into out (an (H, W, 3) uint8 array, or None: a new one). Not below:
    OpenCV converts on its own threads, which then compete with the graph's and cost the live
    window's latency p95 (720p: 40 against 33 ms)."""
    w, h = frame.width, frame.height
    if frame.format.name == "yuv420p" and w * h > LARGE_FRAME and w % 2 == 0 and h % 2 == 0:
        i420 = scratch if scratch is not None and scratch.shape == (h * 3 // 2, w) else np.empty((h * 3 // 2, w), np.uint8)
        for into, plane in zip(i420_planes(i420), frame.planes):
            np.copyto(into, plane_array(plane, *into.shape))
        return cv2.cvtColor(i420, cv2.COLOR_YUV2BGR_I420, dst=out if out is not None and out.shape == (h, w, 3) else None)
    return frame.to_ndarray(format="bgr24")


def i420_planes(i420):
    """The Y, U and V planes of a 4:2:0 picture held in one (H * 3 / 2, W) uint8 array (OpenCV's
    I420 layout), as (H, W), (H / 2, W / 2) and (H / 2, W / 2) views."""
    h, w = i420.shape[0] * 2 // 3, i420.shape[1]
    flat = i420.reshape(-1)
    return (i420[:h], flat[h * w:h * w * 5 // 4].reshape(h // 2, w // 2),
            flat[h * w * 5 // 4:].reshape(h // 2, w // 2))


def plane_array(plane, rows, cols):
    """One plane of a decoded frame as an (rows, cols) uint8 view, its line padding left out."""
    return np.frombuffer(plane, np.uint8).reshape(-1, plane.line_size)[:rows, :cols]


class ReusedArrays:
    """Arrays of one shape, each handed out again once nothing else holds it (no name, no view):
    a 4K frame a frame is 25 MB of new memory the kernel must clear (4 ms of CPU) and the
    allocator then keeps. When every array is still held, a new one is made, so nothing waits."""

    def __init__(self, shape, most=8):
        self.shape, self.most, self._arrays = shape, most, []

    def take(self):
        for a in self._arrays:
            if sys.getrefcount(a) == 3:  # this list, the loop's name and getrefcount's argument
                return a
        a = np.empty(self.shape, np.uint8)
        if len(self._arrays) < self.most:
            self._arrays.append(a)
        return a


class VideoReader:
    """A video file. Iterates Frames, upright as players show them (a phone's rotation and flips applied).
    After iteration, `error` says why it stopped early, if it did."""
    live = False

    def __init__(self, path):
        if not os.path.exists(path):
            raise VideoError(f"input not found: {path}")
        if not os.path.isfile(path):
            raise VideoError(f"input is not a file: {path}")
        self.path = path
        self.name = shown_name(os.path.basename(path) or path)
        try:
            self.container = av.open(path)
        except (av.FFmpegError, OSError, ValueError) as e:
            raise VideoError(f"{path} is not a readable video ({first_line(e)})") from None
        if not self.container.streams.video:
            kinds = sorted({s.type for s in self.container.streams})
            self.container.close()
            raise VideoError(f"{path} has no video stream" + (f" (only {', '.join(kinds)})" if kinds else ""))
        videos = list(self.container.streams.video)
        self.stream = v = next((s for s in videos if s.disposition & av.stream.Disposition.default), videos[0])
        # what a user should know about how the file is read (the command line prints these)
        self.notes = [f"{path} has {len(videos)} video streams: using stream {v.index}"
                      f"{' (marked default)' if v.disposition & av.stream.Disposition.default else ''}, "
                      f"{v.codec_context.width}x{v.codec_context.height}"] if len(videos) > 1 else []
        v.thread_type = "AUTO"
        if v.codec_context.width * v.codec_context.height > LARGE_FRAME:
            v.thread_count = 1  # at 4K each decoding thread holds ~50 MB of frames; the decoder has its own thread here
        self.width, self.height = v.codec_context.width, v.codec_context.height
        if not self.width or not self.height:
            raise VideoError(f"{path} has a video stream without a picture size")
        self.upright, swap = display_transform(display_matrix(path))
        if swap:
            self.width, self.height = self.height, self.width
        self.rate = v.average_rate or v.guessed_rate or Fraction(30)
        self.time_base = v.time_base or Fraction(1, 90000)
        self.audio = self.container.streams.audio[0] if self.container.streams.audio else None
        # the video stream's own length: a longer audio track must not make frames look missing
        duration = float(v.duration * v.time_base) if v.duration else None
        self.duration = duration
        self.expected_frames = v.frames or (int(round(duration * float(self.rate))) if duration else None)
        self.frames_read = 0
        self.end_time = 0.0    # end of the last frame read, seconds from the stream's start
        self.error = None

    @property
    def start_time(self):
        v = self.stream
        return float(v.start_time * v.time_base) if v.start_time is not None else 0.0

    def __iter__(self):
        start = self.start_time
        step = 1.0 / float(self.rate)
        last = None
        # above 1080p, one buffer for the planes of every frame and BGR pictures reused once let go
        # (a new one a frame is memory the allocator keeps)
        coded_w, coded_h = self.stream.codec_context.width, self.stream.codec_context.height
        large = coded_w * coded_h > LARGE_FRAME
        scratch = np.empty((coded_h * 3 // 2, coded_w), np.uint8) if large else None
        pictures = ReusedArrays((coded_h, coded_w, 3)) if large else None
        try:
            for frame in self.container.decode(self.stream):
                t = float(frame.time) - start if frame.time is not None else (0.0 if last is None else last + step)
                if last is not None and t <= last:  # broken or repeated timestamps: keep order, keep every frame
                    t = last + step / 4
                last = t
                image = to_bgr(frame, scratch, pictures.take() if pictures else None)
                if self.upright is not None:
                    image = self.upright(image)
                self.end_time = t + step
                yield Frame(image, self.frames_read, t)
                self.frames_read += 1
        except (av.FFmpegError, OSError, ValueError) as e:
            self.error = first_line(e)
        if self.error is None and self.expected_frames and self.frames_read < self.expected_frames - 2:
            self.error = f"decoding ended after {self.frames_read} of about {self.expected_frames} frames"

    def close(self):
        self.container.close()


class ImageFiles:
    """Still pictures: one file, or every picture in a folder (sorted by name); unreadable ones are
    reported through warn and skipped."""
    live = False
    rate = None
    notes = ()

    def __init__(self, path, warn=lambda msg: print(msg, file=sys.stderr)):
        if os.path.isdir(path):
            self.paths = sorted(os.path.join(path, f) for f in os.listdir(path) if f.lower().endswith(IMAGE_READ_EXTS))
            if not self.paths:
                raise VideoError(f"no images in {shown_name(path)}")
        elif os.path.isfile(path):
            self.paths = [path]
        else:
            raise VideoError(f"input not found: {shown_name(path)}")
        self.name, self.warn, self.error = shown_name(path), warn, None
        self.folder = os.path.isdir(path)

    def __len__(self):
        return len(self.paths)

    def __iter__(self):
        for i, path in enumerate(self.paths):
            image = read_image_file(path)
            if image is None:
                self.warn(f"skipped {shown_name(path)}: not a readable image")
                continue
            yield Frame(image, i, name=path)

    def close(self):
        pass


class LiveCapture:
    """A camera (index) or a network stream (URL) through OpenCV, which knows the platforms'
    camera APIs. Each frame carries when it arrived and how long the read took; the newest frame
    wins where the backend allows (a one-frame buffer)."""
    live = True
    rate = None
    notes = ()

    def __init__(self, source):
        self.source = source
        self.name = f"camera {source}" if isinstance(source, int) else source
        self.cap = cv2.VideoCapture(source)
        if not self.cap.isOpened():
            self.cap.release()
            raise VideoError(f"cannot open {self.name}")
        self.cap.set(cv2.CAP_PROP_BUFFERSIZE, 1)
        self.error = None
        self.frames_read = 0

    def __iter__(self):
        while True:
            t0 = time.perf_counter()
            ok, image = self.cap.read()
            read_ms = (time.perf_counter() - t0) * 1000
            if not ok:
                self.error = f"{self.name} failed after {self.frames_read} frames"
                return
            yield Frame(image, self.frames_read, captured_at=time.monotonic(), decode_ms=read_ms)
            self.frames_read += 1

    def close(self):
        self.cap.release()


def parse_source(spec):
    """'0' (or 0) -> camera 0; anything else is a file path, folder or URL."""
    s = str(spec)
    return int(s) if s.isdigit() else s


def is_stream(spec):
    return isinstance(spec, str) and "://" in spec


def is_live(spec):
    spec = parse_source(spec)
    return isinstance(spec, int) or is_stream(spec)


def describe_source(spec):
    spec = parse_source(spec)
    return f"camera {spec}" if isinstance(spec, int) else shown_name(os.path.basename(str(spec)) or str(spec))


def find_cameras(max_index=4):
    """Indices of cameras that open (quietly: OpenCV warns on every missing one)."""
    found = []
    log = getattr(cv2, "utils", None) and getattr(cv2.utils, "logging", None)
    prev = log.getLogLevel() if log else None
    if log:
        log.setLogLevel(log.LOG_LEVEL_SILENT)
    try:
        for i in range(max_index):
            if sys.platform.startswith("linux") and not os.path.exists(f"/dev/video{i}"):
                continue  # no such device node: nothing to open
            cap = cv2.VideoCapture(i)
            if cap.isOpened():
                found.append(i)
            cap.release()
    finally:
        if log:
            log.setLogLevel(prev)
    return found


def open_source(spec, kind=None, warn=lambda msg: print(msg, file=sys.stderr)):
    """The frames of spec: a camera index, a stream URL, a folder of pictures, a picture, or a
    video file. kind: "video" reads a file as a video whatever its name, "images" refuses what is
    not a picture or a folder of them. VideoError (one line) when it cannot be opened."""
    if kind == "video":
        return VideoReader(str(spec))
    spec = parse_source(spec)
    if isinstance(spec, int) or is_stream(spec):
        return LiveCapture(spec)
    pictures = os.path.isdir(spec) or spec.lower().endswith(IMAGE_READ_EXTS)
    if kind == "images" or (kind is None and pictures):
        return ImageFiles(spec, warn)
    return VideoReader(spec)
