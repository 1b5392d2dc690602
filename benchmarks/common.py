"""Helpers shared by the benchmarks: test clips made from the bundled sample."""
import os
import subprocess

import imageio_ffmpeg

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SAMPLE = os.path.join(ROOT, "assets", "sample.mp4")


def scaled_sample(out_path, width, height):
    """The bundled sample clip re-encoded at another size (with its audio)."""
    if not os.path.exists(out_path):
        subprocess.run([imageio_ffmpeg.get_ffmpeg_exe(), "-y", "-loglevel", "error", "-i", SAMPLE,
                        "-vf", f"scale={width}:{height}", "-c:v", "libx264", "-pix_fmt", "yuv420p", "-c:a", "copy",
                        out_path], check=True)
    return out_path
