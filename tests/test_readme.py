"""The README is a user's guide that stays true: short, its commands and its API example run as
written, CI runs exactly its test command, and every file and module it names exists."""
import os
import re
import subprocess
import sys

import cv2
import numpy as np

from conftest import ROOT

README = open(os.path.join(ROOT, "README.md")).read()


def fenced(marker):
    """The fenced block that holds the marker, or else the first one after it."""
    blocks = re.findall(r"```\w*\n(.*?)```", README, re.S)
    inside = [b for b in blocks if marker in b]
    if inside:
        return inside[0]
    return re.search(re.escape(marker) + r".*?```\w*\n(.*?)```", README, re.S).group(1)


def test_the_readme_is_a_guide_of_at_most_300_lines():
    assert len(README.splitlines()) <= 300


def test_ci_runs_exactly_the_readmes_test_command():
    test_command = fenced("# 2.").strip().splitlines()[-1]
    ci = open(os.path.join(ROOT, ".ci", "run")).read().strip().splitlines()
    assert ci[-1] == test_command


def test_the_readmes_main_command_renders_the_bundled_clip(tmp_path):
    command = fenced("# 1.").strip().splitlines()[-1]
    main_part = command.split("&&")[-1].strip()
    assert main_part == ".venv/bin/python main.py --video assets/sample.mp4 --out out.mp4"
    out = tmp_path / "out.mp4"
    r = subprocess.run([sys.executable, os.path.join(ROOT, "main.py"), "--video", os.path.join(ROOT, "assets", "sample.mp4"),
                        "--out", str(out), "--device", "cpu"], capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stderr
    assert re.search(r"^132 frames -> .* fps \| provider CPUExecutionProvider", r.stdout, re.M), r.stdout
    cap = cv2.VideoCapture(str(out))
    assert int(cap.get(cv2.CAP_PROP_FRAME_COUNT)) == 132


def test_readme_api_example_runs_as_written(tmp_path):
    code = re.search(r"<!-- api-example -->\s*```python\n(.*?)```", README, re.S).group(1)
    assert len(code.strip().splitlines()) <= 12
    os.symlink(os.path.join(ROOT, "assets"), tmp_path / "assets")  # run where a user would: beside assets/
    env = dict(os.environ, PYTHONPATH=ROOT)
    r = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, env=env, capture_output=True, text=True,
                       timeout=300)
    assert r.returncode == 0, r.stderr
    assert re.search(r"frame 0: [1-9]\d* instances", r.stdout) and "CPUExecutionProvider" in r.stdout
    ids = cv2.imread(str(tmp_path / "ids.png"), cv2.IMREAD_UNCHANGED)
    assert ids.dtype == np.uint16 and ids.max() >= 1 and (tmp_path / "overlay.png").exists()


def test_every_file_and_module_the_readme_names_exists():
    flow = fenced("## How a frame flows")
    layout = fenced("## Repository layout")
    modules = set(re.findall(r"([a-z_]+\.py)\b", flow + layout))
    files = {f for _, _, fs in os.walk(ROOT) for f in fs if f.endswith(".py")}
    assert modules and modules <= files, modules - files
    for path in re.findall(r"`((?:docs|assets|app|contracts|model|export|benchmarks|tools|tests)/[\w./-]+)`", README):
        assert os.path.exists(os.path.join(ROOT, path)), path
    for path in re.findall(r"\]\(((?:docs)/[\w./-]+)\)", README):
        assert os.path.exists(os.path.join(ROOT, path)), path
