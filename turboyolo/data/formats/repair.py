"""Turn a RawSplit into trainable ImageRecords: map class labels, clip, drop bad and duplicate boxes,
and apply the difficult= policy.

Every format shares this step, so a box is judged by the same rules whether it came from a YOLO
txt line, a VOC <object> or a COCO annotation. Whole-split numpy operations: only the boxes that
are actually wrong cost Python time (one report entry, hence one warning, each).

The difficult= policy is decided here and nowhere else. Boxes the annotation marks as difficult
(VOC difficult=1, COCO iscrowd=1) are, by policy:
  ignore: kept in ImageRecord.ignored_boxes, apart from `boxes`: never trained on, and passed to
          the metric as ignored ground truth (a detection on one is neither TP nor FP);
  train:  ordinary boxes;
  drop:   removed.
"""
from __future__ import annotations

import numpy as np

from turboyolo.data.formats.label_index import RawSplit
from turboyolo.data.records import ImageRecord, ProblemReport

# Overshoot below half a pixel is annotation rounding (normalised YOLO coordinates, 1-based VOC
# pixels), not a mistake: such boxes are clipped without a report entry.
CLIP_TOLERANCE_PX = 0.5
# Boxes whose coordinates agree to this many pixels (same image, same class) are duplicates.
DUPLICATE_PX = 0.1
# The values of the difficult= key (default.yaml holds its default and help).
DIFFICULT_POLICIES = ("ignore", "train", "drop")


def box_location(raw: RawSplit, box_row: int) -> str:
    """'labels/a.txt:3' for line-based formats, 'Annotations/a.xml (object 2)' otherwise."""
    label_file = raw.label_files[raw.box_image[box_row]]
    ref = int(raw.refs[box_row])
    return f"{label_file}:{ref}" if raw.ref_word == "line" else f"{label_file} ({raw.ref_word} {ref})"


def _map_labels(raw: RawSplit, label_to_class: dict[str, int], unknown_kind: str,
                report: ProblemReport) -> np.ndarray:
    """(N,) class id per box, -1 where the label is unknown (reported)."""
    classes = np.full(len(raw.labels), -1, np.int64)
    if not len(raw.labels):
        return classes
    unique, inverse = np.unique(raw.labels, return_inverse=True)
    for index, label in enumerate(unique.tolist()):
        rows = np.flatnonzero(inverse == index)
        if label in label_to_class:
            classes[rows] = label_to_class[label]
        elif label.strip() in label_to_class:
            classes[rows] = label_to_class[label.strip()]
            for row in rows:
                report.add("class_name_whitespace", box_location(raw, row),
                           f"class name {label!r} has stray whitespace; read as {label.strip()!r}")
        else:
            for row in rows:
                known = f"0..{len(label_to_class) - 1}" if unknown_kind == "class_out_of_range" else "known names"
                report.add(unknown_kind, box_location(raw, row), f"class {label!r} is not one of the {known}; box skipped")
    return classes


def repair_split(raw: RawSplit, label_to_class: dict[str, int], report: ProblemReport,
                 unknown_kind: str = "class_out_of_range", difficult: str = "ignore") -> tuple[list[ImageRecord], int]:
    """Replay the split's reading problems into `report`, repair its boxes and return its records
    and how many of the repaired boxes were marked difficult (before the policy applied to them).

    label_to_class: raw label text -> class id in [0, nc). unknown_kind: the report kind for a
    label missing from it ("class_out_of_range" for numeric ids, "class_unknown" for names).
    difficult: one of DIFFICULT_POLICIES (see the module docstring).
    """
    if difficult not in DIFFICULT_POLICIES:
        raise ValueError(f"difficult={difficult!r}: choose one of {', '.join(DIFFICULT_POLICIES)}")
    for kind, location, message in raw.problems:
        report.add(kind, location, message)
    classes = _map_labels(raw, label_to_class, unknown_kind, report)
    boxes = raw.boxes.astype(np.float64, copy=True)
    sizes = raw.sizes[raw.box_image].astype(np.float64) if len(boxes) else np.zeros((0, 2))
    keep = classes >= 0

    finite = np.isfinite(boxes).all(1)
    degenerate = keep & (~finite | (boxes[:, 2] <= boxes[:, 0]) | (boxes[:, 3] <= boxes[:, 1]))
    for row in np.flatnonzero(degenerate):
        x1, y1, x2, y2 = boxes[row]
        report.add("box_degenerate", box_location(raw, row),
                   f"zero-area or inverted box ({x1:g}, {y1:g}, {x2:g}, {y2:g}); skipped")
    keep &= ~degenerate

    clipped = boxes.copy()
    if len(boxes):
        clipped[:, [0, 2]] = np.clip(boxes[:, [0, 2]], 0, sizes[:, 0:1])
        clipped[:, [1, 3]] = np.clip(boxes[:, [1, 3]], 0, sizes[:, 1:2])
    outside = keep & ((clipped[:, 2] <= clipped[:, 0]) | (clipped[:, 3] <= clipped[:, 1]))
    for row in np.flatnonzero(outside):
        width, height = raw.sizes[raw.box_image[row]]
        report.add("box_outside_image", box_location(raw, row),
                   f"box {np.round(boxes[row], 2).tolist()} lies outside the {width}x{height} image; skipped")
    keep &= ~outside
    overshoot = np.abs(clipped - boxes).max(1) if len(boxes) else np.zeros(0)
    for row in np.flatnonzero(keep & (overshoot > CLIP_TOLERANCE_PX)):
        width, height = raw.sizes[raw.box_image[row]]
        report.add("box_clipped", box_location(raw, row),
                   f"box {np.round(boxes[row], 2).tolist()} extends past the {width}x{height} image; clipped")

    # Duplicates: the first of identical (image, class, rounded box) rows is kept.
    rows = np.flatnonzero(keep)
    if len(rows):
        key = np.column_stack([raw.box_image[rows], classes[rows], np.round(clipped[rows] / DUPLICATE_PX)])
        _, first = np.unique(key, axis=0, return_index=True)
        duplicate_rows = np.setdiff1d(rows, rows[first])
        for row in duplicate_rows:
            report.add("box_duplicate", box_location(raw, row), "duplicate of an earlier box; dropped")
        keep[duplicate_rows] = False

    flagged = raw.difficult if len(raw.difficult) == len(keep) else np.zeros(len(keep), bool)
    flagged_count = int(np.count_nonzero(keep & flagged))
    if difficult == "train":
        flagged = np.zeros_like(flagged)
    elif difficult == "drop":
        keep &= ~flagged
    regular = _per_image(raw, keep & ~flagged, clipped, classes)
    ignored = _per_image(raw, keep & flagged, clipped, classes)
    records = [
        ImageRecord(path, int(raw.sizes[i, 0]), int(raw.sizes[i, 1]), *regular(i), int(raw.image_ids[i]),
                    *ignored(i), label_file=raw.label_files[i])
        for i, path in enumerate(raw.paths)
    ]
    return records, flagged_count


def _per_image(raw: RawSplit, selected: np.ndarray, boxes: np.ndarray, classes: np.ndarray):
    """A function image row -> (boxes (n, 4) float32, classes (n,)) of the selected box rows, file order."""
    rows = np.flatnonzero(selected)
    order = rows[np.argsort(raw.box_image[rows], kind="stable")]
    starts = np.searchsorted(raw.box_image[order], np.arange(len(raw.paths) + 1))
    kept_boxes = boxes[order].astype(np.float32)
    kept_classes = classes[order]
    return lambda i: (kept_boxes[starts[i]:starts[i + 1]], kept_classes[starts[i]:starts[i + 1]])
