"""Putting image files into a converted dataset: hard links when possible, copies otherwise."""
from __future__ import annotations

import os
import shutil
from pathlib import Path


def place_image(source: str, target: Path) -> None:
    """Hard-link `source` at `target` (no extra disk space), copying when linking is not allowed
    (another file system, or a read-only file owned by someone else under protected_hardlinks)."""
    target.parent.mkdir(parents=True, exist_ok=True)
    if target.exists():
        target.unlink()
    try:
        os.link(source, target)
    except OSError:
        shutil.copyfile(source, target)


class UniqueNames:
    """File names that stay unique inside one output folder: 'a.jpg', then 'a_1.jpg', 'a_2.jpg'..."""

    def __init__(self):
        self.taken: set[str] = set()

    def claim(self, name: str) -> str:
        stem, ext = os.path.splitext(name)
        candidate, counter = name, 0
        while candidate.lower() in self.taken:
            counter += 1
            candidate = f"{stem}_{counter}{ext}"
        self.taken.add(candidate.lower())
        return candidate
