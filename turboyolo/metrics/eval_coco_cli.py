"""`turboyolo eval-coco gt=GT.json pred=DETS.json [per_class=true]`: COCO box metrics as one JSON object.

Prints {"stats": [12 numbers in pycocotools' summarize order], "stat_names": [...], ...}; the
numbers equal pycocotools' COCOeval('bbox') on the same files.
"""
from __future__ import annotations

import json
import sys
import time

from turboyolo.metrics.coco_eval import STAT_NAMES, evaluate_files

USAGE = "usage: turboyolo eval-coco gt=GT.json pred=DETS.json [per_class=true]"


def run(pairs: dict, positional: list[str]) -> int:
    """pairs: the raw key=value strings of the command line (this mode takes no run config)."""
    unknown = set(pairs) - {"gt", "pred", "per_class"}
    if unknown or "gt" not in pairs or "pred" not in pairs or positional:
        extra = f" (unknown: {', '.join(sorted(unknown | set(positional)))})" if unknown or positional else ""
        print(f"turboyolo eval-coco: {USAGE}{extra}", file=sys.stderr)
        return 2
    start = time.perf_counter()
    try:
        result = evaluate_files(str(pairs["gt"]), str(pairs["pred"]))
    except (OSError, ValueError, KeyError, TypeError) as err:
        print(f"turboyolo eval-coco: cannot evaluate: {type(err).__name__}: {err}", file=sys.stderr)
        return 1
    report = {
        "stats": [round(float(v), 6) for v in result.stats],
        "stat_names": list(STAT_NAMES),
        "seconds": round(time.perf_counter() - start, 3),
    }
    if str(pairs.get("per_class", "false")).lower() in {"1", "true", "yes"}:
        report["per_class_ap"] = {
            str(int(c)): round(float(ap), 6) for c, ap in zip(result.category_ids, result.class_ap())
        }
    print(json.dumps(report))
    return 0
