"""Per-frame files the video and image commands write beside their main output. Each kind is one
entry of FRAME_WRITERS (its command-line option and the writer it makes), so a new per-frame format
is one entry here and its test; the commands and the parser read the registry.

A writer takes `add(result, name=None)` per frame (name: the still image's output stem), then
`finish()` (returns its index file) or, when the run fails, `discard()` (removes what it wrote).
"""
import os
from dataclasses import dataclass
from typing import Callable

from .errors import OutputError, UserError
from .mask_files import MaskWriter


@dataclass(frozen=True)
class FrameWriterKind:
    option: str        # the command-line option, whose value is the folder to write into
    help: str
    make: Callable     # (folder, source path) -> writer


FRAME_WRITERS = {
    "save_masks": FrameWriterKind("--save-masks", "write per-frame id PNGs and masks.json here", MaskWriter),
}


def add_arguments(group):
    for kind in FRAME_WRITERS.values():
        group.add_argument(kind.option, metavar="DIR", help=kind.help)


class FrameWriters:
    """The per-frame writers a command line asked for, driven together."""

    def __init__(self, args, source):
        self.writers = []
        try:
            for dest, kind in FRAME_WRITERS.items():
                folder = getattr(args, dest, None)
                if folder:
                    self.writers.append(kind.make(folder, os.path.abspath(source)))
        except OutputError as e:
            raise UserError(str(e)) from None

    def __bool__(self):
        return bool(self.writers)

    def add(self, result, name=None):
        for w in self.writers:
            w.add(result, name)

    def finish(self):
        return [w.finish() for w in self.writers]

    def discard(self):
        for w in self.writers:
            w.discard()
