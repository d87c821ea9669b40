"""Tiny datasets written into tmp_path for the format tests: real image files, a few boxes each."""
from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import yaml

# The shared read-only copy lives next to the repository: <repo>/../shared/datasets/bccd/BCCD.
BCCD = (Path(__file__).resolve().parents[2] / ".." / "shared" / "datasets" / "bccd" / "BCCD").resolve()


def write_image(path: Path, width: int = 64, height: int = 48, seed: int = 0) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    image = np.random.default_rng(seed).integers(0, 255, (height, width, 3), dtype=np.uint8)
    assert cv2.imwrite(str(path), image)
    return path


def make_yolo(root: Path, splits: dict[str, dict[str, str | None]], names=("cat", "dog"), size=(64, 48)) -> Path:
    """splits: {split: {image name: label text or None (no label file)}}; returns data.yaml."""
    for split, images in splits.items():
        for i, (name, label) in enumerate(images.items()):
            write_image(root / "images" / split / name, *size, seed=i)
            if label is not None:
                label_file = root / "labels" / split / Path(name).with_suffix(".txt")
                label_file.parent.mkdir(parents=True, exist_ok=True)
                label_file.write_text(label)
    data_yaml = root / "data.yaml"
    config = {"path": str(root), **{s: f"images/{s}" for s in splits}, "names": list(names)}
    data_yaml.write_text(yaml.safe_dump(config))
    return data_yaml


def voc_xml(filename: str, objects: list[tuple], size=(64, 48)) -> str:
    """objects: (name, (x1, y1, x2, y2)) or (name, box, difficult 0/1)."""
    body = "".join(f"<object><name>{n}</name><difficult>{d[0] if d else 0}</difficult><bndbox><xmin>{b[0]}</xmin>"
                   f"<ymin>{b[1]}</ymin><xmax>{b[2]}</xmax><ymax>{b[3]}</ymax></bndbox></object>" for n, b, *d in objects)
    return (f"<annotation><filename>{filename}</filename><size><width>{size[0]}</width>"
            f"<height>{size[1]}</height><depth>3</depth></size>{body}</annotation>")


def make_voc(root: Path, splits: dict[str, dict[str, list]], size=(64, 48), classes: list[str] | None = None) -> Path:
    """splits: {split: {image id: [(name, (x1, y1, x2, y2)[, difficult]), ...]}}; returns the VOC root."""
    (root / "Annotations").mkdir(parents=True, exist_ok=True)
    (root / "ImageSets" / "Main").mkdir(parents=True, exist_ok=True)
    for split, images in splits.items():
        for i, (image_id, objects) in enumerate(images.items()):
            write_image(root / "JPEGImages" / f"{image_id}.jpg", *size, seed=i)
            (root / "Annotations" / f"{image_id}.xml").write_text(voc_xml(f"{image_id}.jpg", objects, size))
        (root / "ImageSets" / "Main" / f"{split}.txt").write_text("".join(f"{i}\n" for i in images))
    if classes:
        (root / "classes.txt").write_text("\n".join(classes) + "\n")
    return root


def make_coco(root: Path, splits: dict[str, dict[str, list]], categories=((1, "cat"), (3, "dog")), size=(64, 48)) -> Path:
    """splits: {split: {file name: [(category id, [x, y, w, h]), ...]}}; returns the root folder."""
    (root / "annotations").mkdir(parents=True, exist_ok=True)
    for split, images in splits.items():
        content = {"images": [], "annotations": [], "categories": [{"id": i, "name": n} for i, n in categories]}
        for image_id, (name, boxes) in enumerate(images.items(), 1):
            write_image(root / "images" / split / name, *size, seed=image_id)
            content["images"].append({"id": image_id, "file_name": name, "width": size[0], "height": size[1]})
            for category, bbox in boxes:
                content["annotations"].append({"id": len(content["annotations"]) + 1, "image_id": image_id,
                                               "category_id": category, "bbox": bbox, "iscrowd": 0, "area": 1})
        (root / "annotations" / f"instances_{split}.json").write_text(json.dumps(content))
    return root
