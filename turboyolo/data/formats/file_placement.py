"""Putting a converted dataset on disk: where it may go, its file names, and its image files
(hard links when possible, copies otherwise). No writer may delete or overwrite a source file."""
from __future__ import annotations

import os
import shutil
from dataclasses import dataclass, field
from pathlib import Path

from turboyolo.data.records import DatasetError, DetectionData


@dataclass
class WrittenDataset:
    """What a writer produced. data: what to pass as data= to read it back. images: per split, the
    written image of each source record, in the source's order (the identity of every copy)."""

    data: Path
    images: dict[str, list[str]] = field(default_factory=dict)


def _within(path: str, folder: str) -> bool:
    return path == folder or path.startswith(folder.rstrip(os.sep) + os.sep)


def check_output_folder(data: DetectionData, out: str | Path, exist_ok: bool = False) -> None:
    """Refuse an output folder that could overwrite or mix with `data`'s own files, or (unless
    exist_ok) one that already holds files. Raises DatasetError naming out= and the fix."""
    target = os.path.realpath(out)
    records = [r for records in data.splits.values() for r in records]
    # Folders of the source: its root and every folder an image or annotation file of it sits in.
    files = {p for r in records for p in (r.path, r.label_file) if p}
    folders = {os.path.realpath(os.path.dirname(p)) for p in files}
    folders |= {os.path.realpath(data.root)} if data.root else set()
    for folder in sorted(folders):
        if _within(target, folder):
            raise DatasetError(f"out={out} is inside the source dataset ({folder}); writing there could overwrite "
                               f"or mix with its files: choose a folder outside it")
        if _within(folder, target):
            raise DatasetError(f"out={out} contains the source dataset ({folder}); choose a folder outside it")
    if data.source and os.path.isfile(data.source) and _within(os.path.realpath(data.source), target):
        raise DatasetError(f"out={out} contains the source dataset file {data.source}; choose a folder outside it")
    if os.path.isfile(target):
        raise DatasetError(f"out={out} is a file; choose a new or empty folder")
    if os.path.isdir(target) and any(os.scandir(target)) and not exist_ok:
        raise DatasetError(f"out={out} is not empty; choose a new or empty folder "
                           f"(exist_ok=True writes into it, replacing files of the same name)")


def place_image(source: str, target: Path) -> None:
    """Hard-link `source` at `target` (no extra disk space), copying when linking is not allowed
    (another file system, or a read-only file owned by someone else under protected_hardlinks)."""
    if os.path.realpath(source) == os.path.realpath(target):  # never unlink the source itself
        raise DatasetError(f"refusing to write {target} over its own source image")
    target.parent.mkdir(parents=True, exist_ok=True)
    if target.exists():
        target.unlink()
    try:
        os.link(source, target)
    except OSError:
        shutil.copyfile(source, target)


class UniqueNames:
    """File names whose stems stay unique inside one output folder: 'a.jpg', then 'a_1.png',
    'a_2.jpg'... Stems, because label and annotation files are named after them (a.jpg and a.png
    would otherwise share a.txt). Case-insensitive, for case-insensitive file systems."""

    def __init__(self):
        self.taken: set[str] = set()

    def claim(self, name: str) -> str:
        stem, ext = os.path.splitext(name)
        candidate, counter = stem, 0
        while candidate.lower() in self.taken:
            counter += 1
            candidate = f"{stem}_{counter}"
        self.taken.add(candidate.lower())
        return candidate + ext
