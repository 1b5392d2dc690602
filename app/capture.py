"""The capture thread: reads any source (app/sources.py) and keeps only the newest frame (stale
frames are dropped, so latency cannot build up).

A camera or stream that fails is reported and reopened (they come back). A file plays at its own
frame rate, looping or stopping at the end; a file that is missing or breaks is reported once and
the thread ends (retrying cannot mend it). Paused, a file stops advancing and a camera's frames
are read but not published."""
import os
import threading
import time

from .errors import VideoError
from .sources import Frame, describe_source, is_live, open_source, parse_source


class CaptureThread(threading.Thread):
    def __init__(self, source, loop=False, on_status=None, retry_seconds=1.0, max_retries=None):
        super().__init__(daemon=True, name="capture")
        self.source = parse_source(source)
        self.loop = loop
        self.on_status = on_status or (lambda msg: None)
        self.retry_seconds = retry_seconds
        self.max_retries = max_retries
        self.is_file = not is_live(self.source)
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

    def _publish(self, frame):
        self.frames += 1
        frame = Frame(frame.image, self.frames, frame.time, frame.captured_at or time.monotonic(), frame.decode_ms)
        with self._cond:
            self._latest = frame
            self._cond.notify_all()
        if self.on_frame:
            self.on_frame(frame)

    def _play(self, source):
        """Publishes the source's frames until it ends or the thread stops: a file at its own rate
        (pausing stops it), a camera as fast as it delivers (paused: read, not published)."""
        period = 1.0 / float(source.rate) if not source.live and source.rate and source.rate < 240 else 0
        next_time = time.monotonic()
        it = iter(source)
        while not self._stop_event.is_set():
            if not source.live and not self._running.is_set():
                self._running.wait()  # paused: a file does not advance
                next_time = time.monotonic()
                continue
            t0 = time.perf_counter()
            frame = next(it, None)
            if frame is None:
                return
            if frame.decode_ms is None:
                frame.decode_ms = (time.perf_counter() - t0) * 1000
            if not self._running.is_set():
                continue  # a paused camera: keep its buffer fresh, publish nothing
            self._publish(frame)
            if period:  # a file plays at its own rate, like a camera
                next_time += period
                self._stop_event.wait(max(0.0, next_time - time.monotonic()))

    def run(self):
        name = describe_source(self.source)
        try:
            while not self._stop_event.is_set():
                if self.is_file and not os.path.isfile(self.source):
                    self._give_up(f"cannot open {name}: file not found")
                    break
                try:
                    source = open_source(self.source, kind=None if not self.is_file else "video")
                except VideoError:
                    if self.is_file:
                        self._give_up(f"cannot open {name}: not a readable video")
                        break
                    if not self._retry(f"cannot open {name}; retrying", f"cannot open {name}"):
                        break
                    continue
                self._status(f"reading {name}")
                try:
                    self._play(source)
                finally:
                    source.close()
                if self._stop_event.is_set():
                    break
                if self.is_file:
                    if source.error:
                        self._give_up(f"{name} is broken: it stopped decoding after {source.frames_read} frames")
                    elif self.loop:
                        continue
                    else:
                        self._status(f"end of {name}")
                    break
                if not self._retry(f"{name} failed after {self.frames} frames; reconnecting (retry {self.retries + 1})",
                                   f"{name} failed; gave up after {self.max_retries} retries"):
                    break
        finally:
            self.finished = True
            with self._cond:
                self._cond.notify_all()
