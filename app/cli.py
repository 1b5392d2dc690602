"""S4Net salient-instance segmentation: the command line (`python main.py` or `s4net`).

    s4net                                   live window on webcam 0
    s4net --source clip.mp4                 live window on a video file (or rtsp://...)
    s4net --video in.mp4 --out out.mp4      render a whole video with masks burned in
    s4net --image photo.jpg|folder          annotate still images
"""
import argparse
import signal
import sys

from .effects import EFFECTS
from .errors import UserError
from .outputs import add_arguments
from .settings import Settings
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


def id_list(text):
    try:
        ids = frozenset(int(v) for v in text.split(",") if v.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be ids like 1,3, not {text!r}") from None
    if not ids or min(ids) < 1:
        raise argparse.ArgumentTypeError(f"ids start at 1, not {text!r}")
    return ids


def effect_arg(parser, words):
    """--effect NAME [ARG] -> Effect (app.effects.EFFECTS), or a usage error (exit 2)."""
    from .effects import parse_effect
    try:
        return parse_effect(words)
    except ValueError as e:
        parser.error(f"argument --effect: {e}")


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
    add_arguments(io)
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
                   help=" | ".join(f"{name} {'[' * (not k.arg_required)}{k.arg}{']' * (not k.arg_required)}"
                                   .replace(" []", "") + f" ({k.help})" for name, k in EFFECTS.items()))
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
    args.effect = effect_arg(parser, args.effect)
    settings = Settings.from_args(args)
    signal.signal(signal.SIGTERM, _terminate)
    try:
        if args.video:
            from .video_cli import run_video
            return run_video(args, settings)
        if args.image:
            from .image_cli import run_images
            return run_images(args, settings)
        from .gui import run_gui
        return run_gui(args, settings)
    except UserError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
