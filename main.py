"""S4Net salient-instance segmentation: the one entry point.

    python main.py                                   live window on webcam 0
    python main.py --source clip.mp4                 live window on a video file (or rtsp://...)
    python main.py --video in.mp4 --out out.mp4      render a whole video with masks burned in
    python main.py --image photo.jpg|folder          annotate still images
"""
import argparse
import sys


def build_parser():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    io = p.add_argument_group("what to process (default: the live window on camera 0)")
    io.add_argument("--video", help="input video file to render")
    io.add_argument("--out", help="output video (with --video) or image/folder (with --image)")
    io.add_argument("--image", help="an image or a folder of images")
    io.add_argument("--source", default="0", help="live window source: camera index, video file or URL")
    io.add_argument("--loop", action="store_true", help="live window: loop a video file source")
    io.add_argument("--shots", help="live window: screenshot folder (default: ~/Pictures/s4net)")
    io.add_argument("--save-masks", metavar="DIR", help="write per-frame id PNGs and masks.json here")
    m = p.add_argument_group("model")
    m.add_argument("--model", help="S4Net ONNX graph (default: assets/s4net.onnx)")
    m.add_argument("--device", default="auto", choices=["auto", "cuda", "cpu"])
    m.add_argument("--threshold", type=float, help="score threshold (default: the model's)")
    m.add_argument("--max-instances", type=int, help="at most this many instances per frame")
    d = p.add_argument_group("drawing")
    d.add_argument("--alpha", type=float, default=0.5, help="mask fill opacity 0..1")
    d.add_argument("--no-contours", action="store_true")
    d.add_argument("--boxes", action="store_true", help="draw boxes with id and score")
    d.add_argument("--no-smoothing", action="store_true", help="no temporal smoothing of masks")
    return p


def main(argv=None):
    args = build_parser().parse_args(argv)
    if not 0 <= args.alpha <= 1:
        sys.exit("error: --alpha must be between 0 and 1")
    if args.threshold is not None and not 0 <= args.threshold < 1:
        sys.exit("error: --threshold must be in [0, 1)")
    if args.max_instances is not None and args.max_instances < 1:
        sys.exit("error: --max-instances must be at least 1")
    from app.video_cli import UserError
    try:
        if args.video:
            from app.video_cli import run_video
            return run_video(args)
        if args.image:
            from app.video_cli import run_images
            return run_images(args)
        from app.gui import run_gui
        return run_gui(args)
    except UserError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
