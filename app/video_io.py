"""Video files out, with per-frame timestamps (PyAV, FFmpeg's libraries); reading is app/sources.py.

One output frame per input frame at the input frame's own
timestamp, the input's audio track interleaved (copied when the container can hold it, else
re-encoded) and cut where the video ends, odd sizes padded by one edge pixel (never stretched),
written to a hidden temporary file that is renamed into place only when finalised.

Output by extension: .mp4 .m4v .mov .mkv: H.264 yuv420p; .webm: VP9. With alpha (BGRA frames,
the cut-out effect): .webm: VP9 yuva420p; .mov: ProRes 4444 (yuva444p10le).
"""
import os
import queue
import secrets
import threading
import time
from dataclasses import dataclass
from fractions import Fraction

import av
import cv2
import numpy as np

from .errors import VideoError, disk_error
from .sources import LARGE_FRAME, i420_planes, plane_array


@dataclass(frozen=True)
class OutputFormat:
    container: str
    video_codec: str          # for BGR frames
    alpha_codec: str = ""     # for BGRA frames ("" = this container cannot hold alpha)
    audio_codec: str = "aac"  # when the input's audio cannot be copied


VIDEO_FORMATS = {".mp4": OutputFormat("mp4", "libx264"), ".m4v": OutputFormat("mp4", "libx264"),
                 ".mov": OutputFormat("mov", "libx264", "prores_ks"), ".mkv": OutputFormat("matroska", "libx264"),
                 ".webm": OutputFormat("webm", "libvpx-vp9", "libvpx-vp9", "libopus")}
ALPHA_FORMATS = {ext: f for ext, f in VIDEO_FORMATS.items() if f.alpha_codec}
COPYABLE_AUDIO = {"mp4": {"aac", "mp3", "ac3", "eac3", "alac", "opus"}, "mov": {"aac", "mp3", "ac3", "alac"},
                  "matroska": {"aac", "mp3", "ac3", "eac3", "opus", "vorbis", "flac", "alac"},
                  "webm": {"opus", "vorbis"}}
# per codec: pixel format and encoder options (speed first: the encoder shares the CPU with inference)
CODEC_SETTINGS = {
    "libx264": ("yuv420p", {"crf": "18", "preset": "superfast"}),  # 7.1 ms/frame at 720p vs 10.2 veryfast
    "libvpx-vp9": ("yuv420p", {"crf": "30", "b": "0", "deadline": "realtime", "cpu-used": "8", "row-mt": "1"}),
    "prores_ks": ("yuva444p10le", {"profile": "4", "vendor": "apl0"}),
}
# Above 1080p x264's superfast costs more CPU than everything else a frame takes together (4K on 2
# cores: 104 ms a frame). ultrafast at the same CRF takes about 45 ms, with files about 1.8x
# superfast's size; CABAC would make them 12% smaller for 25% more encoder time, which at 4K is the
# difference between encoding and everything else keeping pace (docs/benchmarks.md). Sliced threads
# hold no frames in flight (less memory); one slice a core (x264's default, 1.5 a core, costs 9%
# more CPU at 4K on 2 cores).
LARGE_X264 = {"crf": "18", "preset": "ultrafast", "x264-params": "sliced-threads=1"}


def codec_options(codec, width, height):
    """(pixel format, encoder options) for a codec at a frame size."""
    pix_fmt, options = CODEC_SETTINGS[codec]
    if codec == "libx264" and width * height > LARGE_FRAME:
        options = dict(LARGE_X264, **{"x264-params": f"{LARGE_X264['x264-params']}:threads={usable_cores()}"})
    return pix_fmt, dict(options)


def usable_cores():
    """The cores this process may run on (a container's or taskset's limit, not the machine's)."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)


NAME_MAX = 255  # bytes in one file name (ext4, xfs, btrfs, APFS)
PATH_MAX = 4096  # bytes in a whole path, its end included (Linux)


def write_target(out_path):
    """The file a write to out_path replaces: a symbolic link's target (the link stays a link, as
    `cp` and editors do), else out_path itself."""
    return os.path.realpath(out_path) if os.path.islink(out_path) else out_path


def partial_path(out_path):
    """The temporary name a writer uses beside out_path until it renames the finished file into
    place: hidden, unique to this writer (two runs writing the same file never share one, so the
    file is always one run's whole output), and no longer than a file name may be."""
    d, name = os.path.split(os.path.abspath(out_path))
    stem, ext = os.path.splitext(name)
    tail = f".{os.getpid()}-{secrets.token_hex(4)}.partial{ext}"
    room = NAME_MAX - 1 - len(os.fsencode(tail))
    stem = os.fsdecode(os.fsencode(stem)[:max(room, 0)])
    return os.path.join(d, f".{stem}{tail}")


def check_output(out_path, input_path=None, formats=VIDEO_FORMATS):
    """Fail before any work when the output cannot be written (folder, extension, same as input)."""
    ext = os.path.splitext(out_path)[1].lower()
    path_bytes, name_bytes = len(os.fsencode(os.path.abspath(out_path))), len(os.fsencode(os.path.basename(out_path)))
    if path_bytes >= PATH_MAX:
        raise VideoError(f"the output path is {path_bytes} bytes long: the system allows {PATH_MAX - 1}")
    if name_bytes > NAME_MAX:
        raise VideoError(f"the output file name is {name_bytes} bytes long: the system allows {NAME_MAX}")
    if ext not in formats:
        raise VideoError(f"cannot write {ext or 'a file without extension'} video: "
                         f"use {', '.join(sorted(formats))}")
    if input_path is not None and os.path.exists(out_path) and os.path.samefile(out_path, input_path):
        raise VideoError(f"--out is the input file {input_path}: choose another name")
    d = os.path.dirname(os.path.abspath(out_path))
    if not os.path.isdir(d):
        raise VideoError(f"output folder does not exist: {d}")
    if not os.access(d, os.W_OK):
        raise VideoError(f"output folder is not writable: {d}")
    if os.path.isdir(out_path):
        raise VideoError(f"output is a folder, not a file: {out_path}")


class AudioCopier:
    """Moves the input's audio into the output as video time passes, so the file is interleaved;
    stops at the end of the video (a longer audio track is cut)."""

    def __init__(self, path, out, fmt: OutputFormat):
        self.src = av.open(path)
        a = self.src.streams.audio[0]
        self.start = float(a.start_time * a.time_base) if a.start_time is not None else 0.0
        self.copy = a.codec_context.name in COPYABLE_AUDIO.get(fmt.container, set())
        self.resampler, self.downmixed, self.layout = None, False, None
        if self.copy:
            self.out_stream = out.add_stream_from_template(a)
        else:
            rate = 48000 if fmt.audio_codec == "libopus" else (a.codec_context.sample_rate or 48000)
            layout = a.codec_context.layout.name if a.codec_context.layout else "stereo"
            try:  # the input's channel layout (5.1 stays 5.1) where the encoder takes it
                self.out_stream = out.add_stream(fmt.audio_codec, rate=rate, layout=layout)
            except (av.FFmpegError, ValueError):
                self.out_stream = out.add_stream(fmt.audio_codec, rate=rate, layout="stereo")
            cc = self.out_stream.codec_context
            self.layout = cc.layout.name if cc.layout else "stereo"
            self.downmixed = self.layout != layout and a.codec_context.channels > cc.channels
            self.resampler = av.AudioResampler(format=cc.format or "fltp", layout=self.layout, rate=rate)
        self.out, self.done = out, False
        self._items = self.src.demux(a) if self.copy else self.src.decode(a)
        self._pending = None

    def _time(self, item):
        return (float(item.pts * item.time_base) - self.start) if item.pts is not None else None

    def write_until(self, t):
        """Mux audio up to time t (seconds from the start); t=None: everything left."""
        while not self.done:
            item = self._pending or next(self._items, None)
            self._pending = None
            if item is None:
                self.done = True
                break
            at = self._time(item)
            if at is not None and t is not None and at > t:
                self._pending = item
                break
            if self.copy:
                if item.dts is None:
                    continue
                item.stream = self.out_stream
                self.out.mux(item)
            else:
                item.pts = None
                for frame in self.resampler.resample(item):
                    for p in self.out_stream.encode(frame):
                        self.out.mux(p)

    def finish(self, end_time):
        self.write_until(end_time)
        if not self.copy:
            for frame in self.resampler.resample(None):
                for p in self.out_stream.encode(frame):
                    self.out.mux(p)
            for p in self.out_stream.encode(None):
                self.out.mux(p)
        self.src.close()


class VideoWriter:
    """Frames at given timestamps (BGR, or BGRA with alpha=True); `finish()` renames the finished
    file into place."""

    def __init__(self, out_path, width, height, rate, audio_from=None, alpha=False):
        check_output(out_path, formats=ALPHA_FORMATS if alpha else VIDEO_FORMATS)
        self.out_path, self.target = out_path, write_target(out_path)
        self.tmp_path = partial_path(self.target)
        self.size = (width + width % 2, height + height % 2)  # 4:2:0 needs even sizes
        self.frames = 0
        self.alpha = alpha
        self.rate = Fraction(rate).limit_denominator(1001)
        fmt = VIDEO_FORMATS[os.path.splitext(out_path)[1].lower()]
        codec = fmt.alpha_codec if alpha else fmt.video_codec
        pix_fmt, options = codec_options(codec, *self.size)
        if alpha and codec == "libvpx-vp9":
            pix_fmt = "yuva420p"
        try:
            self.container = av.open(self.tmp_path, "w", format=fmt.container,
                                     options={"movflags": "+faststart"} if fmt.container in ("mp4", "mov") else {})
            s = self.stream = self.container.add_stream(codec, rate=self.rate)
            s.width, s.height = self.size
            s.pix_fmt = pix_fmt
            s.options = dict(options)
            s.codec_context.time_base = Fraction(1, 1000) if fmt.container in ("matroska", "webm") \
                else Fraction(1, 90000)
            self.audio = AudioCopier(audio_from, self.container, fmt) if audio_from else None
        except (av.FFmpegError, OSError) as e:
            self.discard()
            raise VideoError(f"cannot write {out_path}: {disk_error(e)}") from None
        # what a user should know about how the file is written (the command line prints these)
        self.notes = [f"the audio's channels were mixed down to {self.audio.layout}: the output format's encoder "
                      f"does not take the input's layout"] if self.audio is not None and self.audio.downmixed else []
        self._last_pts = -1
        self._yuv = self._frame = self._planes = None  # the I420 buffer, the encoder frame, its planes
        self.end_time = 0.0
        self.write_ms = []  # encode + mux time per frame (measured here: the caller may be another thread)

    def write(self, image, t=None):
        """One frame shown from time t (seconds; None: the next slot at the nominal rate)."""
        t0 = time.perf_counter()
        h, w = image.shape[:2]
        if (w, h) != self.size:
            image = np.pad(image, ((0, self.size[1] - h), (0, self.size[0] - w), (0, 0)), mode="edge")
        tb = self.stream.codec_context.time_base
        if t is None:
            t = self.frames / float(self.rate)
        pts = max(int(round(t / tb)), self._last_pts + 1)
        if self.stream.pix_fmt == "yuv420p" and not self.alpha:
            # OpenCV's conversion is several times faster than FFmpeg's swscale (4K: 2.4 against 7.9
            # ms) and matches it within rounding (BT.601, video range)
            # into one buffer kept for the whole file: a new one a frame (12 MB at 4K) is memory
            # the allocator holds on to
            self._yuv = cv2.cvtColor(image, cv2.COLOR_BGR2YUV_I420, dst=self._yuv)
            frame = self._i420_frame()
        else:
            frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(image), format="bgra" if self.alpha else "bgr24")
        frame.pts, frame.time_base = pts, tb
        self._last_pts = pts
        self._mux(self.stream.encode(frame))
        if self.audio:
            self.audio.write_until(t)
        self.frames += 1
        self.end_time = t + 1.0 / float(self.rate)
        self.write_ms.append((time.perf_counter() - t0) * 1000)

    def _i420_frame(self):
        """self._yuv in the one encoder frame kept for the file: the encoder copies a frame's
        pictures before encode() returns, and a new frame each time is 12 MB at 4K that the kernel
        must clear."""
        if self._frame is None:
            self._frame = av.VideoFrame(*self.size, "yuv420p")
            self._planes = [plane_array(p, *into.shape) for p, into in zip(self._frame.planes, i420_planes(self._yuv))]
        for into, plane in zip(self._planes, i420_planes(self._yuv)):
            np.copyto(into, plane)
        return self._frame

    def _mux(self, packets):
        self.container.mux(packets)

    def finish(self, end_time=None):
        """Flush, close and move into place; returns the path, or None if no frame was written.
        end_time: where the audio stops (default: the end of the last frame)."""
        if self.frames == 0:
            self.discard()
            return None
        self._mux(self.stream.encode(None))
        if self.audio:
            self.audio.finish(self.end_time if end_time is None else end_time)
        self.container.close()
        os.replace(self.tmp_path, self.target)
        return self.out_path

    def discard(self):
        for closing in (getattr(getattr(self, "audio", None), "src", None), getattr(self, "container", None)):
            try:
                if closing is not None:
                    closing.close()
            except Exception:
                pass
        if os.path.exists(self.tmp_path):
            os.remove(self.tmp_path)


class BackgroundWriter:
    """Runs a writer's write() in its own thread, so encoding overlaps the next frame's inference;
    frame order is kept. At most `depth` frames are handed over and not yet written (a frame's
    slot is freed when it is written, not when the thread takes it: one 4K frame less in memory).
    A write error is raised again on the next call."""

    def __init__(self, writer, depth=4, prepare=None):
        self.writer = writer
        self.prepare = prepare  # item -> image, run in the writer thread (e.g. drawing a result)
        self.prepare_ms = []
        self._queue = queue.Queue()
        self._slots = threading.Semaphore(depth)
        self._error = None
        self._thread = threading.Thread(target=self._run, daemon=True, name="video-writer")
        self._thread.start()

    def _run(self):
        while True:
            item = self._queue.get()
            if item is None:
                return
            if self._error is None:  # after an error, drain without writing so no caller blocks
                try:
                    image, t = item
                    if self.prepare:
                        t0 = time.perf_counter()
                        image = self.prepare(image)
                        self.prepare_ms.append((time.perf_counter() - t0) * 1000)
                    self.writer.write(image, t)
                except BaseException as e:  # kept for the caller's thread
                    self._error = e
            item = image = None  # the frame is let go before its slot is
            self._slots.release()

    @property
    def error(self):
        """The exception that stopped the writing, or None."""
        return self._error

    def _raise(self):
        if self._error is not None:
            raise self._error

    def write(self, image, t=None):
        """Queue a frame (waits while the queue is full); raises an earlier write error."""
        self._raise()
        self._slots.acquire()
        self._queue.put((image, t))

    def offer(self, image, t=None):
        """Queue a frame if there is room, never waiting; False when it was dropped."""
        if not self._slots.acquire(blocking=False):
            return False
        self._queue.put((image, t))
        return True

    def _drain(self):
        if self._thread.is_alive():
            self._queue.put(None)
            self._thread.join()

    def __getattr__(self, name):  # frames, write_ms, ...: the wrapped writer's
        return getattr(self.writer, name)

    def finish(self, end_time=None):
        self._drain()
        self._raise()
        return self.writer.finish(end_time)

    def discard(self):
        self._drain()
        self.writer.discard()
