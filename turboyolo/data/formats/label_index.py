"""The parsed label index of one split, and its on-disk cache (rebuilt when any input file changes).

Parsing labels and probing images is the slow part of loading a dataset (one file open per image),
so every reader produces a `RawSplit` once and stores it as an `.npz` (numpy arrays and strings
only, loaded with allow_pickle=False: a cache file can never execute code). The cache is valid
while the size and mtime of every input file (images, label files, split lists) are unchanged.

It lives next to the labels when that folder is writable, else under cache_root()/index/
(read-only datasets such as the shared BCCD copy).
"""
from __future__ import annotations

import hashlib
import io
import os
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np

from turboyolo.paths import cache_root

INDEX_VERSION = "2"  # bump when RawSplit's meaning changes: old caches are then ignored


@dataclass
class RawSplit:
    """One split as read from disk, before repairs (clipping, class checks, de-duplication).

    Images are rows 0..I-1, boxes rows 0..N-1:
    paths, label_files: (I,) absolute image path and the file its labels came from ("" if none).
    sizes: (I, 2) int64 width, height in pixels; image_ids: (I,) int64.
    box_image: (N,) int64 row of the image a box belongs to.
    boxes: (N, 4) float64 xyxy pixels, possibly outside the image or inverted.
    labels: (N,) str raw class label (YOLO id as text, VOC name unstripped, COCO category id as text).
    refs: (N,) int64 where in label_files the box was written: a line, an object index or an annotation id.
    difficult: (N,) bool boxes the annotation marks as not required to be found (VOC difficult=1,
      COCO iscrowd=1); what becomes of them is the difficult= policy, applied in repair.py.
    problems: (kind, location, message) found while reading, replayed on every load.
    label_names: (label, class name) pairs when the labels are ids named by the file (COCO categories).
    """

    paths: list[str] = field(default_factory=list)
    label_files: list[str] = field(default_factory=list)
    sizes: np.ndarray = field(default_factory=lambda: np.zeros((0, 2), np.int64))
    image_ids: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    box_image: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    boxes: np.ndarray = field(default_factory=lambda: np.zeros((0, 4), np.float64))
    labels: np.ndarray = field(default_factory=lambda: np.zeros(0, "<U1"))
    refs: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    difficult: np.ndarray = field(default_factory=lambda: np.zeros(0, bool))
    ref_word: str = "line"  # what refs count: "line" (file:line), "object", "annotation id"
    problems: list[tuple[str, str, str]] = field(default_factory=list)
    label_names: list[tuple[str, str]] = field(default_factory=list)


class RawSplitBuilder:
    """Accumulates images and boxes one at a time, then freezes them into a RawSplit."""

    def __init__(self, ref_word: str = "line"):
        self.ref_word = ref_word
        self.paths: list[str] = []
        self.label_files: list[str] = []
        self.sizes: list[tuple[int, int]] = []
        self.image_ids: list[int] = []
        self.box_image: list[int] = []
        self.boxes: list[tuple[float, float, float, float]] = []
        self.labels: list[str] = []
        self.refs: list[int] = []
        self.difficult: list[bool] = []
        self.problems: list[tuple[str, str, str]] = []
        self.label_names: list[tuple[str, str]] = []

    def problem(self, kind: str, location: str, message: str) -> None:
        self.problems.append((kind, str(location), message))

    def check_image(self, path: str, probe) -> bool:
        """Record what an ImageProbe found wrong with `path`; False when the image must be skipped."""
        if probe.error:
            self.problem("image_unreadable", path, f"{probe.error}; skipped")
            return False
        if probe.warning:  # usable after all (kind, message): counted as a repaired problem
            kind, message = probe.warning
            self.problem(kind, path, message)
        return True

    def add_image(self, path: str, width: int, height: int, label_file: str = "", image_id: int | None = None) -> int:
        self.paths.append(str(path))
        self.label_files.append(str(label_file))
        self.sizes.append((int(width), int(height)))
        self.image_ids.append(len(self.image_ids) if image_id is None else int(image_id))
        return len(self.paths) - 1

    def add_box(self, image_row: int, xyxy, label, ref: int, difficult: bool = False) -> None:
        self.box_image.append(image_row)
        self.boxes.append(tuple(float(v) for v in xyxy))
        self.labels.append(str(label))
        self.refs.append(int(ref))
        self.difficult.append(bool(difficult))

    def build(self) -> RawSplit:
        return RawSplit(
            paths=self.paths,
            label_files=self.label_files,
            sizes=np.array(self.sizes, np.int64).reshape(-1, 2),
            image_ids=np.array(self.image_ids, np.int64),
            box_image=np.array(self.box_image, np.int64),
            boxes=np.array(self.boxes, np.float64).reshape(-1, 4),
            labels=np.array(self.labels, dtype=str) if self.labels else np.zeros(0, "<U1"),
            refs=np.array(self.refs, np.int64),
            difficult=np.array(self.difficult, bool),
            ref_word=self.ref_word,
            problems=self.problems,
            label_names=self.label_names,
        )


def fingerprint(files: list[str], extra: str = "") -> str:
    """Hash of (path, size, mtime) of every input file; a missing file hashes as missing."""
    digest = hashlib.sha1(f"{INDEX_VERSION}|{extra}".encode())
    for path in files:
        try:
            stat = os.stat(path)
            digest.update(f"{path}|{stat.st_size}|{stat.st_mtime_ns}\n".encode())
        except OSError:
            digest.update(f"{path}|missing\n".encode())
    return digest.hexdigest()


def _to_arrays(raw: RawSplit, key: str) -> dict[str, np.ndarray]:
    problems = np.array(raw.problems, dtype=str).reshape(-1, 3)
    label_names = np.array(raw.label_names, dtype=str).reshape(-1, 2)
    return {
        "key": np.array(key), "ref_word": np.array(raw.ref_word),
        "paths": np.array(raw.paths, dtype=str), "label_files": np.array(raw.label_files, dtype=str),
        "sizes": raw.sizes, "image_ids": raw.image_ids, "box_image": raw.box_image, "boxes": raw.boxes,
        "labels": raw.labels, "refs": raw.refs, "difficult": raw.difficult, "problems": problems, "label_names": label_names,
    }


def _from_arrays(arrays) -> RawSplit:
    return RawSplit(
        paths=arrays["paths"].tolist(), label_files=arrays["label_files"].tolist(),
        sizes=arrays["sizes"].reshape(-1, 2), image_ids=arrays["image_ids"], box_image=arrays["box_image"],
        boxes=arrays["boxes"].reshape(-1, 4), labels=arrays["labels"], refs=arrays["refs"],
        difficult=arrays["difficult"].astype(bool),
        ref_word=str(arrays["ref_word"]), problems=[tuple(row) for row in arrays["problems"].tolist()],
        label_names=[tuple(row) for row in arrays["label_names"].tolist()],
    )


def cache_paths(preferred: Path, cache_dir: str | None) -> list[Path]:
    """Where the index of one split may live: next to its labels, else in the cache root."""
    tag = hashlib.sha1(str(preferred.resolve()).encode()).hexdigest()[:16]
    return [preferred, cache_root(cache_dir) / "index" / f"{tag}-{preferred.name}"]


def _try_load(path: Path, key: str) -> RawSplit | None:
    try:
        with np.load(path, allow_pickle=False) as arrays:
            if str(arrays["key"]) != key:
                return None
            return _from_arrays(arrays)
    except (OSError, KeyError, ValueError, EOFError):
        return None  # absent, stale format or corrupt: rebuild


def _folder_accepts_writes(folder: Path) -> bool:
    """Writable, and not marked read-only: root may write anywhere, but a folder whose permission
    bits say read-only (a shared dataset copy) must stay untouched even then."""
    try:
        return os.access(folder, os.W_OK) and bool(folder.stat().st_mode & 0o222)
    except OSError:
        return False


def _try_save(path: Path, raw: RawSplit, key: str) -> bool:
    """Atomic write (temp file + rename) so concurrent ranks never see half a cache."""
    tmp = None
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        if not _folder_accepts_writes(path.parent):
            return False
        buffer = io.BytesIO()
        np.savez(buffer, **_to_arrays(raw, key))
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=path.name, suffix=".tmp")
        with os.fdopen(fd, "wb") as handle:
            handle.write(buffer.getvalue())
        os.chmod(tmp, 0o644)  # mkstemp makes it private; other users of the dataset may read it
        os.replace(tmp, path)
        return True
    except OSError:
        if tmp is not None and os.path.exists(tmp):
            os.unlink(tmp)
        return False


def load_or_build(preferred: Path, inputs: list[str], build: Callable[[], RawSplit],
                  cache_dir: str | None = None, extra: str = "") -> tuple[RawSplit, bool]:
    """The cached RawSplit for these inputs, or build() it and cache it. Returns (raw, from_cache)."""
    key = fingerprint(inputs, extra)
    candidates = cache_paths(preferred, cache_dir)
    for path in candidates:
        raw = _try_load(path, key)
        if raw is not None:
            return raw, True
    raw = build()
    for path in candidates:
        if _try_save(path, raw, key):
            break
    return raw, False


@dataclass
class ParsedDataset:
    """What a format reader hands to load_dataset: names, raw splits, and how to map their labels.

    label_to_class: raw label text -> class id; unknown_kind: report kind for other labels.
    sources: per split, a short description of where its images were looked for (for errors).
    """

    names: list[str]
    splits: dict[str, RawSplit]
    label_to_class: dict[str, int]
    unknown_kind: str
    root: str
    format: str
    sources: dict[str, str] = field(default_factory=dict)
