"""The inference worker: takes the newest captured frame, runs the pipeline (engine, tracker,
drawing) and hands the result to the GUI thread, which only draws. Never queues frames: the GUI
always fetches the newest result, so a slow display cannot build latency."""
import threading
import time

from PyQt5.QtCore import QThread, pyqtSignal

from .pipeline import Pipeline


class InferenceWorker(QThread):
    result_ready = pyqtSignal()
    stopped = pyqtSignal()

    def __init__(self, pipeline: Pipeline, capture):
        super().__init__()
        self.pipeline = pipeline
        self.capture = capture
        self.paused = False
        self._stop_event = threading.Event()
        self._lock = threading.Lock()
        self._latest = None
        self.fps = 0.0
        self._times = []

    def latest(self):
        with self._lock:
            return self._latest

    def stop(self):
        self._stop_event.set()

    def run(self):
        last = -1
        while not self._stop_event.is_set():
            if self.paused:
                self._stop_event.wait(0.05)
                continue
            frame = self.capture.latest(last, timeout=0.2)
            if frame is None:
                if self.capture.finished:
                    break
                continue
            last = frame.index
            result = self.pipeline.process(frame.image)
            result.capture_time = frame.timestamp
            result.capture_index = frame.index
            now = time.monotonic()
            self._times = (self._times + [now])[-30:]
            if len(self._times) > 1:
                self.fps = (len(self._times) - 1) / (self._times[-1] - self._times[0])
            with self._lock:
                self._latest = result
            self.result_ready.emit()
        self.stopped.emit()
