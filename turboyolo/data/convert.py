"""`turboyolo convert data=SRC to=yolo|coco|voc out=DIR`: rewrite a dataset in another format.

Reads SRC with the same rules as training (so what is written is exactly what would be trained
on: bad boxes repaired or skipped, with their warnings), writes it, then reads the result back and
checks that every image and box survived the trip.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from turboyolo.config import ConfigError
from turboyolo.data.formats import load_dataset, write_dataset
from turboyolo.data.records import DatasetError, DetectionData

# Written coordinates are rounded (YOLO: 6 decimals of the image size, COCO: 3 decimals of a pixel).
ROUND_TRIP_TOLERANCE_PX = 0.5


def compare(source: DetectionData, copy: DetectionData) -> list[str]:
    """Differences that matter between a dataset and its converted copy (empty when faithful).

    Records are matched split by split in order (every writer keeps the order); boxes must agree
    within ROUND_TRIP_TOLERANCE_PX and classes by name.
    """
    issues = []
    if set(source.splits) != set(copy.splits):
        issues.append(f"splits {sorted(source.splits)} became {sorted(copy.splits)}")
    for split, records in source.splits.items():
        copied = copy.splits.get(split, [])
        if len(copied) != len(records):
            issues.append(f"{split}: {len(records)} images became {len(copied)}")
            continue
        for original, other in zip(records, copied):
            names_before = [source.names[c] for c in original.classes]
            names_after = [copy.names[c] for c in other.classes]
            if names_before != names_after or original.boxes.shape != other.boxes.shape:
                issues.append(f"{split}: {original.path}: {len(names_before)} boxes became {len(names_after)} or classes changed")
            elif len(original.boxes) and np.abs(original.boxes - other.boxes).max() > ROUND_TRIP_TOLERANCE_PX:
                issues.append(f"{split}: {original.path}: boxes moved by more than {ROUND_TRIP_TOLERANCE_PX} px")
    return issues


def convert(data: str, to: str, out: str, cache_dir: str | None = None, verbose: bool = True) -> Path:
    """Convert `data` to format `to` under `out`; returns the data= value of the copy.

    Raises DatasetError if the source cannot be read, RuntimeError if the copy differs.
    """
    source = load_dataset(data, cache_dir=cache_dir, verbose=verbose)
    target = write_dataset(source, out, to)
    copy = load_dataset(str(target), cache_dir=cache_dir, verbose=False)
    issues = compare(source, copy)
    if issues:
        raise RuntimeError(f"converted dataset at {target} differs from {data}: " + "; ".join(issues[:5]))
    return target


def run(cfg, positional) -> int:
    """turboyolo convert data=SRC to=yolo|coco|voc out=DIR"""
    if not cfg.out:
        raise ConfigError("convert needs out=DIR (the folder to write the converted dataset to)")
    source = positional[0] if positional else cfg.data
    try:
        target = convert(source, cfg.to, cfg.out, cache_dir=cfg.get("cache_dir"), verbose=cfg.get("verbose", True))
    except (DatasetError, RuntimeError) as err:
        print(f"turboyolo convert: {err}")
        return 1
    print(f"converted {source} to {cfg.to}: data={target} (read back: every image and box kept)")
    return 0
