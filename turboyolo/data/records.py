"""The in-memory form every dataset format is read into, and the problem report of a load.

Every reader (YOLO, VOC, COCO) produces the same `DetectionData`, so the cache, loader, checks and
converters never care which format the files were in.
"""
from __future__ import annotations

import sys
import warnings
from dataclasses import dataclass, field

import numpy as np

from turboyolo.errors import UserError


class DatasetError(UserError, ValueError):
    """A dataset cannot be used: a split has no usable image, or its description is unreadable.

    `report` holds every problem found before giving up (None when reading never started);
    `data` what could be read (splits may be empty), for health reports.
    """

    def __init__(self, message: str, report: "ProblemReport | None" = None, data: "DetectionData | None" = None):
        super().__init__(message)
        self.report = report
        self.data = data


class DatasetWarning(UserWarning):
    """One problem with one dataset item (file or file:line) that was repaired or skipped."""


def _show_dataset_warnings_as_one_line(show):
    """Python prints a warning as two lines naming our source file; a DatasetWarning's message already says
    which dataset file and line, and what was done, so it is printed as that one line. Others go to `show`."""
    def showwarning(message, category, filename, lineno, file=None, line=None):
        if issubclass(category, DatasetWarning):
            print(f"turboyolo: {message}", file=file or sys.stderr)
        else:
            show(message, category, filename, lineno, file, line)

    showwarning.dataset_warnings_one_line = True
    return showwarning


if not getattr(warnings.showwarning, "dataset_warnings_one_line", False):  # once, even if this module is reloaded
    warnings.showwarning = _show_dataset_warnings_as_one_line(warnings.showwarning)


def _no_boxes() -> np.ndarray:
    return np.zeros((0, 4), np.float32)


def _no_classes() -> np.ndarray:
    return np.zeros(0, np.int64)


@dataclass
class ImageRecord:
    """One usable image and its (already repaired) annotations.

    boxes: (N, 4) float32 xyxy in pixels of the original image, clipped, positive area.
    classes: (N,) int64 class ids in [0, len(names)).
    ignored_boxes, ignored_classes: (M, 4), (M,) the same for ground truth that is neither trained
      on nor counted by the metric (VOC difficult=1 / COCO iscrowd=1 under difficult=ignore).
      Kept apart from `boxes` so that code which knows nothing about them never trains on them.
    """

    path: str
    width: int
    height: int
    boxes: np.ndarray
    classes: np.ndarray
    image_id: int = 0  # stable id within the split (COCO id when read from COCO)
    ignored_boxes: np.ndarray = field(default_factory=_no_boxes)
    ignored_classes: np.ndarray = field(default_factory=_no_classes)
    label_file: str = ""  # the file its annotations were read from ("" if none)

    def __post_init__(self):
        self.boxes = np.asarray(self.boxes, dtype=np.float32).reshape(-1, 4)
        self.classes = np.asarray(self.classes, dtype=np.int64).reshape(-1)
        self.ignored_boxes = np.asarray(self.ignored_boxes, dtype=np.float32).reshape(-1, 4)
        self.ignored_classes = np.asarray(self.ignored_classes, dtype=np.int64).reshape(-1)


@dataclass
class DetectionData:
    """A whole dataset: class names, usable images per split, and what was wrong with the input."""

    names: list[str]
    splits: dict[str, list[ImageRecord]]
    report: "ProblemReport"
    root: str = ""
    format: str = ""  # "yolo" | "voc" | "coco"
    source: str = ""  # the file or folder data= named (a data YAML, a VOC root, a COCO json or folder)
    difficult: str = "ignore"  # the difficult= policy the records were built with (see repair.py)
    difficult_boxes: dict[str, int] = field(default_factory=dict)  # per split, difficult/crowd boxes read
    category_ids: list[int] | None = None  # COCO: the file's category id of each class (for COCO-format outputs)

    def split(self, name: str) -> list[ImageRecord]:
        if name not in self.splits:
            raise DatasetError(f"dataset {self.root} has no '{name}' split; use "
                               + (" or ".join(f"split={s}" for s in self.splits) or "a dataset with splits"))
        return self.splits[name]


@dataclass
class ProblemReport:
    """Problems found while reading a dataset, grouped by kind, with the first few locations."""

    max_locations: int = 5
    counts: dict[str, int] = field(default_factory=dict)
    locations: dict[str, list[str]] = field(default_factory=dict)
    fatal: list[str] = field(default_factory=list)  # errors that make a split untrainable
    warn: bool = True  # emit one DatasetWarning per problem as it is added (never silent by default)

    def add(self, kind: str, location: str, message: str = "") -> None:
        if self.warn:
            warnings.warn(f"{location}: {message} [{kind}]" if message else f"{location} [{kind}]",
                          DatasetWarning, stacklevel=2)
        self.counts[kind] = self.counts.get(kind, 0) + 1
        where = self.locations.setdefault(kind, [])
        if len(where) < self.max_locations:
            where.append(f"{location}: {message}" if message else location)

    def total(self) -> int:
        return sum(self.counts.values())
