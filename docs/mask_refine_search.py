"""How contracts.refine's settings were chosen: DAVIS J on every third frame of the 22 DAVIS
*training* sequences (the validation sequences are not looked at), for the shipped CPU graph's
masks pasted plain and refined with each candidate setting.

    .venv/bin/python docs/mask_refine_search.py --data ../shared/data --json docs/mask_refine_search.json
"""
import argparse
import dataclasses
import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from contracts.refine import DEFAULT, RefineSettings  # noqa: E402
from model.calibrate import CachedPredictor  # noqa: E402
from model.evaluate import OnnxPredictor, evaluate  # noqa: E402
from model.splits import shared_datasets  # noqa: E402

CANDIDATES = ([RefineSettings(radius_cells=r, eps=e) for r in (1.5, 2.0, 2.5, 3.0) for e in (1e-5, 3e-5, 1e-4, 1e-3)]
              + [dataclasses.replace(DEFAULT, work_px_per_cell=k) for k in (4, 1e9)])


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data", required=True)
    p.add_argument("--onnx", default="assets/s4net.onnx")
    p.add_argument("--every", type=int, default=3)
    p.add_argument("--json")
    a = p.parse_args()
    samples = [s for s in shared_datasets(a.data) if s.split == "train" and s.group.startswith("davis")][::a.every]
    graph = CachedPredictor(OnnxPredictor(a.onnx))
    rows = [{"settings": "plain paste", "J": evaluate(graph, samples, progress=False, refine=False)["J_mean"]}]
    for c in CANDIDATES:
        rows.append({"settings": dataclasses.asdict(c), "J": evaluate(graph, samples, progress=False, refine=c)["J_mean"]})
        print(f"{rows[-1]['settings']}  J {rows[-1]['J']:.4f}", flush=True)
    best = max(rows[1:], key=lambda r: r["J"])
    print(f"plain paste J {rows[0]['J']:.4f}; best {best['settings']} J {best['J']:.4f}; shipped {dataclasses.asdict(DEFAULT)}")
    if a.json:
        with open(a.json, "w") as f:
            json.dump({"graph": a.onnx, "frames": len(samples), "sequences": "DAVIS 2016 training sequences",
                       "shipped": dataclasses.asdict(DEFAULT), "rows": rows}, f, indent=1)


if __name__ == "__main__":
    main()
