"""What goes wrong because of what a user gave (a file, a model, a setting), as one line: the
command line prints `error: <line>` and exits 2, the live window shows it, the API raises it.
Each part of the app has its own kind, all of them a UserError."""
import errno


class UserError(Exception):
    """One line a user can act on."""


class EngineError(UserError):
    """The model or the device cannot run."""


class VideoError(UserError):
    """A video or picture source, or a video output, that cannot be used."""


class OutputError(UserError):
    """An output file or folder that cannot be written."""


def first_line(e):
    """An exception's message as one line (FFmpeg's and onnxruntime's run to pages)."""
    text = str(e).strip()
    return text.splitlines()[0][:200] if text else type(e).__name__


def disk_error(e):
    """A write failure a user can act on (disk full, file too large, no permission), in words."""
    code = getattr(e, "errno", None)
    if code in (errno.ENOSPC, errno.EDQUOT):
        return "disk full"
    if code == errno.EFBIG:
        return "file too large for this disk (or over the size limit)"
    return first_line(e)
