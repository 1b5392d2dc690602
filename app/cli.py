"""S4Net salient-instance segmentation: the command line (`python main.py` or `s4net`).

    s4net                                   live window on webcam 0
    s4net --source clip.mp4                 live window on a video file (or rtsp://...)
    s4net --video in.mp4 --out out.mp4      render a whole video with masks burned in
    s4net --image photo.jpg|folder          annotate still images
"""
import argparse
import dataclasses
import signal
import sys

from .tracking import TrackerSettings


def unit_interval(name, closed_top=True):
    def parse(text):
        try:
            v = float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{name} must be a number, not {text!r}") from None
        if not (0 <= v <= 1 if closed_top else 0 <= v < 1):
            raise argparse.ArgumentTypeError(f"{name} must be in [0, 1{']' if closed_top else ')'}, not {v}")
        return v
    return parse


def whole_number(least):
    """argparse type: a whole number of at least `least`."""
    def parse(text):
        try:
            v = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"must be a whole number, not {text!r}") from None
        if v < least:
            raise argparse.ArgumentTypeError(f"must be at least {least}, not {v}")
        return v
    return parse


positive_int, non_negative_int = whole_number(1), whole_number(0)


def tracker_settings(args):
    """The tracker's settings from the command line's arguments."""
    changes = {"smoothing": not args.no_smoothing}
    for name, value in (("low_threshold", args.track_threshold), ("confirm_frames", args.confirm_frames),
                        ("persist_frames", args.persist_frames)):
        if value is not None:
            changes[name] = value
    if args.no_merge:
        changes["merge_frames"] = 0
    return dataclasses.replace(TrackerSettings(), **changes)


def id_list(text):
    try:
        ids = frozenset(int(v) for v in text.split(",") if v.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be ids like 1,3, not {text!r}") from None
    if not ids or min(ids) < 1:
        raise argparse.ArgumentTypeError(f"ids start at 1, not {text!r}")
    return ids


def parse_effect(parser, words):
    """--effect NAME [ARG] -> Effect, or a usage error (exit 2)."""
    from .effects import EFFECTS, Effect, load_background
    name, args = words[0], words[1:]
    if name not in EFFECTS:
        parser.error(f"argument --effect: unknown effect {name!r} (one of {', '.join(EFFECTS)})")
    if len(args) > 1 or (args and name in ("overlay", "cutout")):
        parser.error(f"argument --effect: {name} takes {'no argument' if name in ('overlay', 'cutout') else 'one argument'}")
    try:
        if name == "blur":
            strength = float(args[0]) if args else 15.0
            if not 0 < strength <= 200:
                raise ValueError(f"blur strength must be in (0, 200], not {strength}")
            return Effect("blur", strength=strength)
        if name == "remove":
            colour = args[0].lstrip("#") if args else "00b140"
            if len(colour) != 6:
                raise ValueError(f"colour must be #RRGGBB, not {args[0]!r}")
            r, g, b = (int(colour[i:i + 2], 16) for i in (0, 2, 4))
            return Effect("remove", colour=(b, g, r))
        if name == "replace":
            if not args:
                raise ValueError("replace needs a picture: --effect replace IMAGE")
            return Effect("replace", background=load_background(args[0]))
    except ValueError as e:
        parser.error(f"argument --effect: {e}")
    return Effect(name)


class OneLineParser(argparse.ArgumentParser):
    """A usage error is one line on stderr, `error: ...` with a pointer to --help, and exit 2."""

    def error(self, message):
        self.exit(2, f"error: {message} (see {self.prog} --help)\n")


def build_parser():
    p = OneLineParser(prog="s4net", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    io = p.add_argument_group("what to process (default: the live window on camera 0)")
    io.add_argument("--video", help="input video file to render")
    io.add_argument("--out", help="output video (with --video) or image/folder (with --image)")
    io.add_argument("--image", help="an image or a folder of images")
    io.add_argument("--source", default="0", help="live window source: camera index, video file or URL")
    io.add_argument("--loop", action="store_true", help="live window: loop a video file source")
    io.add_argument("--shots", help="live window: screenshot and recording folder (default: ~/Pictures/s4net)")
    io.add_argument("--save-masks", metavar="DIR", help="write per-frame id PNGs and masks.json here")
    m = p.add_argument_group("model")
    m.add_argument("--model", help="S4Net ONNX graph (default: assets/s4net.onnx)")
    m.add_argument("--device", default="auto", choices=["auto", "cuda", "cpu"])
    m.add_argument("--threshold", type=unit_interval("--threshold", closed_top=False),
                   help="score threshold in [0, 1) (default: the model's)")
    m.add_argument("--max-instances", type=positive_int, help="at most this many instances per frame")
    m.add_argument("--raw-masks", action="store_true",
                   help="masks as the graph gives them, without following the frame's edges (a little faster)")
    d = p.add_argument_group("drawing")
    d.add_argument("--alpha", type=unit_interval("--alpha"), default=0.5, help="mask fill opacity 0..1")
    d.add_argument("--no-contours", action="store_true")
    d.add_argument("--boxes", action="store_true", help="draw boxes with id and score")
    d.add_argument("--effect", nargs="+", metavar=("NAME", "ARG"), default=["overlay"],
                   help="overlay (default) | blur [SIGMA] | remove [#RRGGBB] | replace IMAGE | cutout "
                        "(transparent background: .webm/.mov video, .png images)")
    t = p.add_argument_group("tracking (video and live window; still images are not tracked)")
    t.add_argument("--no-smoothing", action="store_true", help="no temporal smoothing of masks")
    t.add_argument("--track-threshold", type=unit_interval("--track-threshold"), metavar="T",
                   help=f"weaker detections, down to T, continue a shown track but never start one "
                        f"(default {TrackerSettings.low_threshold}; at or above --threshold: off)")
    t.add_argument("--confirm-frames", type=positive_int, metavar="N",
                   help=f"a new instance shows once seen on N frames in a row (default "
                        f"{TrackerSettings.confirm_frames}; 1: at once)")
    t.add_argument("--persist-frames", type=non_negative_int, metavar="N",
                   help=f"a missed instance keeps showing for N frames (default {TrackerSettings.persist_frames})")
    t.add_argument("--no-merge", action="store_true",
                   help="show parts that lie inside another instance as instances of their own")
    k = p.add_argument_group("which instances")
    k.add_argument("--keep-largest", type=positive_int, metavar="N", help="keep the N largest instances per frame")
    k.add_argument("--keep-ids", type=id_list, metavar="ID[,ID...]", help="keep only these track ids (video)")
    return p


def _terminate(signum, frame):
    raise KeyboardInterrupt  # SIGTERM stops as cleanly as Ctrl-C: what was done is finalised


def main(argv=None):
    parser = build_parser()
    args = parser.parse_args(argv)  # usage errors: one line, exit 2
    if args.video and args.image:
        parser.error("--video and --image: give one of them")
    args.effect = parse_effect(parser, args.effect)
    from .video_cli import UserError
    signal.signal(signal.SIGTERM, _terminate)
    try:
        if args.video:
            from .video_cli import run_video
            return run_video(args)
        if args.image:
            from .video_cli import run_images
            return run_images(args)
        from .gui import run_gui
        return run_gui(args)
    except UserError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
