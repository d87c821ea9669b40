"""COCO: instances_<split>.json (images, annotations with [x, y, w, h] pixel boxes, categories) + images.

`data=` is one instances_*.json (its instances_*.json siblings are the other splits) or a folder
holding annotations/instances_*.json. Images are looked for next to the annotations folder:
<root>/<tag>/, <root>/images/<tag>/, <root>/images/ (tag = train2017 for instances_train2017.json).
Class ids are the category ids in increasing order (COCO's 1..90 become 0..79). Crowd
annotations (iscrowd=1) mark regions, not single objects: they are read as difficult boxes, which
the difficult= policy (default: ignore) keeps out of training and makes the metric ignore, as
COCO's own evaluation does.
"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from turboyolo.data.formats.file_placement import UniqueNames, WrittenDataset, place_image
from turboyolo.data.formats.image_probe import IMAGE_EXTENSIONS, probe_images
from turboyolo.data.formats.label_index import ParsedDataset, RawSplit, RawSplitBuilder, load_or_build
from turboyolo.data.records import DatasetError, DetectionData


def split_name(json_file: Path) -> str:
    """instances_train2017.json -> train; instances_val.json -> val; other.json -> other."""
    tag = json_file.stem.removeprefix("instances_").lower()
    return next((s for s in ("train", "val", "test") if s in tag), tag)


def annotation_files(data: Path) -> list[Path]:
    """The COCO json files `data` names: itself and its instances_* siblings, or those in a folder."""
    if data.is_file():
        if data.stem.startswith("instances_"):
            return sorted(data.parent.glob("instances_*.json"))
        return [data]
    for folder in (data / "annotations", data):
        found = sorted(folder.glob("instances_*.json"))
        if found:
            return found
    raise DatasetError(f"{data}: no annotations/instances_*.json found")


def _image_folder_candidates(json_file: Path) -> list[Path]:
    """Folders that may hold the images of json_file, most likely first."""
    tag = json_file.stem.removeprefix("instances_")
    bases = [json_file.parent.parent, json_file.parent] if json_file.parent.name == "annotations" else [json_file.parent]
    usual = [c for base in bases for c in (base / tag, base / "images" / tag, base / "images", base)]
    # Last resort for oddly named files: any folder one level down (images/train for only.json).
    others = [c for base in bases for parent in (base / "images", base) if parent.is_dir()
              for c in sorted(parent.iterdir()) if c.is_dir() and c not in usual]
    return usual + others


def _load_json(json_file: Path) -> dict:
    try:
        content = json.loads(json_file.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as err:
        raise DatasetError(f"cannot read COCO file {json_file}: {err}") from None
    if not isinstance(content, dict) or not isinstance(content.get("images"), list):
        raise DatasetError(f"{json_file}: not a COCO detection file (needs 'images', 'annotations', 'categories')")
    return content


def _pick_image_folder(json_file: Path, images: list[dict]) -> Path:
    candidates = _image_folder_candidates(json_file)
    names = [str(i.get("file_name", "")) for i in images[:20]]
    for folder in candidates:
        if any((folder / n).is_file() for n in names if n):
            return folder
    return next((c for c in candidates if c.is_dir()), candidates[0])


def _index_images(builder: RawSplitBuilder, content: dict, json_file: Path, folder: Path) -> list[tuple[dict, str]]:
    """Valid image entries with an existing, readable-looking file; problems for the rest."""
    usable, seen_ids = [], set()
    for position, entry in enumerate(content["images"]):
        if not isinstance(entry, dict) or "id" not in entry or not entry.get("file_name"):
            builder.problem("annotation_bad", f"{json_file} (image entry {position})", "image without id or file_name; skipped")
            continue
        where = f"{json_file} (image id {entry['id']})"
        if entry["id"] in seen_ids:
            builder.problem("annotation_bad", where, "image id used twice; second entry skipped")
            continue
        seen_ids.add(entry["id"])
        path = folder / entry["file_name"]
        if path.suffix.lower() not in IMAGE_EXTENSIONS:
            builder.problem("image_unsupported_ext", str(path), f"extension {path.suffix} cannot be read; skipped")
        elif not path.is_file():
            builder.problem("image_missing", where, f"{entry['file_name']} not found in {folder}; its annotations are unused")
        else:
            usable.append((entry, str(path)))
    return usable


def _read_split(json_file: Path) -> RawSplit:
    content = _load_json(json_file)
    builder = RawSplitBuilder("annotation id")
    for category in content.get("categories") or []:
        if isinstance(category, dict) and "id" in category:
            builder.label_names.append((str(category["id"]), str(category.get("name", category["id"]))))
    folder = _pick_image_folder(json_file, content["images"])
    usable = _index_images(builder, content, json_file, folder)
    rows: dict[object, tuple[int, np.ndarray]] = {}  # COCO image id -> (row, box scale for a size mismatch)
    for (entry, path), probe in zip(usable, probe_images([p for _, p in usable])):
        if not builder.check_image(path, probe):
            continue
        scale = np.ones(4)
        noted = (entry.get("width"), entry.get("height"))
        if all(isinstance(v, (int, float)) and v > 0 for v in noted) and tuple(noted) != (probe.width, probe.height):
            same_aspect = abs(noted[0] * probe.height - noted[1] * probe.width) <= 0.01 * noted[0] * probe.height
            if same_aspect:
                scale = np.array([probe.width / noted[0], probe.height / noted[1]] * 2)
            builder.problem("image_size_mismatch", f"{json_file} (image id {entry['id']})",
                            f"width/height say {noted[0]}x{noted[1]} but {Path(path).name} is {probe.width}x{probe.height}; "
                            + ("boxes rescaled" if same_aspect else "boxes kept and clipped to the image"))
        image_id = entry["id"] if isinstance(entry["id"], int) else len(rows)
        rows[entry["id"]] = (builder.add_image(path, probe.width, probe.height, str(json_file), image_id), scale)
    listed = {entry.get("id") for entry in content["images"] if isinstance(entry, dict)}
    for position, ann in enumerate(content.get("annotations") or []):
        ann_id = ann.get("id", position) if isinstance(ann, dict) else position
        where = f"{json_file} (annotation id {ann_id})"
        if not isinstance(ann, dict) or "image_id" not in ann or "category_id" not in ann:
            builder.problem("annotation_bad", where, "annotation without image_id or category_id; skipped")
            continue
        if ann["image_id"] not in listed:
            builder.problem("label_orphan", where, f"annotation for image id {ann['image_id']}, which is not in 'images'")
            continue
        if ann["image_id"] not in rows:
            continue  # its image is missing or unreadable: already reported once for the image
        bbox = ann.get("bbox")
        try:
            x, y, w, h = (float(v) for v in bbox)
        except (TypeError, ValueError):
            builder.problem("annotation_bad", where, f"bbox {bbox!r} is not [x, y, w, h]; skipped")
            continue
        row, scale = rows[ann["image_id"]]
        ref = ann_id if isinstance(ann_id, int) else position
        builder.add_box(row, np.array([x, y, x + w, y + h]) * scale, ann["category_id"], ref, bool(ann.get("iscrowd", 0)))
    return builder.build()


def _category_order(label: str) -> tuple:
    """Numeric category ids in increasing order (2 before 10), any non-numeric ones after."""
    numeric = label.lstrip("-").isdigit()
    return (not numeric, int(label) if numeric else 0, label)


def read_coco(data: str | Path, cache_dir: str | None = None) -> ParsedDataset:
    files = annotation_files(Path(data))
    splits, sources = {}, {}
    for json_file in files:
        split = split_name(json_file)
        folders = [str(c) for c in _image_folder_candidates(json_file)]
        # Folder mtimes change when images are added or removed, so the json need not be parsed to
        # validate the cache (a full COCO train json takes ~10 s to parse).
        cache_file = json_file.with_suffix(".turboyolo.cache")
        raw, _ = load_or_build(cache_file, [str(json_file)] + folders, lambda: _read_split(json_file), cache_dir, "coco")
        splits[split] = raw
        sources[split] = str(json_file)
    usual = ("train", "val", "test")
    splits = dict(sorted(splits.items(), key=lambda item: (usual.index(item[0]) if item[0] in usual else 3, item[0])))
    if len(splits) == 1:
        (only, raw), = splits.items()
        # One annotation file: train and validate on it (and say so) rather than refuse to run.
        splits = {"train": raw, "val": RawSplit(**{**raw.__dict__, "problems": []})}
        sources = {"train": sources[only], "val": f"{sources[only]} (the only split: also used for val)"}
    categories: dict[str, str] = {}
    for raw in splits.values():
        for label, name in raw.label_names:
            categories.setdefault(label, name)
    if not categories:
        raise DatasetError(f"{', '.join(map(str, files))}: no 'categories', so no class names")
    ordered = sorted(categories, key=_category_order)
    names = [categories[label] for label in ordered]
    root = files[0].parent.parent if files[0].parent.name == "annotations" else files[0].parent
    return ParsedDataset(names, splits, {label: i for i, label in enumerate(ordered)}, "class_out_of_range",
                         str(root), "coco", sources)


def write_coco(data: DetectionData, out: str | Path) -> WrittenDataset:
    """Write out/annotations/instances_<split>.json and out/images/<split>/.

    Ignored ground truth (VOC difficult, COCO crowd) is written with iscrowd=1: the one flag
    pycocotools ignores detections on.
    """
    out = Path(out)
    (out / "annotations").mkdir(parents=True, exist_ok=True)
    written = WrittenDataset(out)
    categories = [{"id": i + 1, "name": name, "supercategory": "none"} for i, name in enumerate(data.names)]
    for split, records in data.splits.items():
        taken = UniqueNames()
        images, annotations = [], []
        written.images[split] = []
        for image_id, record in enumerate(records, 1):
            name = taken.claim(Path(record.path).name)
            place_image(record.path, out / "images" / split / name)
            written.images[split].append(str(out / "images" / split / name))
            images.append({"id": image_id, "file_name": name, "width": record.width, "height": record.height})
            boxes = [(c, box, 0) for c, box in zip(record.classes.tolist(), record.boxes.tolist())]
            boxes += [(c, box, 1) for c, box in zip(record.ignored_classes.tolist(), record.ignored_boxes.tolist())]
            for c, (x1, y1, x2, y2), crowd in boxes:
                w, h = x2 - x1, y2 - y1
                annotations.append({"id": len(annotations) + 1, "image_id": image_id, "category_id": c + 1,
                                    "bbox": [round(x1, 3), round(y1, 3), round(w, 3), round(h, 3)],
                                    "area": round(w * h, 3), "iscrowd": crowd})
        content = {"images": images, "annotations": annotations, "categories": categories}
        (out / "annotations" / f"instances_{split}.json").write_text(json.dumps(content), encoding="utf-8")
    return written
