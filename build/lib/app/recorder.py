"""Recording the shown stream to MP4 from a background thread. Each frame is written at the
wall-clock time it was shown, so the file lasts as long as the recording did, whatever the display
rate. The caller never waits: frames are dropped when the disk is slower than the display, and a
write error (disk full) stops the recording and is kept in `error` for the caller to report."""
import os
import queue
import threading
import time

import av

from .screenshots import unique_stem
from .video_io import VideoError, VideoWriter, disk_error

NOMINAL_RATE = 30  # the stream's nominal rate; actual frame times come from the clock


class Recorder:
    def __init__(self, path, width, height, clock=time.monotonic):
        self.path = path
        try:
            self._writer = VideoWriter(path, width, height, NOMINAL_RATE)
        except VideoError as e:
            raise OSError(str(e)) from None
        self._clock = clock
        self._queue = queue.Queue(maxsize=64)
        self.dropped = 0
        self.error = None
        self.started_at = clock()  # the recording lasts from here to stop(), whatever the display rate
        self._last = None
        self._thread = threading.Thread(target=self._run, daemon=True, name="recorder")
        self._thread.start()

    def _run(self):
        while True:
            item = self._queue.get()
            if item is None:
                return
            if self.error is None:  # after an error, drain without writing so add() never blocks
                try:
                    self._writer.write(*item)
                except (OSError, av.FFmpegError) as e:
                    self.error = f"recording stopped: {disk_error(e)}"

    def add(self, frame, shown_at=None):
        """A frame as shown at shown_at (clock seconds; default now)."""
        t = self._clock() if shown_at is None else shown_at
        self._last = frame
        try:
            self._queue.put_nowait((frame, max(0.0, t - self.started_at)))
        except queue.Full:
            self.dropped += 1  # never block the display on a slow disk

    def stop(self):
        """Finalise: returns the file path, None if nothing was recorded; OSError if it could not be saved."""
        if self._last is not None and self.error is None:
            self.add(self._last)  # the last picture stays until the moment recording stopped
        self._queue.put(None)
        self._thread.join()
        if self.error is not None:
            self._writer.discard()
            raise OSError(self.error)
        try:
            return self._writer.finish()
        except (OSError, av.FFmpegError) as e:
            self._writer.discard()
            raise OSError(f"recording could not be saved: {disk_error(e)}") from None


def recording_name(folder):
    return os.path.join(folder, unique_stem(folder, "s4net_recording") + ".mp4")
