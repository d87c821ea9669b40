"""Our COCO evaluation vs pycocotools on a synthetic set (~500 images x 20 boxes, 20 classes).

    python benchmarks/coco_eval.py [--images 500] [--boxes 20] [--repeats 3]

Times the whole evaluation from in-memory dicts (pycocotools: loadRes + evaluate + accumulate +
summarize; ours: the same work), reports the median of the repeats, checks the 12 stats agree,
prints a table and writes benchmarks/results/coco_eval.json.
"""
from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests" / "metrics"))  # the synthetic case generator the tests use

from coco_cases import pycocotools_eval, realistic_case  # noqa: E402

from turboyolo.metrics.coco_eval import evaluate_coco  # noqa: E402


def median_seconds(fn, repeats: int) -> tuple[float, object]:
    times, out = [], None
    for _ in range(repeats):
        start = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times), out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--images", type=int, default=500)
    parser.add_argument("--boxes", type=int, default=20)
    parser.add_argument("--classes", type=int, default=20)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--out", default=str(ROOT / "benchmarks" / "results" / "coco_eval.json"))
    args = parser.parse_args()

    gt_dataset, results = realistic_case(seed=0, num_images=args.images, boxes_per_image=args.boxes,
                                         num_categories=args.classes)
    reference_s, reference = median_seconds(lambda: pycocotools_eval(gt_dataset, results), args.repeats)
    ours_s, ours = median_seconds(lambda: evaluate_coco(gt_dataset, results), args.repeats)
    max_difference = float(np.abs(ours.stats - reference.stats).max())
    report = {
        "images": args.images, "ground_truths": len(gt_dataset["annotations"]), "detections": len(results),
        "classes": args.classes, "repeats": args.repeats,
        "pycocotools_s": round(reference_s, 4), "turboyolo_s": round(ours_s, 4),
        "speedup": round(reference_s / ours_s, 2), "max_stat_difference": max_difference,
        "stats": [round(float(v), 6) for v in ours.stats],
    }
    print(f"{'evaluator':<12} {'median s':>9}   ({report['images']} images, {report['ground_truths']} gt, "
          f"{report['detections']} detections, median of {args.repeats})")
    print(f"{'pycocotools':<12} {reference_s:>9.3f}")
    print(f"{'turboyolo':<12} {ours_s:>9.3f}   {report['speedup']:.1f}x faster, max |stat diff| {max_difference:.1e}")
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(report, indent=2) + "\n")
    return 0 if max_difference < 1e-4 else 1


if __name__ == "__main__":
    sys.exit(main())
