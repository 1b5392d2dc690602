"""How contracts.refine's settings were chosen: DAVIS J on every third frame of the 22 DAVIS
*training* sequences (the validation sequences are not looked at), for the shipped CPU graph's
masks pasted plain and refined with each candidate setting. Beside it, as a check on other
pictures, the same figure on every eighth training image of the two people sets (the union of the
instances against the person's mask, averaged over images).

    python -m tools.mask_refine_search --data ../shared/data --json docs/results/mask_refine_search.json
"""
import argparse
import dataclasses
import json


from contracts.refine import DEFAULT, RefineSettings
from model.calibrate import CachedPredictor
from model.evaluate import OnnxPredictor, evaluate
from model.splits import shared_datasets

CANDIDATES = ([RefineSettings(radius_cells=r, eps=e) for r in (1.5, 2.0, 2.5, 3.0) for e in (1e-5, 3e-5, 1e-4, 1e-3)]
              + [dataclasses.replace(DEFAULT, work_px_per_cell=k) for k in (4, 1e9)])


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data", required=True)
    p.add_argument("--onnx", default="assets/s4net.onnx")
    p.add_argument("--every", type=int, default=3)
    p.add_argument("--json")
    a = p.parse_args()
    train = [s for s in shared_datasets(a.data) if s.split == "train"]
    davis = [s for s in train if s.group.startswith("davis")][::a.every]
    people = [s for s in train if s.group.startswith(("ccp-person", "human-seg"))][::8]
    for s in people:
        s.union_mask, s.group = True, "people/all"   # one person (region) an image: J over the images
    graph = CachedPredictor(OnnxPredictor(a.onnx))

    def row(settings, refine):
        return {"settings": settings, "J": evaluate(graph, davis, progress=False, refine=refine)["J_mean"],
                "people": evaluate(graph, people, progress=False, refine=refine)["J_mean"]}
    rows = [row("plain paste", False)]
    for c in CANDIDATES:
        rows.append(row(dataclasses.asdict(c), c))
        print(f"{rows[-1]['settings']}  J {rows[-1]['J']:.4f}  people {rows[-1]['people']:.4f}", flush=True)
    best = max(rows[1:], key=lambda r: r["J"])
    print(f"plain paste J {rows[0]['J']:.4f}; best {best['settings']} J {best['J']:.4f}; "
          f"shipped {dataclasses.asdict(DEFAULT)}")
    if a.json:
        with open(a.json, "w") as f:
            json.dump({"graph": a.onnx, "frames": len(davis), "sequences": "DAVIS 2016 training sequences",
                       "people_images": len(people),
                       "shipped": dataclasses.asdict(DEFAULT), "rows": rows}, f, indent=1)


if __name__ == "__main__":
    main()
