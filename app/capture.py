"""The capture thread: reads a camera, a video file or a stream with OpenCV and keeps only the
newest frame (stale frames are dropped, so latency cannot build up). A source that fails is
reported and reopened; a file plays at its own frame rate, looping or stopping at the end."""
import os
import sys
import threading
import time
from dataclasses import dataclass

import cv2


@dataclass
class CapturedFrame:
    image: object      # BGR uint8
    index: int         # frames captured since start
    timestamp: float   # time.monotonic() when it was read


def parse_source(source):
    """'0' -> camera 0; anything else is a file path or URL."""
    s = str(source)
    return int(s) if s.isdigit() else s


def describe_source(source):
    return f"camera {source}" if isinstance(source, int) else os.path.basename(str(source)) or str(source)


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
        self.is_file = isinstance(self.source, str) and os.path.isfile(self.source)
        self._stop_event = threading.Event()
        self._cond = threading.Condition()
        self._latest = None
        self.frames = 0
        self.retries = 0
        self.finished = False      # the source ended (file without loop) or gave up
        self.fps = 0.0             # measured capture rate
        self.last_status = ""

    # -- consumer side ----------------------------------------------------------------------------
    def latest(self, after_index=-1, timeout=0.5):
        """The newest frame newer than after_index, waiting up to timeout; None if none came."""
        with self._cond:
            self._cond.wait_for(lambda: (self._latest is not None and self._latest.index > after_index)
                                or self._stop_event.is_set() or self.finished, timeout)
            f = self._latest
            return f if f is not None and f.index > after_index else None

    def stop(self):
        self._stop_event.set()
        with self._cond:
            self._cond.notify_all()

    # -- producer side ----------------------------------------------------------------------------
    def _status(self, msg):
        self.last_status = msg
        self.on_status(msg)

    def _open(self):
        cap = cv2.VideoCapture(self.source)
        if cap.isOpened():
            cap.set(cv2.CAP_PROP_BUFFERSIZE, 1)  # newest frame wins, where the backend allows
            return cap
        cap.release()
        return None

    def run(self):
        name = describe_source(self.source)
        cap = None
        times = []
        while not self._stop_event.is_set():
            if cap is None:
                cap = self._open()
                if cap is None:
                    self.retries += 1
                    self._status(f"cannot open {name}; retrying" if self.max_retries is None or
                                 self.retries <= self.max_retries else f"cannot open {name}")
                    if self.max_retries is not None and self.retries > self.max_retries:
                        break
                    self._stop_event.wait(self.retry_seconds)
                    continue
                self._status(f"reading {name}")
                file_fps = cap.get(cv2.CAP_PROP_FPS) if self.is_file else 0
                period = 1.0 / file_fps if file_fps and file_fps < 240 else 0
                total = int(cap.get(cv2.CAP_PROP_FRAME_COUNT)) if self.is_file else 0
                next_time = time.monotonic()
            ok, image = cap.read()
            if not ok:
                pos = int(cap.get(cv2.CAP_PROP_POS_FRAMES)) if self.is_file else 0
                cap.release()
                cap = None
                if self.is_file and total and pos >= total - 1:  # a clean end of file
                    if self.loop:
                        continue
                    self._status(f"end of {name}")
                    break
                self.retries += 1
                if self.max_retries is not None and self.retries > self.max_retries:
                    self._status(f"{name} failed; giving up after {self.max_retries} retries")
                    break
                self._status(f"{name} failed after {self.frames} frames; reconnecting (retry {self.retries})")
                self._stop_event.wait(self.retry_seconds)
                continue
            now = time.monotonic()
            self.frames += 1
            times.append(now)
            times = times[-30:]
            if len(times) > 1:
                self.fps = (len(times) - 1) / (times[-1] - times[0])
            with self._cond:
                self._latest = CapturedFrame(image, self.frames, now)
                self._cond.notify_all()
            if period:  # a file plays at its own rate, like a camera
                next_time += period
                self._stop_event.wait(max(0.0, next_time - time.monotonic()))
        if cap is not None:
            cap.release()
        self.finished = True
        with self._cond:
            self._cond.notify_all()
