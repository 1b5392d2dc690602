"""Recording the overlaid stream to MP4 in a background writer thread (the GUI never waits on
the encoder). Frames are written at the rate they are shown; finalised on stop."""
import os
import queue
import threading
import time

from .video_io import VideoWriter


class Recorder:
    def __init__(self, path, width, height, fps):
        self.path = path
        self._writer = VideoWriter(path, width, height, fps)
        self._queue = queue.Queue(maxsize=64)
        self.dropped = 0
        self._thread = threading.Thread(target=self._run, daemon=True, name="recorder")
        self._thread.start()

    def _run(self):
        while True:
            frame = self._queue.get()
            if frame is None:
                break
            self._writer.write(frame)

    def add(self, frame):
        try:
            self._queue.put_nowait(frame)
        except queue.Full:
            self.dropped += 1  # never block the GUI on a slow disk

    def stop(self):
        """Finalise: returns the file path (None if nothing was recorded)."""
        self._queue.put(None)
        self._thread.join()
        return self._writer.finish()


def recording_name(folder):
    return os.path.join(folder, time.strftime("s4net_recording_%Y%m%d_%H%M%S.mp4"))
