"""Recording the shown stream to MP4 from a background thread. Each frame is written at the
wall-clock time it was shown, so the file lasts as long as the recording did, whatever the display
rate. The caller never waits: frames are dropped when the disk is slower than the display, and a
write error (disk full) stops the recording and is kept in `error` for the caller to report."""
import os
import time

import av

from .screenshots import unique_stem
from .errors import VideoError, disk_error
from .video_io import BackgroundWriter, VideoWriter

NOMINAL_RATE = 30  # the stream's nominal rate; actual frame times come from the clock


QUEUE_BYTES = 400 * 2 ** 20  # what the frames waiting for the disk may hold, whatever their size


class Recorder:
    def __init__(self, path, width, height, clock=time.monotonic, prepare=None):
        """prepare: what is added -> the BGR picture to write, run in the writer's thread (the live
        window draws there the full-resolution picture of what it showed smaller)."""
        self.path = path
        depth = max(4, min(64, QUEUE_BYTES // (width * height * 3)))
        try:
            self._writer = BackgroundWriter(VideoWriter(path, width, height, NOMINAL_RATE), depth=depth,
                                            prepare=prepare)
        except VideoError as e:
            raise OSError(str(e)) from None
        self._clock = clock
        self.started_at = clock()  # the recording lasts from here to stop(), whatever the display rate
        self.dropped = 0
        self._last = None

    @property
    def error(self):
        e = self._writer.error
        return None if e is None else f"recording stopped: {disk_error(e)}"

    def add(self, frame, shown_at=None):
        """A frame (or what prepare takes) as shown at shown_at (clock seconds; default now)."""
        t = self._clock() if shown_at is None else shown_at
        self._last = frame
        if not self._writer.offer(frame, max(0.0, t - self.started_at)):
            self.dropped += 1  # never block the display on a slow disk

    def stop(self):
        """Finalise: returns the file path, None if nothing was recorded; OSError if it could not be saved."""
        if self._last is not None and self.error is None:
            self.add(self._last)  # the last picture stays until the moment recording stopped
        error = None
        try:
            return self._writer.finish()
        except (OSError, av.FFmpegError) as e:
            error = self.error or f"recording could not be saved: {disk_error(e)}"
        self._writer.discard()
        raise OSError(error)


def recording_name(folder):
    return os.path.join(folder, unique_stem(folder, "s4net_recording") + ".mp4")
