"""The capture thread: reads a camera, a video file or a stream with OpenCV and keeps only the
newest frame (stale frames are dropped, so latency cannot build up).

A camera or stream that fails is reported and reopened (they come back). A file plays at its own
frame rate, looping or stopping at the end; a file that is missing or breaks is reported once and
the thread ends (retrying cannot mend it). Paused, a file stops advancing and a camera's frames
are read but not published."""
import atexit
import os
import shutil
import sys
import tempfile
import threading
import time

import cv2

from .video_io import Frame, shown_name


def parse_source(source):
    """'0' -> camera 0; anything else is a file path or URL."""
    s = str(source)
    return int(s) if s.isdigit() else s


def opencv_path(path):
    """A name OpenCV can open for the file: OpenCV crashes on names that are not UTF-8, so such a
    file is opened through a link with a plain name (in a private temporary folder, removed at exit)."""
    try:
        path.encode("utf-8")
        return path
    except UnicodeEncodeError:
        folder = tempfile.mkdtemp(prefix="s4net-source-")
        atexit.register(shutil.rmtree, folder, True)
        link = os.path.join(folder, "source" + os.path.splitext(path)[1].encode("ascii", "ignore").decode())
        os.symlink(os.path.abspath(path), link)
        return link


def describe_source(source):
    return f"camera {source}" if isinstance(source, int) else shown_name(os.path.basename(str(source)) or str(source))


def is_stream(source):
    return isinstance(source, str) and "://" in source


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


class CaptureThread(threading.Thread):
    def __init__(self, source, loop=False, on_status=None, retry_seconds=1.0, max_retries=None):
        super().__init__(daemon=True, name="capture")
        self.source = parse_source(source)
        self.loop = loop
        self.on_status = on_status or (lambda msg: None)
        self.retry_seconds = retry_seconds
        self.max_retries = max_retries
        self.is_file = not isinstance(self.source, int) and not is_stream(self.source)
        self._stop_event = threading.Event()
        self._running = threading.Event()
        self._running.set()
        self._cond = threading.Condition()
        self._latest = None
        self.frames = 0
        self.retries = 0
        self.finished = False      # the source ended (file without loop, broken file) or gave up
        self.failed = False        # ended because of an error, not a clean end of file
        self.status = ""
        self.on_frame = None       # called with each published Frame (rate meters)

    # -- consumer side ----------------------------------------------------------------------------
    def latest(self, after_index=-1, timeout=0.5):
        """The newest frame newer than after_index, waiting up to timeout; None if none came."""
        with self._cond:
            self._cond.wait_for(lambda: (self._latest is not None and self._latest.index > after_index)
                                or self._stop_event.is_set() or self.finished, timeout)
            f = self._latest
            return f if f is not None and f.index > after_index else None

    def newest_frames(self):
        """Generator of the newest frames, each once, until the source ends or the thread stops."""
        last = -1
        while not self._stop_event.is_set():
            f = self.latest(last, timeout=0.2)
            if f is None:
                if self.finished:
                    return
                continue
            last = f.index
            yield f

    def pause(self, paused):
        (self._running.clear if paused else self._running.set)()

    @property
    def paused(self):
        return not self._running.is_set()

    def stop(self):
        self._stop_event.set()
        self._running.set()
        with self._cond:
            self._cond.notify_all()

    # -- producer side ----------------------------------------------------------------------------
    def _status(self, msg):
        self.status = msg
        self.on_status(msg)

    def _open(self):
        cap = cv2.VideoCapture(opencv_path(self.source) if self.is_file else self.source)
        if cap.isOpened():
            cap.set(cv2.CAP_PROP_BUFFERSIZE, 1)  # newest frame wins, where the backend allows
            return cap
        cap.release()
        return None

    def _give_up(self, msg):
        self.failed = True
        self._status(msg)

    def _retry(self, retrying, giving_up):
        """A camera or stream failed: count it, then wait and say so (True) or give up (False)."""
        self.retries += 1
        if self.max_retries is not None and self.retries > self.max_retries:
            self._give_up(giving_up)
            return False
        self._status(retrying)
        self._stop_event.wait(self.retry_seconds)
        return True

    def run(self):
        name = describe_source(self.source)
        cap = None
        try:
            while not self._stop_event.is_set():
                if cap is None:
                    if self.is_file and not os.path.isfile(self.source):
                        self._give_up(f"cannot open {name}: file not found")
                        break
                    cap = self._open()
                    if cap is None:
                        if self.is_file:
                            self._give_up(f"cannot open {name}: not a readable video")
                            break
                        if not self._retry(f"cannot open {name}; retrying", f"cannot open {name}"):
                            break
                        continue
                    self._status(f"reading {name}")
                    file_fps = cap.get(cv2.CAP_PROP_FPS) if self.is_file else 0
                    period = 1.0 / file_fps if file_fps and file_fps < 240 else 0
                    total = int(cap.get(cv2.CAP_PROP_FRAME_COUNT)) if self.is_file else 0
                    next_time = time.monotonic()
                if self.is_file and not self._running.is_set():
                    self._running.wait()  # paused: a file does not advance
                    next_time = time.monotonic()
                    continue
                t0 = time.perf_counter()
                ok, image = cap.read()
                read_ms = (time.perf_counter() - t0) * 1000
                if not ok:
                    pos = int(cap.get(cv2.CAP_PROP_POS_FRAMES)) if self.is_file else 0
                    cap.release()
                    cap = None
                    if self.is_file:
                        if total and pos >= total - 1:  # a clean end of file
                            if self.loop:
                                continue
                            self._status(f"end of {name}")
                        else:
                            self._give_up(f"{name} is broken: it stopped decoding after {pos} frames")
                        break
                    if not self._retry(f"{name} failed after {self.frames} frames; reconnecting (retry {self.retries + 1})",
                                       f"{name} failed; gave up after {self.max_retries} retries"):
                        break
                    continue
                if not self._running.is_set():
                    continue  # a paused camera: keep its buffer fresh, publish nothing
                self.frames += 1
                frame = Frame(image, self.frames, captured_at=time.monotonic(), decode_ms=read_ms)
                with self._cond:
                    self._latest = frame
                    self._cond.notify_all()
                if self.on_frame:
                    self.on_frame(frame)
                if period:  # a file plays at its own rate, like a camera
                    next_time += period
                    self._stop_event.wait(max(0.0, next_time - time.monotonic()))
        finally:
            if cap is not None:
                cap.release()
            self.finished = True
            with self._cond:
                self._cond.notify_all()
