"""S4Net salient-instance segmentation: the one entry point (the same as the `s4net` command).

    python main.py                                   live window on webcam 0
    python main.py --source clip.mp4                 live window on a video file (or rtsp://...)
    python main.py --video in.mp4 --out out.mp4      render a whole video with masks burned in
    python main.py --image photo.jpg|folder          annotate still images
"""
import sys

from app.cli import main

if __name__ == "__main__":
    sys.exit(main())
