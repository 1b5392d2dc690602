"""The live session, free of Qt: it owns the capture thread, the inference thread (the frame loop
over the newest captured frames), the rate meters, the latency log, recording and screenshots.

A view (the Qt window, a test, a benchmark) starts a source, receives each new Shown (the
result and its picture) through `on_result` (called from the inference thread), tells the session
when it has shown one (`shown`), and reads `status()` for the status bar. User actions (pause,
threshold, style, effect, screenshot, record) are plain method calls that change the one Settings
object the pipeline reads on every frame. Every failure becomes a message through `on_message`,
never an exception in the view.
"""
import threading
import time
from collections import deque
from dataclasses import dataclass
from typing import Optional

from .capture import CaptureThread
from .effects import Effect
from .engine import Engine
from .errors import OutputError
from .frame_loop import results
from .mask_files import make_folder
from .pipeline import Pipeline, Shown
from .recorder import Recorder, recording_name
from .screenshots import save_screenshot
from .selection import Selection
from .settings import Settings
from .sources import parse_source
from .tracking import TrackerSettings


class RateMeter:
    """Events per second over the last `window` seconds: it falls to 0 when events stop
    (paused, end of file, a stalled stream), instead of keeping the last rate."""

    def __init__(self, window=2.0, clock=time.monotonic):
        self.window, self.clock = window, clock
        self.times = deque()
        self._lock = threading.Lock()

    def tick(self, t=None):
        with self._lock:
            self.times.append(self.clock() if t is None else t)
            self._trim(self.times[-1])

    def _trim(self, now):
        while self.times and self.times[0] < now - self.window:
            self.times.popleft()

    def rate(self):
        with self._lock:
            self._trim(self.clock())
            t = self.times
            return (len(t) - 1) / (t[-1] - t[0]) if len(t) > 1 and t[-1] > t[0] else 0.0

    def reset(self):
        with self._lock:
            self.times.clear()


@dataclass
class Status:
    capture_fps: float
    inference_fps: float
    shown_fps: float
    latency_ms: Optional[float]     # median over the last `window` seconds; None when nothing was shown
    provider: str
    model: str
    instances: int
    source: str                     # what the capture says: reading, end of file, failed, ...
    paused: bool
    recording: bool
    effect: str = "overlay"
    selection: str = ""             # which instances are kept ("" = all)

    def text(self):
        """One line, the state first (recording, paused, effect, selection): a narrow window cuts
        the end of the line, which holds the meters."""
        lat = "latency -" if self.latency_ms is None else f"latency {self.latency_ms:.0f} ms"
        state = (["REC"] if self.recording else []) + ["PAUSED" if self.paused else self.source] + \
            ([f"effect {self.effect}"] if self.effect != "overlay" else []) + ([self.selection] if self.selection else [])
        meters = [f"{self.instances} instances", f"shown {self.shown_fps:.1f} fps", lat,
                  f"capture {self.capture_fps:.1f} fps", f"inference {self.inference_fps:.1f} fps", self.provider,
                  self.model]
        return " | ".join(state + meters)


class LiveSession:
    def __init__(self, engine: Engine, settings: Settings = None, shots_folder=".", loop=False,
                 on_result=None, on_message=None, clock=time.monotonic, window=2.0):
        self.engine = engine
        self.settings = settings or Settings()
        self.pipeline = Pipeline(engine, self.settings)
        self.shots_folder = shots_folder
        self.loop = loop
        self.on_result = on_result or (lambda result: None)
        self.on_message = on_message or (lambda text: None)
        self.clock, self.window = clock, window
        self.capture_rate = RateMeter(window, clock)
        self.inference_rate = RateMeter(window, clock)
        self.shown_rate = RateMeter(window, clock)
        self.latencies = deque()                 # (shown at, ms) over the last window, for the status
        self.latency_log = deque(maxlen=20000)   # (shown at, ms) for benchmarks; bounded for long runs
        self.capture = None
        self._inference = None
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._latest = None
        self.last_shown = None
        self.shown_count = 0
        self.recorder = None
        self.message = ""

    # -- sources and threads --------------------------------------------------------------------
    def start(self, source):
        self.stop()
        src = parse_source(source)
        if self.pipeline.tracker:
            self.pipeline.tracker.reset()
        for meter in (self.capture_rate, self.inference_rate, self.shown_rate):
            meter.reset()
        self.latencies.clear()
        self._stop = threading.Event()
        self.capture = CaptureThread(src, loop=self.loop, on_status=self._capture_status)
        self.capture.on_frame = lambda f: self.capture_rate.tick(f.captured_at)
        self._inference = threading.Thread(target=self._run_inference, args=(self.capture, self._stop),
                                           daemon=True, name="inference")
        self.capture.start()
        self._inference.start()

    def _run_inference(self, capture, stop):
        for shown in results(capture.newest_frames(), self.pipeline):
            if stop.is_set():
                break
            self.inference_rate.tick()
            with self._lock:
                self._latest = shown
            self.on_result(shown)

    def stop(self):
        self._stop.set()
        if self.capture is not None:
            self.capture.stop()
        if self._inference is not None:
            self._inference.join(10)
        if self.capture is not None:
            self.capture.join(5)
        self._inference = self.capture = None

    def threads_alive(self):
        return bool((self._inference and self._inference.is_alive()) or (self.capture and self.capture.is_alive()))

    def close(self):
        """Finalise the recording and stop every thread (closing the window, Ctrl-C)."""
        self.stop_recording()
        self.stop()

    def _capture_status(self, msg):
        if self.capture is not None and self.capture.failed:
            self._say(msg)

    def _say(self, text):
        self.message = text
        self.on_message(text)

    # -- what the view shows ----------------------------------------------------------------------
    def latest(self):
        with self._lock:
            return self._latest

    def shown(self, shown: Shown, at=None):
        """The view displayed this frame: meters, latency, and the recording get it."""
        now = self.clock() if at is None else at
        self.last_shown = shown
        self.shown_count += 1
        self.shown_rate.tick(now)
        if shown.result.captured_at is not None:
            ms = (now - shown.result.captured_at) * 1000
            self.latencies.append((now, ms))
            self.latency_log.append((now, ms))
        if self.recorder is not None:
            self.recorder.add(shown, now)
            if self.recorder.error:
                self.stop_recording()

    def status(self):
        now = self.clock()
        while self.latencies and self.latencies[0][0] < now - self.window:
            self.latencies.popleft()
        lat = sorted(ms for _, ms in self.latencies)
        paused = bool(self.capture and self.capture.paused)
        return Status(self.capture_rate.rate(), self.inference_rate.rate(), self.shown_rate.rate(),
                      lat[len(lat) // 2] if lat else None, self.engine.provider,
                      self.engine.model_path.rsplit("/", 1)[-1],
                      len(self.last_shown.result) if self.last_shown else 0,
                      self.capture.status if self.capture else "no source", paused, self.recorder is not None,
                      self.settings.effect.name, self.settings.selection.describe())

    # -- user actions -------------------------------------------------------------------------------
    def pause(self, paused):
        if self.capture is not None:
            self.capture.pause(paused)

    def set_view_size(self, width, height):
        """The size (device pixels) the pictures are shown at: masks are made, refined and drawn at
        that size, from the next frame (None: at the source's own)."""
        self.pipeline.work_size = (int(width), int(height)) if width and height else None

    @property
    def threshold(self):
        """The score an instance needs to be shown now."""
        return self.engine.score_threshold if self.settings.threshold is None else self.settings.threshold

    def set_threshold(self, value):
        self.settings.threshold = float(value)

    def set_smoothing(self, on):
        self.settings.set_smoothing(on)

    @property
    def steady(self):
        return self.settings.steady

    def set_steady(self, on):
        """Steady instances (on: confirmation, persistence, weaker detections continuing tracks,
        merged parts, held edges, as set) or every detection shown as the graph gives it (off); the
        smoothing stays as it is."""
        self.settings.set_steady(on)

    def set_tracking(self, settings: TrackerSettings):
        """New tracker settings from the next frame; the tracks and their ids are kept."""
        self.settings.tracking = settings.check()

    def set_refine(self, on):
        """Masks refined along the frame's edges (on) or as the graph gives them, from the next frame."""
        self.settings.refine = bool(on)

    @property
    def style(self):
        return self.settings.style

    def set_effect(self, effect: Effect):
        self.settings.effect = effect

    def pick(self, x, y, add=False):
        """Keep only the instance at frame pixel (x, y) (add: toggle it among those kept); the
        choice follows its track id. Returns the id, or 0 when there is no instance there."""
        shown = self.last_shown
        if shown is None:
            return 0
        track_id = shown.whole.id_at(int(x), int(y))
        if track_id:
            self.settings.selection = self.settings.selection.toggled(track_id, add)
            self._say(self.settings.selection.describe() or "showing all instances")
        return track_id

    def clear_selection(self):
        self.settings.selection = Selection(frozenset(), self.settings.selection.largest)
        self._say("showing all instances")

    def screenshot(self):
        """Saves the last shown result; returns the paths, or None (and a message) when it cannot."""
        if self.last_shown is None:
            self._say("nothing to capture yet")
            return None
        try:
            full = self.pipeline.full_size(self.last_shown)  # the source's resolution, not the view's
            paths = save_screenshot(self.shots_folder, full.result, full.picture)
        except OutputError as e:
            self._say(f"screenshot failed: {e}")
            return None
        self._say(f"screenshot: {len(paths)} files in {self.shots_folder}")
        return paths

    def start_recording(self):
        if self.recorder is not None:
            return True
        if self.last_shown is None:
            self._say("nothing to record yet")
            return False
        try:
            make_folder(self.shots_folder, "recording folder")
            shown = self.last_shown
            h, w = shown.full_frame.shape[:2]
            # drawn at the source's resolution in the recorder's thread, as the screenshots are
            self.recorder = Recorder(recording_name(self.shots_folder), w, h, clock=self.clock,
                                     prepare=lambda s: self.pipeline.full_size(s).picture)
        except (OutputError, OSError) as e:
            self._say(f"cannot record: {e}")
            return False
        self.recorder.add(self.last_shown)  # the picture on screen when recording starts
        self._say(f"recording to {self.recorder.path}")
        return True

    def stop_recording(self):
        """Finalise the recording; returns its path or None."""
        rec, self.recorder = self.recorder, None
        if rec is None:
            return None
        try:
            path = rec.stop()
        except OSError as e:
            self._say(str(e))
            return None
        dropped = f" ({rec.dropped} frames dropped: the disk was slower than the display)" if rec.dropped else ""
        self._say(f"recording saved: {path}{dropped}" if path else "recording empty")
        return path
