"""Dataset formats: read YOLO, Pascal VOC or COCO (detected from `data=`) into one DetectionData.

    load_dataset("data.yaml" | "VOCroot/" | "instances_val.json" | "coco_root/" | "synthetic", difficult="ignore")
    write_dataset(data, out, "yolo" | "voc" | "coco")

Reading is two steps: a format reader builds a RawSplit per split (cached on disk, see
label_index.py), then repair.py applies the same box rules to every format. Each problem found
becomes one DatasetWarning and one entry in data.report; a split left with no usable image is a
DatasetError.
"""
from __future__ import annotations

from collections import Counter
from pathlib import Path

from turboyolo.config import default_of
from turboyolo.data.formats.coco import read_coco, write_coco
from turboyolo.data.formats.detect import SYNTHETIC, detect_format
from turboyolo.data.formats.file_placement import WrittenDataset, check_output_folder
from turboyolo.data.formats.label_index import ParsedDataset
from turboyolo.data.formats.repair import repair_split
from turboyolo.data.formats.voc import read_voc, write_voc
from turboyolo.data.formats.yolo import read_yolo, write_yolo
from turboyolo.data.records import DatasetError, DatasetWarning, DetectionData, ProblemReport

READERS = {"yolo": read_yolo, "voc": read_voc, "coco": read_coco}
WRITERS = {"yolo": write_yolo, "voc": write_voc, "coco": write_coco}

__all__ = ["DatasetError", "DatasetWarning", "WrittenDataset", "load_dataset", "write_dataset"]


def _locate(data: str, cache_dir: str | None) -> tuple[str, Path]:
    """(format, path to read) for a data= value, generating the synthetic set if asked."""
    fmt, path = detect_format(str(data))
    if fmt == SYNTHETIC:
        from turboyolo.data.synth import default_synthetic_dataset

        fmt, path = "yolo", Path(default_synthetic_dataset(cache_dir))
    return fmt, path


def _why_empty(parsed: ParsedDataset, split: str) -> str:
    kinds = Counter(kind for kind, _, _ in parsed.splits[split].problems)
    found = ", ".join(f"{count} {kind}" for kind, count in kinds.most_common())
    return found or "no image files found"


def _category_ids(parsed: ParsedDataset) -> list[int] | None:
    """COCO: the category id of each class (labels are the ids as text); None for other formats."""
    by_class = sorted(parsed.label_to_class, key=parsed.label_to_class.get)
    if parsed.format != "coco" or not all(label.lstrip("-").isdigit() for label in by_class):
        return None
    return [int(label) for label in by_class]


def load_dataset(data: str, cache_dir: str | None = None, verbose: bool = default_of("verbose"),
                 difficult: str = default_of("difficult")) -> DetectionData:
    """Read a dataset in any supported format into a DetectionData with repaired boxes.

    data: a YOLO data YAML, a VOC root, a COCO json or folder, or "synthetic".
    cache_dir: where generated data and indexes of read-only datasets go (default cache_root()).
    difficult: what becomes of difficult/crowd boxes, "ignore" | "train" | "drop" (the difficult=
      key; its default is default.yaml's; see repair.py).
    Raises DatasetError when the description cannot be read or a split has no usable image.
    """
    fmt, path = _locate(data, cache_dir)
    parsed = READERS[fmt](path, cache_dir)
    report = ProblemReport()
    splits, difficult_boxes = {}, {}
    for split, raw in parsed.splits.items():
        splits[split], difficult_boxes[split] = repair_split(raw, parsed.label_to_class, report, parsed.unknown_kind,
                                                             difficult)
    dataset = DetectionData(parsed.names, splits, report, parsed.root, parsed.format, str(path), difficult,
                            difficult_boxes, _category_ids(parsed))
    for split, records in splits.items():
        if not records:
            report.fatal.append(f"split '{split}' has no usable image (from {parsed.sources.get(split, '?')}): "
                                f"{_why_empty(parsed, split)}")
    if verbose:
        for split, records in splits.items():
            boxes = sum(len(r.boxes) for r in records)
            flagged = (f" (+{difficult_boxes[split]} difficult, {'ignored' if difficult == 'ignore' else 'dropped'})"
                       if difficult_boxes[split] and difficult != "train" else "")
            print(f"{parsed.format} {split}: {len(records)} images, {boxes} boxes{flagged}, {len(parsed.names)} classes "
                  f"({parsed.sources.get(split, parsed.root)})")
        if report.total():
            print(f"{report.total()} dataset problems repaired or skipped: "
                  + ", ".join(f"{count} {kind}" for kind, count in sorted(report.counts.items())))
    if report.fatal:
        raise DatasetError(f"dataset {data} cannot be used: " + "; ".join(report.fatal), report, dataset)
    return dataset


def write_dataset(data: DetectionData, out: str | Path, to: str, exist_ok: bool = False) -> WrittenDataset:
    """Write `data` in format `to` under `out`. Returns the WrittenDataset: `.data` is what to pass
    as data= to read it back, `.images` the written copy of every record.

    Refuses (DatasetError, nothing written) an `out` that is, holds or lies inside the source
    dataset, and a non-empty `out` unless exist_ok.
    """
    if to not in WRITERS:
        raise ValueError(f"unknown dataset format '{to}' (choose from {', '.join(WRITERS)})")
    check_output_folder(data, out, exist_ok)
    return WRITERS[to](data, Path(out))
