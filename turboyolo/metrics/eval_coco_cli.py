"""`turboyolo eval-coco gt=GT.json pred=DETS.json [--json] [out=FILE.json] [per_class=true]`: COCO box metrics.

Prints pycocotools' 12-line summary and a per-class AP table by category name; `--json` prints one
JSON object instead ({"stats": [12 numbers in summarize order], "stat_names": [...], ...}) and
out= writes that object to a file. The numbers equal pycocotools' COCOeval('bbox') on the same files.
"""
from __future__ import annotations

import json
import sys
import time
from pathlib import Path

from turboyolo.metrics.coco_eval import STAT_NAMES, evaluate_coco, read_coco_files

KEY_HELP = [  # what `turboyolo eval-coco --help` lists: this mode reads these, not the run configuration
    ("gt=GT.json", "COCO ground truth (instances_*.json, or val's ground_truth.json)"),
    ("pred=DETS.json", "COCO results: a list of {image_id, category_id, bbox [x, y, w, h], score} (val save_json=true)"),
    ("--json", "print one JSON object (stats, stat_names, per-class AP) instead of the tables"),
    ("out=FILE.json", "also write that JSON object to FILE.json"),
    ("per_class=true", "per-class AP by category name (false: the 12 numbers only)"),
]
USAGE = "usage: turboyolo eval-coco gt=GT.json pred=DETS.json [--json] [out=FILE.json] [per_class=true]"

# pycocotools' summarize() lines: (AP or AR, IoU range, area, max detections), in STAT_NAMES order
_SUMMARY_ROWS = [
    ("AP", "0.50:0.95", "all", 100), ("AP", "0.50", "all", 100), ("AP", "0.75", "all", 100),
    ("AP", "0.50:0.95", "small", 100), ("AP", "0.50:0.95", "medium", 100), ("AP", "0.50:0.95", "large", 100),
    ("AR", "0.50:0.95", "all", 1), ("AR", "0.50:0.95", "all", 10), ("AR", "0.50:0.95", "all", 100),
    ("AR", "0.50:0.95", "small", 100), ("AR", "0.50:0.95", "medium", 100), ("AR", "0.50:0.95", "large", 100),
]


def run(pairs: dict, positional: list[str]) -> int:
    """pairs: the raw key=value strings of the command line (this mode takes no run config)."""
    unknown = set(pairs) - {"gt", "pred", "per_class", "out"}
    if unknown or "gt" not in pairs or "pred" not in pairs:
        extra = f" (unknown: {', '.join(sorted(unknown))})" if unknown else ""
        print(f"turboyolo eval-coco: {USAGE}{extra}", file=sys.stderr)
        return 2
    start = time.perf_counter()
    try:
        gt_dataset, results = read_coco_files(str(pairs["gt"]), str(pairs["pred"]))
        result = evaluate_coco(gt_dataset, results)
    except (OSError, ValueError, KeyError, TypeError) as err:
        print(f"turboyolo eval-coco: cannot evaluate: {type(err).__name__}: {err}", file=sys.stderr)
        return 1
    per_class = str(pairs.get("per_class", "true")).lower() in {"1", "true", "yes"}
    names = {int(c["id"]): str(c.get("name", c["id"])) for c in gt_dataset.get("categories", [])}
    report = {
        "stats": [round(float(v), 6) for v in result.stats],
        "stat_names": list(STAT_NAMES),
        "seconds": round(time.perf_counter() - start, 3),
    }
    if per_class:
        ap, ap50 = result.class_ap(), result.class_ap(0)
        report["per_class_ap"] = {str(int(c)): round(float(v), 6) for c, v in zip(result.category_ids, ap)}
        report["per_class"] = [{"id": int(c), "name": names.get(int(c), str(int(c))), "AP": round(float(a), 6),
                                "AP50": round(float(a50), 6)} for c, a, a50 in zip(result.category_ids, ap, ap50)]
    if "out" in pairs:
        Path(pairs["out"]).write_text(json.dumps(report, indent=1))
    if "--json" in positional:
        print(json.dumps(report))
    else:
        print(format_summary(result.stats))
        if per_class:
            print(format_per_class(report["per_class"]))
        written = f"; JSON in {pairs['out']}" if "out" in pairs else ""
        print(f"({report['seconds']:.2f} s{written})")
    return 0


def format_summary(stats) -> str:
    """The 12 numbers as pycocotools prints them."""
    lines = []
    for (kind, iou, area, max_dets), value in zip(_SUMMARY_ROWS, stats):
        title = "Average Precision" if kind == "AP" else "Average Recall"
        lines.append(f" {title:<18} ({kind}) @[ IoU={iou:<9} | area={area:>6} | maxDets={max_dets:>3} ] = {value:.3f}")
    return "\n".join(lines)


def format_per_class(rows: list[dict]) -> str:
    """One line per category: name, AP (IoU 0.50:0.95) and AP50; -1 where the class has no ground truth."""
    width = max([len("class")] + [len(r["name"]) for r in rows])
    lines = [f"{'class':<{width}}  {'AP':>6}  {'AP50':>6}"]
    lines += [f"{r['name']:<{width}}  {r['AP']:>6.3f}  {r['AP50']:>6.3f}" for r in rows]
    return "\n".join(lines)
