"""Which format a `data=` value is in, from the path alone (no label is parsed here)."""
from __future__ import annotations

import os
from pathlib import Path

from turboyolo.data.formats.voc import looks_like_voc
from turboyolo.data.records import DatasetError

SYNTHETIC = "synthetic"
YAML_NAMES = ("data.yaml", "data.yml", "dataset.yaml")


def detect_format(data: str) -> tuple[str, Path | None]:
    """(format, path to read) for a data= value: "synthetic", "yolo" (a data YAML), "voc" (a root
    or a VOCdevkit holding one) or "coco" (an instances json, or a folder with annotations/).

    Raises DatasetError naming what was looked for when nothing fits.
    """
    if data == SYNTHETIC:
        return SYNTHETIC, None
    path = Path(os.path.abspath(Path(data).expanduser()))  # '..' removed: one cache key per dataset
    if not path.exists():
        raise DatasetError(f"data={data}: no such file or folder (expected a data YAML, a VOC root, "
                           f"a COCO json or folder, or 'synthetic')")
    if path.is_file():
        suffix = path.suffix.lower()
        if suffix in (".yaml", ".yml"):
            return "yolo", path
        if suffix == ".json":
            return "coco", path
        raise DatasetError(f"data={data}: a {suffix or 'suffix-less'} file is not a dataset description "
                           f"(use a .yaml data file, a COCO .json, or a folder)")
    if looks_like_voc(path):
        return "voc", path
    if list((path / "annotations").glob("instances_*.json")) or list(path.glob("instances_*.json")):
        return "coco", path
    for name in YAML_NAMES:
        if (path / name).is_file():
            return "yolo", path / name
    yamls = sorted(path.glob("*.yaml")) + sorted(path.glob("*.yml"))
    if len(yamls) == 1:
        return "yolo", yamls[0]
    voc_children = [c for c in sorted(path.iterdir()) if c.is_dir() and looks_like_voc(c)]
    if len(voc_children) == 1:
        return "voc", voc_children[0]
    raise DatasetError(f"data={data}: cannot tell the format of this folder: no data.yaml, no VOC "
                       f"Annotations/ + JPEGImages/, no annotations/instances_*.json")
