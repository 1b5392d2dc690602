"""Every choice a user makes, in one object: built once from the command line (`from_args`), by
the Python API or a benchmark; changed by the live window through its session; read on every frame
by the pipeline (engine threshold and refinement, tracker, selection, effect and drawing).

The model, device and instance limit are read when the engine opens; everything else applies from
the next frame when changed.
"""
import dataclasses
from dataclasses import dataclass, field
from typing import Optional

from .drawing import DrawStyle
from .effects import Effect
from .selection import Selection
from .tracking import PLAIN, TrackerSettings


@dataclass
class Settings:
    # the engine (read when it opens)
    model: Optional[str] = None            # an S4Net ONNX graph (None: the bundled one)
    device: str = "auto"                   # auto, cuda or cpu
    max_instances: Optional[int] = None    # None: the model's limit
    # each frame
    threshold: Optional[float] = None      # the score an instance needs to be shown (None: the model's)
    refine: bool = True                    # masks follow the frame's edges (contracts.refine)
    tracking: TrackerSettings = field(default_factory=TrackerSettings)
    selection: Selection = field(default_factory=Selection)
    effect: Effect = field(default_factory=Effect)
    style: DrawStyle = field(default_factory=DrawStyle)
    # what "steady" means while the live window's Steady box is off (tracking is then PLAIN)
    steady_tracking: Optional[TrackerSettings] = None

    def __post_init__(self):
        self.tracking.check()

    @property
    def steady(self):
        """The tracker confirms, holds and merges (off: every detection shown as the graph gives it)."""
        return self.tracking != dataclasses.replace(PLAIN, smoothing=self.tracking.smoothing)

    def set_steady(self, on):
        if on == self.steady:
            return
        if not on:
            self.steady_tracking = self.tracking
        steady = self.steady_tracking or TrackerSettings()
        self.tracking = dataclasses.replace(steady if on else PLAIN, smoothing=self.tracking.smoothing)

    def set_smoothing(self, on):
        self.tracking = dataclasses.replace(self.tracking, smoothing=bool(on))

    @classmethod
    def from_args(cls, args):
        """The settings of a parsed command line (app.cli.build_parser; args.effect already an Effect)."""
        changes = {"smoothing": not args.no_smoothing}
        for name, value in (("low_threshold", args.track_threshold), ("confirm_frames", args.confirm_frames),
                            ("persist_frames", args.persist_frames)):
            if value is not None:
                changes[name] = value
        if args.no_merge:
            changes["merge_frames"] = 0
        return cls(model=args.model, device=args.device, max_instances=args.max_instances,
                   threshold=args.threshold, refine=not args.raw_masks,
                   tracking=dataclasses.replace(TrackerSettings(), **changes),
                   selection=Selection(args.keep_ids or frozenset(), args.keep_largest or 0),
                   effect=args.effect,
                   style=DrawStyle(alpha=args.alpha, contours=not args.no_contours, boxes=args.boxes))
