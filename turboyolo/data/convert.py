"""`turboyolo convert data=SRC to=yolo|coco|voc out=DIR`: rewrite a dataset in another format.

Reads SRC with the same rules as training (so what is written is exactly what would be trained
on: bad boxes repaired or skipped, with their warnings, and difficult boxes as difficult= says),
writes it, then reads the result back and checks that every image and box survived the trip.
The source is never written to: out= may not be, hold or lie inside it, and must be new or empty
unless exist_ok=True.
"""
from __future__ import annotations

import os
import sys
from pathlib import Path

import numpy as np

from turboyolo.config import ConfigError, default_of
from turboyolo.data.formats import WrittenDataset, load_dataset, write_dataset
from turboyolo.data.records import DetectionData, ImageRecord

# Written coordinates are rounded (YOLO: 6 decimals of the image size, COCO: 3 decimals of a pixel).
ROUND_TRIP_TOLERANCE_PX = 0.5


def _box_issue(source: DetectionData, copy: DetectionData, before: ImageRecord, after: ImageRecord) -> str | None:
    """Why `after` does not hold `before`'s boxes (ordinary and ignored, by class name), or None."""
    for kind, boxes, classes in (("", "boxes", "classes"), ("ignored ", "ignored_boxes", "ignored_classes")):
        names_before = [source.names[c] for c in getattr(before, classes)]
        names_after = [copy.names[c] for c in getattr(after, classes)]
        if names_before != names_after:
            return f"{len(names_before)} {kind}boxes became {len(names_after)} or classes changed"
        moved = np.abs(getattr(before, boxes) - getattr(after, boxes))
        if moved.size and moved.max() > ROUND_TRIP_TOLERANCE_PX:
            return f"{kind}boxes moved by more than {ROUND_TRIP_TOLERANCE_PX} px"
    return None


def compare(source: DetectionData, written: WrittenDataset, copy: DetectionData) -> list[str]:
    """Differences that matter between a dataset and its converted copy (empty when faithful).

    Each source record is matched to the copy's record of the image written for it (whatever
    order the copy is read in); boxes must agree within ROUND_TRIP_TOLERANCE_PX, classes by name.
    """
    issues = []
    if set(source.splits) != set(copy.splits):
        issues.append(f"splits {sorted(source.splits)} became {sorted(copy.splits)}")
    for split, records in source.splits.items():
        copied = {os.path.realpath(r.path): r for r in copy.splits.get(split, [])}
        targets = [os.path.realpath(p) for p in written.images.get(split, [])]
        lost = [r.path for r, target in zip(records, targets) if target not in copied]
        lost += [r.path for r in records[len(targets):]]
        if lost:
            issues.append(f"{split}: {len(lost)} of {len(records)} images were not read back, e.g. {lost[0]}")
        extra = len(set(copied) - set(targets))
        if extra:
            issues.append(f"{split}: the copy holds {extra} images that were not written from the source")
        for record, target in zip(records, targets):
            problem = _box_issue(source, copy, record, copied[target]) if target in copied else None
            if problem:
                issues.append(f"{split}: {record.path}: {problem}")
    return issues


def convert(data: str, to: str, out: str, cache_dir: str | None = None, verbose: bool = default_of("verbose"),
            exist_ok: bool = default_of("exist_ok"), difficult: str = default_of("difficult")) -> Path:
    """Convert `data` to format `to` under `out`; returns the data= value of the copy.

    exist_ok: allow a non-empty `out` (never one that is, holds or lies inside the source).
    difficult: the difficult= policy the source is read with (see turboyolo/data/formats/repair.py).
    Raises DatasetError if the source cannot be read or `out` is refused, RuntimeError if the copy differs.
    """
    source = load_dataset(data, cache_dir=cache_dir, verbose=verbose, difficult=difficult)
    written = write_dataset(source, out, to, exist_ok=exist_ok)
    copy = load_dataset(str(written.data), cache_dir=cache_dir, verbose=False, difficult="ignore")
    issues = compare(source, written, copy)
    if issues:
        raise RuntimeError(f"converted dataset at {written.data} differs from {data}: " + "; ".join(issues[:5]))
    return written.data


def run(cfg, positional) -> int:
    """turboyolo convert data=SRC to=yolo|coco|voc out=DIR [exist_ok=True] [difficult=ignore|train|drop]"""
    if not cfg.out:
        raise ConfigError("convert needs out=DIR (the folder to write the converted dataset to)")
    source = positional[0] if positional else cfg.data
    try:
        target = convert(source, cfg.to, cfg.out, cache_dir=cfg.cache_dir, verbose=cfg.verbose,
                         exist_ok=cfg.exist_ok, difficult=cfg.difficult)
    except RuntimeError as err:  # the copy differs (a DatasetError is printed by the CLI as one line)
        print(f"turboyolo convert: {err}", file=sys.stderr)
        return 1
    print(f"converted {source} to {cfg.to}: data={target} (read back: every image and box kept)")
    return 0
