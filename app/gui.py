"""The live window: a thin Qt view of a LiveSession. It builds the widgets, forwards user actions
to the session and shows what the session publishes; capture, inference, meters, recording and
screenshots all live in app/live_session.py.

Shortcuts are listed in Help > Shortcuts (F1)."""
import os
import signal
import sys

from PyQt5.QtCore import QObject, Qt, QTimer, pyqtSignal
from PyQt5.QtGui import QImage, QKeySequence, QPixmap
from PyQt5.QtWidgets import (QAction, QApplication, QCheckBox, QComboBox, QFileDialog, QHBoxLayout, QLabel,
                             QMainWindow, QMessageBox, QPushButton, QSizePolicy, QSlider, QVBoxLayout, QWidget)

from .effects import EFFECTS, Effect, load_background
from .engine import Engine
from .errors import UserError
from .live_session import LiveSession
from .screenshots import default_folder
from .settings import Settings
from .sources import find_cameras, parse_source

SHORTCUTS = [("Space", "pause / resume"), ("S", "screenshot"), ("R", "start / stop recording"),
             ("F / F11", "full screen"), ("C", "contours"), ("B", "boxes"), ("M", "temporal smoothing"),
             ("T", "steady instances (confirmed, held, parts merged) / every detection at once"),
             ("G", "masks follow the frame's edges (refined) / the graph's masks"),
             ("E", "next effect (overlay, blur, remove, replace)"), ("Click", "keep only that instance"),
             ("Ctrl+Click", "add / remove an instance"), ("Esc", "show all instances again"),
             ("+ / -", "score threshold up / down"), ("Ctrl+O", "open a video file"), ("Q", "quit")]
LIVE_EFFECTS = tuple(name for name, kind in EFFECTS.items() if kind.live)


def to_pixmap(bgr):
    h, w = bgr.shape[:2]
    image = QImage(bgr.data, w, h, bgr.strides[0], QImage.Format_BGR888)
    return QPixmap.fromImage(image)


class SessionSignals(QObject):
    """Carries the session's callbacks (from its threads) into the GUI thread."""
    result = pyqtSignal(object)
    message = pyqtSignal(str)


class FrameView(QLabel):
    """The picture; a click reports the frame pixel under the mouse (and whether Ctrl was held), a
    resize the size in device pixels that pictures should have."""
    clicked = pyqtSignal(int, int, bool)
    resized = pyqtSignal(int, int)

    def __init__(self):
        super().__init__("starting...", alignment=Qt.AlignCenter)
        self.frame_size = None  # (h, w) of the frame shown

    def frame_pixel(self, x, y):
        """Widget point -> frame pixel, or None outside the picture (it is centred, aspect kept)."""
        if self.frame_size is None:
            return None
        fh, fw = self.frame_size
        scale = min(self.width() / fw, self.height() / fh)
        ox, oy = (self.width() - fw * scale) / 2, (self.height() - fh * scale) / 2
        fx, fy = (x - ox) / scale, (y - oy) / scale
        return (int(fx), int(fy)) if 0 <= fx < fw and 0 <= fy < fh else None

    def resizeEvent(self, event):
        super().resizeEvent(event)
        ratio = self.devicePixelRatioF()
        self.resized.emit(round(self.width() * ratio), round(self.height() * ratio))

    def show_picture(self, bgr):
        """The picture fitted to the view, aspect kept (it comes at the view's size already, unless
        the source is smaller)."""
        pix = to_pixmap(bgr)
        ratio = self.devicePixelRatioF()
        pix.setDevicePixelRatio(ratio)
        fitted = pix.size().scaled(self.size() * ratio, Qt.KeepAspectRatio)
        if abs(fitted.width() - pix.width()) > 1 and abs(fitted.height() - pix.height()) > 1:
            pix = pix.scaled(fitted, Qt.KeepAspectRatio, Qt.FastTransformation)
            pix.setDevicePixelRatio(ratio)
        self.setPixmap(pix)

    def mousePressEvent(self, event):
        p = self.frame_pixel(event.pos().x(), event.pos().y())
        if p is not None and event.button() == Qt.LeftButton:
            self.clicked.emit(p[0], p[1], bool(event.modifiers() & Qt.ControlModifier))


class MainWindow(QMainWindow):
    def __init__(self, engine: Engine, source="0", loop=False, shots=None, settings: Settings = None,
                 scan_cameras=True):
        super().__init__()
        self.signals = SessionSignals()
        self.session = LiveSession(engine, settings, shots_folder=shots or default_folder(), loop=loop,
                                   on_result=self.signals.result.emit, on_message=self.signals.message.emit)
        self.settings = self.session.settings
        self.backgrounds = {}  # effect name -> Effect, so a chosen picture is kept
        self.signals.result.connect(self._show)
        self.signals.message.connect(self._show_message)
        self.setWindowTitle("S4Net - salient instances")
        self.scanned_cameras = scan_cameras
        self.cameras = find_cameras() if scan_cameras else []
        self._build_ui()
        self.status_timer = QTimer(self, interval=500, timeout=self.update_status)
        self.status_timer.start()
        self.start_source(source)

    # -- layout ---------------------------------------------------------------------------------
    def _build_ui(self):
        s = self.session
        self.view = FrameView()
        self.view.clicked.connect(self.pick)
        self.view.resized.connect(self.session.set_view_size)
        self.view.setSizePolicy(QSizePolicy.Ignored, QSizePolicy.Ignored)
        self.view.setMinimumSize(320, 240)
        self.view.setStyleSheet("background: #111; color: #ddd; font-size: 16px;")
        self.source_box = QComboBox()
        for i in self.cameras:
            self.source_box.addItem(f"Camera {i}", i)
        self.source_box.addItem("Open file...", None)
        self.source_box.activated.connect(self._source_picked)
        self.threshold = QSlider(Qt.Horizontal, minimum=5, maximum=95, value=int(round(s.threshold * 100)))
        self.threshold.valueChanged.connect(self._threshold_changed)
        self.threshold_label = QLabel()
        self.alpha = QSlider(Qt.Horizontal, minimum=0, maximum=100, value=int(s.style.alpha * 100))
        self.alpha.valueChanged.connect(lambda v: setattr(s.style, "alpha", v / 100))
        self.contours = QCheckBox("Contours", checked=s.style.contours)
        self.contours.toggled.connect(lambda v: setattr(s.style, "contours", v))
        self.boxes = QCheckBox("Boxes", checked=s.style.boxes)
        self.boxes.toggled.connect(lambda v: setattr(s.style, "boxes", v))
        self.effect_box = QComboBox()
        self.effect_box.addItems(LIVE_EFFECTS)
        if self.settings.effect.name in LIVE_EFFECTS:
            self.effect_box.setCurrentText(self.settings.effect.name)
        self.effect_box.activated.connect(lambda i: self.set_effect(LIVE_EFFECTS[i]))
        self.smoothing = QCheckBox("Smoothing", checked=self.settings.tracking.smoothing)
        self.smoothing.toggled.connect(s.set_smoothing)
        self.steady = QCheckBox("Steady", checked=s.steady)
        self.steady.setToolTip("new instances confirmed over frames, missed ones held, parts merged "
                               "(off: every detection shown at once)")
        self.steady.toggled.connect(s.set_steady)
        self.edges = QCheckBox("Edges", checked=self.settings.refine)
        self.edges.setToolTip("masks follow the frame's edges (off: the graph's masks as they are)")
        self.edges.toggled.connect(s.set_refine)
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
                  QLabel("Alpha"), self.alpha, QLabel("Effect"), self.effect_box):
            controls.addWidget(w)
        for w in (self.contours, self.boxes, self.smoothing, self.steady, self.edges, self.pause_btn, self.shot_btn, self.rec_btn):
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
        action(view_menu, "Steady instances", ["T"], self.steady.toggle)
        action(view_menu, "Edges", ["G"], self.edges.toggle)
        action(view_menu, "Next effect", ["E"], self.next_effect)
        action(view_menu, "Show all instances", ["Esc"], self.session.clear_selection)
        action(view_menu, "Threshold up", ["+", "="], lambda: self.threshold.setValue(self.threshold.value() + 5))
        action(view_menu, "Threshold down", ["-"], lambda: self.threshold.setValue(self.threshold.value() - 5))
        help_menu = self.menuBar().addMenu("&Help")
        action(help_menu, "Shortcuts", ["F1"], self.show_help)

    # -- sources ----------------------------------------------------------------------------------
    def start_source(self, source):
        src = parse_source(source)
        if isinstance(src, int) and self.scanned_cameras and src not in self.cameras:
            self.session.stop()
            self.view.setText(f"No camera found (camera {src}).\nOpen a video file with Ctrl+O or File > Open.")
            return
        self.pause_btn.setChecked(False)
        self.session.start(src)

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

    # -- what the session publishes -----------------------------------------------------------------
    def _show(self, shown):
        latest = self.session.latest()
        if latest is not shown:  # a newer one is on its way: show only the newest
            return
        self.view.frame_size = shown.result.frame_size
        self.view.show_picture(shown.picture)
        self.session.shown(shown)

    def _show_message(self, text):
        self.message.setText(text)
        capture = self.session.capture
        if capture is not None and capture.failed and self.session.last_shown is None:
            self.view.setText(text)

    def update_status(self):
        self.status.setText(self.session.status().text())
        if self.rec_btn.isChecked() != (self.session.recorder is not None):  # e.g. stopped by a full disk
            self.rec_btn.blockSignals(True)
            self.rec_btn.setChecked(self.session.recorder is not None)
            self.rec_btn.setText("Stop recording" if self.session.recorder else "Record")
            self.rec_btn.blockSignals(False)

    # -- user actions -------------------------------------------------------------------------------
    def _threshold_changed(self, v):
        self.session.set_threshold(v / 100)
        self.threshold_label.setText(f"{v / 100:.2f}")

    def set_paused(self, paused):
        self.session.pause(paused)
        self.pause_btn.setText("Resume" if paused else "Pause")

    def pick(self, x, y, add):
        self.session.pick(x, y, add)

    def set_effect(self, name):
        """Switch the effect; replace asks for a picture the first time."""
        if name == "replace" and "replace" not in self.backgrounds:
            path, _ = QFileDialog.getOpenFileName(self, "Background picture", "",
                                                  "Pictures (*.jpg *.jpeg *.png *.bmp *.webp);;All (*)")
            try:
                self.backgrounds["replace"] = Effect("replace", background=load_background(path)) if path else None
            except ValueError as e:
                self.message.setText(str(e))
                self.backgrounds.pop("replace", None)
            if not self.backgrounds.get("replace"):
                self.backgrounds.pop("replace", None)
                self.effect_box.setCurrentText(self.settings.effect.name)
                return
        effect = self.backgrounds.get(name) or Effect(name)
        self.backgrounds[name] = effect
        self.session.set_effect(effect)
        self.effect_box.setCurrentText(name)

    def next_effect(self):
        current = self.settings.effect.name
        i = LIVE_EFFECTS.index(current) if current in LIVE_EFFECTS else -1
        self.set_effect(LIVE_EFFECTS[(i + 1) % len(LIVE_EFFECTS)])

    def toggle_full_screen(self):
        self.showNormal() if self.isFullScreen() else self.showFullScreen()

    def show_help(self):
        QMessageBox.information(self, "Shortcuts", "\n".join(f"{k:<10} {v}" for k, v in SHORTCUTS))

    def screenshot(self):
        return self.session.screenshot()

    def set_recording(self, on):
        if on:
            on = self.session.start_recording()
        else:
            self.session.stop_recording()
        self.rec_btn.blockSignals(True)
        self.rec_btn.setChecked(on)
        self.rec_btn.setText("Stop recording" if on else "Record")
        self.rec_btn.blockSignals(False)

    def closeEvent(self, event):
        self.status_timer.stop()
        self.session.close()
        super().closeEvent(event)


def run_gui(args, settings: Settings):
    if sys.platform.startswith("linux") and not (os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")
                                                 or os.environ.get("QT_QPA_PLATFORM")):
        raise UserError("no display for the window (run it in a desktop session or under xvfb-run; "
                        "for files use --video or --image)")
    if not EFFECTS[settings.effect.name].live:
        raise UserError(f"the {settings.effect.name} effect is for files (--video OUT.webm|.mov, --image OUT.png)")
    app = QApplication.instance() or QApplication([])
    engine = Engine.for_settings(settings)
    print(f"model {engine.describe()}")
    win = MainWindow(engine, args.source, loop=args.loop, shots=args.shots, settings=settings)
    win.show()
    # Ctrl-C and SIGTERM close the window cleanly (recording finalised, threads stopped)
    signal.signal(signal.SIGINT, lambda *_: win.close())
    signal.signal(signal.SIGTERM, lambda *_: win.close())
    keepalive = QTimer(interval=200, timeout=lambda: None)  # lets Python run its signal handlers
    keepalive.start()
    return app.exec_()
