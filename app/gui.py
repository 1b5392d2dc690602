"""The live window: capture thread -> inference worker -> this GUI thread, which only draws.

Shortcuts are listed in Help > Shortcuts (F1)."""
import os
import signal
import statistics
import sys
import time
from collections import deque

import cv2
from PyQt5.QtCore import Qt, QTimer
from PyQt5.QtGui import QImage, QKeySequence, QPixmap
from PyQt5.QtWidgets import (QAction, QApplication, QCheckBox, QComboBox, QFileDialog, QHBoxLayout, QLabel,
                             QMainWindow, QMessageBox, QPushButton, QSizePolicy, QSlider, QVBoxLayout, QWidget)

from .capture import CaptureThread, describe_source, find_cameras, parse_source
from .drawing import DrawStyle
from .engine import Engine, EngineError
from .pipeline import Pipeline
from .recorder import Recorder, recording_name
from .screenshots import default_folder, save_screenshot
from .worker import InferenceWorker

SHORTCUTS = [("Space", "pause / resume"), ("S", "screenshot"), ("R", "start / stop recording"),
             ("F / F11", "full screen"), ("C", "contours"), ("B", "boxes"), ("M", "temporal smoothing"),
             ("+ / -", "score threshold up / down"), ("Ctrl+O", "open a video file"), ("Q", "quit")]


def to_pixmap(bgr):
    h, w = bgr.shape[:2]
    image = QImage(bgr.data, w, h, bgr.strides[0], QImage.Format_BGR888)
    return QPixmap.fromImage(image)


class MainWindow(QMainWindow):
    def __init__(self, engine: Engine, source="0", loop=False, shots=None, style=None, smoothing=True,
                 scan_cameras=True):
        super().__init__()
        self.engine = engine
        self.pipeline = Pipeline(engine, style or DrawStyle(), smoothing=smoothing)
        self.shots = shots or default_folder()
        self.loop = loop
        self.capture = None
        self.worker = None
        self.recorder = None
        self.shown = 0
        self.shown_index = -1
        self.display_times = deque(maxlen=60)
        self.latencies = deque(maxlen=300)      # ms, capture -> display
        self.latency_log = deque(maxlen=20000)  # (time, ms) for the benchmark; bounded for long runs
        self.capture_status = ""
        self.last_result = None
        self.setWindowTitle("S4Net - salient instances")
        self._build_ui(scan_cameras)
        self.status_timer = QTimer(self, interval=500, timeout=self._update_status)
        self.status_timer.start()
        self.start_source(source)

    # -- layout ---------------------------------------------------------------------------------
    def _build_ui(self, scan_cameras):
        self.view = QLabel("starting...", alignment=Qt.AlignCenter)
        self.view.setSizePolicy(QSizePolicy.Ignored, QSizePolicy.Ignored)
        self.view.setMinimumSize(320, 240)
        self.view.setStyleSheet("background: #111; color: #ddd; font-size: 16px;")
        self.source_box = QComboBox()
        self.scanned_cameras = scan_cameras
        self.cameras = find_cameras() if scan_cameras else []
        for i in self.cameras:
            self.source_box.addItem(f"Camera {i}", i)
        self.source_box.addItem("Open file...", None)
        self.source_box.activated.connect(self._source_picked)
        self.threshold = QSlider(Qt.Horizontal, minimum=5, maximum=95, value=int(self.engine.score_threshold * 100))
        self.threshold.valueChanged.connect(self._threshold_changed)
        self.threshold_label = QLabel()
        self.alpha = QSlider(Qt.Horizontal, minimum=0, maximum=100, value=int(self.pipeline.style.alpha * 100))
        self.alpha.valueChanged.connect(lambda v: setattr(self.pipeline.style, "alpha", v / 100))
        self.contours = QCheckBox("Contours", checked=self.pipeline.style.contours)
        self.contours.toggled.connect(lambda v: setattr(self.pipeline.style, "contours", v))
        self.boxes = QCheckBox("Boxes", checked=self.pipeline.style.boxes)
        self.boxes.toggled.connect(lambda v: setattr(self.pipeline.style, "boxes", v))
        self.smoothing = QCheckBox("Smoothing", checked=self.pipeline.tracker.smoothing)
        self.smoothing.toggled.connect(lambda v: setattr(self.pipeline.tracker, "smoothing", v))
        self.pause_btn = QPushButton("Pause", checkable=True)
        self.pause_btn.toggled.connect(self.set_paused)
        self.shot_btn = QPushButton("Screenshot")
        self.shot_btn.clicked.connect(self.screenshot)
        self.rec_btn = QPushButton("Record", checkable=True)
        self.rec_btn.toggled.connect(self.set_recording)
        for slider in (self.threshold, self.alpha):
            slider.setMinimumWidth(140)
        controls, buttons = QHBoxLayout(), QHBoxLayout()
        for w in (QLabel("Source"), self.source_box, QLabel("Threshold"), self.threshold, self.threshold_label,
                  QLabel("Alpha"), self.alpha):
            controls.addWidget(w)
        for w in (self.contours, self.boxes, self.smoothing, self.pause_btn, self.shot_btn, self.rec_btn):
            buttons.addWidget(w)
        self._threshold_changed(self.threshold.value())
        central = QWidget()
        layout = QVBoxLayout(central)
        layout.addWidget(self.view, 1)
        layout.addLayout(controls)
        layout.addLayout(buttons)
        self.setCentralWidget(central)
        self.status = QLabel()
        self.statusBar().addWidget(self.status, 1)
        self.message = QLabel()
        self.statusBar().addPermanentWidget(self.message)
        self.resize(1000, 700)

        def action(menu, text, keys, slot):
            a = QAction(text, self)
            a.setShortcuts([QKeySequence(k) for k in keys])
            a.triggered.connect(slot)
            menu.addAction(a)
            self.addAction(a)
            return a
        file_menu = self.menuBar().addMenu("&File")
        action(file_menu, "Open video file...", ["Ctrl+O"], self.open_file)
        action(file_menu, "Screenshot", ["S"], self.screenshot)
        action(file_menu, "Record", ["R"], self.rec_btn.toggle)
        action(file_menu, "Quit", ["Q", "Ctrl+Q"], self.close)
        view_menu = self.menuBar().addMenu("&View")
        action(view_menu, "Pause", ["Space"], self.pause_btn.toggle)
        action(view_menu, "Full screen", ["F", "F11"], self.toggle_full_screen)
        action(view_menu, "Contours", ["C"], self.contours.toggle)
        action(view_menu, "Boxes", ["B"], self.boxes.toggle)
        action(view_menu, "Smoothing", ["M"], self.smoothing.toggle)
        action(view_menu, "Threshold up", ["+", "="], lambda: self.threshold.setValue(self.threshold.value() + 5))
        action(view_menu, "Threshold down", ["-"], lambda: self.threshold.setValue(self.threshold.value() - 5))
        help_menu = self.menuBar().addMenu("&Help")
        action(help_menu, "Shortcuts", ["F1"], self.show_help)

    # -- sources and threads ----------------------------------------------------------------------
    def start_source(self, source):
        self.stop_threads()
        src = parse_source(source)
        if isinstance(src, int) and self.scanned_cameras and src not in self.cameras:
            self.view.setText(f"No camera found (camera {src}).\nOpen a video file with Ctrl+O or File > Open.")
            self.capture_status = "no camera"
            return
        self.source_name = describe_source(src)
        self.pipeline.tracker.reset()
        self.capture = CaptureThread(src, loop=self.loop, on_status=self._on_capture_status)
        self.worker = InferenceWorker(self.pipeline, self.capture)
        self.worker.result_ready.connect(self._show_latest)
        self.capture.start()
        self.worker.start()

    def stop_threads(self):
        if self.worker is not None:
            self.worker.stop()
        if self.capture is not None:
            self.capture.stop()
        if self.worker is not None:
            self.worker.wait(5000)
        if self.capture is not None:
            self.capture.join(5)
        self.worker = self.capture = None

    def threads_alive(self):
        return bool((self.worker and self.worker.isRunning()) or (self.capture and self.capture.is_alive()))

    def _on_capture_status(self, msg):
        self.capture_status = msg  # called from the capture thread: just store it

    def _source_picked(self, i):
        data = self.source_box.itemData(i)
        if data is None:
            self.open_file()
        else:
            self.start_source(str(data))

    def open_file(self):
        path, _ = QFileDialog.getOpenFileName(self, "Open video", "", "Videos (*.mp4 *.avi *.mov *.mkv *.webm);;All (*)")
        if path:
            self.start_source(path)

    # -- display ----------------------------------------------------------------------------------
    def _show_latest(self):
        result = self.worker.latest() if self.worker else None
        if result is None or result.capture_index == self.shown_index:
            return
        self.shown_index = result.capture_index
        self.last_result = result
        pix = to_pixmap(result.overlay)
        self.view.setPixmap(pix.scaled(self.view.size(), Qt.KeepAspectRatio, Qt.FastTransformation))
        now = time.monotonic()
        latency = (now - result.capture_time) * 1000
        self.latencies.append(latency)
        self.latency_log.append((now, latency))
        self.display_times.append(now)
        self.shown += 1
        if self.recorder:
            self.recorder.add(result.overlay)

    def display_fps(self):
        t = self.display_times
        return (len(t) - 1) / (t[-1] - t[0]) if len(t) > 1 and t[-1] > t[0] else 0.0

    def _update_status(self):
        lat = statistics.median(self.latencies) if self.latencies else 0
        n = len(self.last_result.instances) if self.last_result else 0
        cap_fps = self.capture.fps if self.capture else 0
        inf_fps = self.worker.fps if self.worker else 0
        text = (f"capture {cap_fps:.1f} fps | inference {inf_fps:.1f} fps | shown {self.display_fps():.1f} fps | "
                f"latency {lat:.0f} ms | {self.engine.provider} | {os.path.basename(self.engine.model_path)} | "
                f"{n} instances | {self.capture_status}")
        if self.recorder:
            text += " | REC"
        self.status.setText(text)

    # -- controls ---------------------------------------------------------------------------------
    def _threshold_changed(self, v):
        self.engine.score_threshold = v / 100
        self.threshold_label.setText(f"{v / 100:.2f}")

    def set_paused(self, paused):
        if self.worker:
            self.worker.paused = paused
        self.pause_btn.setText("Resume" if paused else "Pause")

    def toggle_full_screen(self):
        self.showNormal() if self.isFullScreen() else self.showFullScreen()

    def show_help(self):
        QMessageBox.information(self, "Shortcuts", "\n".join(f"{k:<10} {v}" for k, v in SHORTCUTS))

    def screenshot(self):
        result = self.last_result
        if result is None:
            self.message.setText("nothing to capture yet")
            return None
        try:
            paths = save_screenshot(self.shots, result)
        except OSError as e:
            self.message.setText(f"screenshot failed: {e}")
            return None
        self.message.setText(f"screenshot: {len(paths)} files in {self.shots}")
        return paths

    def set_recording(self, on):
        if on and self.recorder is None:
            result = self.last_result
            if result is None:
                self.message.setText("nothing to record yet")
                self.rec_btn.setChecked(False)
                return
            os.makedirs(self.shots, exist_ok=True)
            h, w = result.overlay.shape[:2]
            fps = max(1.0, round(self.display_fps())) or 15
            self.recorder = Recorder(recording_name(self.shots), w, h, fps)
            self.rec_btn.setText("Stop recording")
            self.message.setText(f"recording to {self.recorder.path}")
        elif not on and self.recorder is not None:
            self.finish_recording()

    def finish_recording(self):
        if self.recorder is None:
            return None
        rec, self.recorder = self.recorder, None
        path = rec.stop()
        self.rec_btn.blockSignals(True)
        self.rec_btn.setChecked(False)
        self.rec_btn.blockSignals(False)
        self.rec_btn.setText("Record")
        self.message.setText(f"recording saved: {path}" if path else "recording empty")
        return path

    def closeEvent(self, event):
        self.finish_recording()
        self.stop_threads()
        self.status_timer.stop()
        super().closeEvent(event)


def run_gui(args):
    from .video_cli import UserError
    if sys.platform.startswith("linux") and not (os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")
                                                 or os.environ.get("QT_QPA_PLATFORM")):
        raise UserError("no display for the window (run it in a desktop session or under xvfb-run; "
                        "for files use --video or --image)")
    app = QApplication.instance() or QApplication([])
    try:
        engine = Engine(args.model, args.device, args.threshold, args.max_instances, log=print)
    except EngineError as e:
        raise UserError(str(e)) from None
    print(f"model {engine.describe()}")
    style = DrawStyle(alpha=args.alpha, contours=not args.no_contours, boxes=args.boxes)
    win = MainWindow(engine, args.source, loop=args.loop, shots=args.shots, style=style,
                     smoothing=not args.no_smoothing)
    win.show()
    # Ctrl-C in the terminal closes the window cleanly (recording finalised, threads stopped)
    signal.signal(signal.SIGINT, lambda *_: win.close())
    keepalive = QTimer(interval=200, timeout=lambda: None)  # lets Python run its signal handlers
    keepalive.start()
    return app.exec_()
