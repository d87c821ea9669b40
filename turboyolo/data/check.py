"""`turboyolo check data=...`: a dataset health report; exit 0 if it can be trained on, 1 if not.

Prints images and boxes per split and class, a text histogram of box sizes, the images without
objects, the difficult/crowd boxes and what the difficult= policy does with them, and every problem found while reading (grouped by kind, with counts and the first file:line
locations). The per-item warnings are folded into that report instead of being printed one by one.
"""
from __future__ import annotations

import warnings

import numpy as np

from turboyolo.data.formats import load_dataset
from turboyolo.data.records import DatasetError, DatasetWarning, DetectionData, ProblemReport

# Box size bins, sqrt(w*h) in pixels of the original image (COCO calls < 32 small, > 96 large).
SIZE_EDGES = (0, 8, 16, 32, 64, 128, 256, 512, float("inf"))
BAR_WIDTH = 40
SHOW_IMAGES_WITHOUT_BOXES = 5


def training_blockers(data: DetectionData | None, report: ProblemReport | None) -> list[str]:
    """Why this dataset cannot be trained on; empty when it can."""
    blockers = list(report.fatal) if report else []
    if data is None:
        return blockers or ["the dataset could not be read"]
    train, val = data.splits.get("train"), data.splits.get("val")
    if train is None:
        blockers.append("no 'train' split")
    elif train and not sum(len(r.boxes) for r in train):
        blockers.append("the train split has no boxes at all: nothing to learn from")
    if val is None:
        blockers.append("no 'val' split")
    return blockers


def split_table(data: DetectionData) -> str:
    names = data.names
    header = ["split", "images", "boxes", "no-boxes"] + names
    rows = []
    for split, records in data.splits.items():
        classes = np.concatenate([r.classes for r in records]) if records else np.zeros(0, np.int64)
        per_class = np.bincount(classes, minlength=len(names))
        without = sum(1 for r in records if not len(r.boxes))
        rows.append([split, len(records), len(classes), without] + per_class.tolist())
    widths = [max(len(str(row[i])) for row in [header] + rows) for i in range(len(header))]
    return "\n".join("  ".join(str(v).rjust(w) if i else str(v).ljust(w) for i, (v, w) in enumerate(zip(row, widths)))
                     for row in [header] + rows)


def size_histogram(data: DetectionData) -> str:
    boxes = [r.boxes for records in data.splits.values() for r in records if len(r.boxes)]
    boxes = np.concatenate(boxes) if boxes else np.zeros((0, 4), np.float32)
    sizes = np.sqrt((boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1]))
    counts, _ = np.histogram(sizes, bins=np.array(SIZE_EDGES))
    peak = max(1, counts.max(initial=0))
    lines = [f"box size, sqrt(w*h) px over all splits ({len(sizes)} boxes):"]
    for low, high, count in zip(SIZE_EDGES[:-1], SIZE_EDGES[1:], counts):
        label = f"{low:g}-{high:g}" if high != float("inf") else f">={low:g}"
        lines.append(f"  {label:>9} | {'#' * int(round(BAR_WIDTH * count / peak)):<{BAR_WIDTH}} {count}")
    return "\n".join(lines)


def images_without_boxes(data: DetectionData) -> str:
    empty = [(split, r.path) for split, records in data.splits.items() for r in records if not len(r.boxes)]
    lines = [f"images without boxes (used as background): {len(empty)}"]
    lines += [f"  {split}: {path}" for split, path in empty[:SHOW_IMAGES_WITHOUT_BOXES]]
    if len(empty) > SHOW_IMAGES_WITHOUT_BOXES:
        lines.append(f"  ... and {len(empty) - SHOW_IMAGES_WITHOUT_BOXES} more")
    return "\n".join(lines)


DIFFICULT_EFFECT = {
    "ignore": "not trained on; the metric ignores detections on them (difficult=ignore)",
    "train": "trained on as ordinary boxes (difficult=train)",
    "drop": "removed: neither trained on nor evaluated (difficult=drop)",
}


def difficult_summary(data: DetectionData) -> str:
    """How many boxes are marked difficult (VOC) or crowd (COCO), per split, and what becomes of them."""
    total = sum(data.difficult_boxes.values())
    if not total:
        return "difficult/crowd boxes: none"
    per_split = ", ".join(f"{split} {count}" for split, count in data.difficult_boxes.items())
    return f"difficult/crowd boxes: {total} ({per_split}): {DIFFICULT_EFFECT[data.difficult]}"


def problem_summary(report: ProblemReport) -> str:
    if not report.total() and not report.fatal:
        return "problems: none"
    lines = [f"problems: {report.total()}" + (" (each was repaired or skipped)" if report.total() else "")]
    for kind, count in sorted(report.counts.items(), key=lambda item: -item[1]):
        lines.append(f"  {kind}: {count}")
        lines += [f"    {where}" for where in report.locations.get(kind, [])]
        if count > len(report.locations.get(kind, [])):
            lines.append(f"    ... and {count - len(report.locations.get(kind, []))} more")
    for fatal in report.fatal:
        lines.append(f"  FATAL: {fatal}")
    return "\n".join(lines)


def health_report(data: DetectionData | None, report: ProblemReport | None) -> str:
    """The whole text report (what `turboyolo check` prints, verdict line included)."""
    parts = []
    if data is not None:
        parts += [f"dataset: {data.root} ({data.format}), {len(data.names)} classes: {', '.join(data.names)}",
                  split_table(data), size_histogram(data), images_without_boxes(data), difficult_summary(data)]
    if report is not None:
        parts.append(problem_summary(report))
    blockers = training_blockers(data, report)
    parts.append("verdict: " + ("OK, can be trained on" if not blockers else "CANNOT be trained on: " + "; ".join(blockers)))
    return "\n\n".join(parts)


def run(cfg, positional) -> int:
    """turboyolo check data=DATA (or a positional path). Returns 0 if trainable, 1 if not."""
    source = positional[0] if positional else cfg.data
    data, report = None, None
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DatasetWarning)  # summarised below, grouped by kind
        try:
            data = load_dataset(source, cache_dir=cfg.cache_dir, verbose=False, difficult=cfg.difficult)
            report = data.report
        except DatasetError as err:
            data, report = err.data, err.report
            if report is None:
                report = ProblemReport(warn=False)
                report.fatal.append(str(err))
    print(health_report(data, report))
    return 0 if not training_blockers(data, report) else 1
