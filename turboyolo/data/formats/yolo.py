"""YOLO format: a data YAML (path, train, val, test, names) and one `class cx cy w h` txt per image.

Split entries may be a folder (searched recursively), a .txt list of image paths, an image, or a
list of those. Labels are found by the images/ -> labels/ convention: the last `images` folder in
an image's path becomes `labels` and the extension `.txt` (labels sit next to the image when the
path has no `images` folder). Coordinates are normalised to [0, 1]; a line with more than five
numbers is a polygon (`class x1 y1 x2 y2 ...`) and becomes its bounding box.
"""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import yaml

from turboyolo.data.formats.file_placement import UniqueNames, WrittenDataset, place_image
from turboyolo.data.formats.image_probe import IMAGE_EXTENSIONS, UNSUPPORTED_IMAGE_EXTENSIONS, probe_images, scan_image_folder
from turboyolo.data.formats.label_index import ParsedDataset, RawSplit, RawSplitBuilder, load_or_build
from turboyolo.data.records import DatasetError, DetectionData

SPLITS = ("train", "val", "test")
REQUIRED_SPLITS = ("train", "val")


def label_path_for(image_path: str) -> str:
    """.../images/train/a.jpg -> .../labels/train/a.txt (last `images` folder only)."""
    parts = Path(image_path).parts
    stem_txt = Path(image_path).with_suffix(".txt").name
    for i in range(len(parts) - 2, -1, -1):
        if parts[i] == "images":
            return str(Path(*parts[:i], "labels", *parts[i + 1:-1], stem_txt))
    return str(Path(image_path).with_suffix(".txt"))


def read_names(config: dict, yaml_path: Path) -> list[str]:
    """names as a list, or a dict {id: name} with ids 0..nc-1; nc alone gives class0, class1..."""
    names = config.get("names")
    if isinstance(names, dict):
        try:
            by_id = {int(k): str(v) for k, v in names.items()}
        except (TypeError, ValueError):
            raise DatasetError(f"{yaml_path}: 'names' keys must be class ids 0..nc-1, got {list(names)}") from None
        if sorted(by_id) != list(range(len(by_id))):
            raise DatasetError(f"{yaml_path}: 'names' ids must be 0..{len(by_id) - 1} without gaps, got {sorted(by_id)}")
        names = [by_id[i] for i in range(len(by_id))]
    elif isinstance(names, list):
        names = [str(n) for n in names]
    elif names is None and isinstance(config.get("nc"), int) and config["nc"] > 0:
        names = [f"class{i}" for i in range(config["nc"])]
    else:
        raise DatasetError(f"{yaml_path}: needs 'names' (a list, or a dict id: name) or 'nc'")
    if isinstance(config.get("nc"), int) and config["nc"] != len(names):
        raise DatasetError(f"{yaml_path}: nc={config['nc']} but {len(names)} names are given")
    if not names:
        raise DatasetError(f"{yaml_path}: 'names' is empty")
    return names


def _dataset_root(config: dict, yaml_path: Path) -> Path:
    """`path` relative to the YAML's folder (then to the working directory); the YAML's folder if absent.

    A `path` that names no folder is an error: falling back to another folder would silently
    train on whatever images happen to be there.
    """
    given = config.get("path")
    if not given:
        return yaml_path.parent
    candidates = [Path(given)] if Path(given).is_absolute() else [yaml_path.parent / given, Path.cwd() / given]
    found = next((c for c in candidates if c.is_dir()), None)
    if found is None:
        looked = " or ".join(str(c.resolve()) for c in candidates)
        raise DatasetError(f"{yaml_path}: path: {given} is not a folder (looked for {looked}); "
                           f"fix it, or remove 'path' to use the YAML's folder")
    return found


class _SplitListing:
    """The images one split entry names, and what was wrong with the naming itself."""

    def __init__(self):
        self.images: list[str] = []
        self.inputs: list[str] = []  # extra files whose change must invalidate the cache
        self.problems: list[tuple[str, str, str]] = []
        self.label_dirs: dict[str, str] = {}  # label folder -> image folder, for orphan detection

    def add_entry(self, entry: str, root: Path) -> None:
        path = Path(entry).expanduser()
        path = path if path.is_absolute() else root / path
        if path.is_dir():
            images, unsupported = scan_image_folder(str(path))
            self.images += images
            for bad in unsupported:
                self.problems.append(("image_unsupported_ext", bad, f"extension {Path(bad).suffix} cannot be read; skipped"))
            label_dir = label_path_for(str(path / "x.jpg"))
            if Path(label_dir).parent != path:
                self.label_dirs[str(Path(label_dir).parent)] = str(path)
        elif path.suffix.lower() == ".txt" and path.is_file():
            self.inputs.append(str(path))
            self._add_list_file(path, root)
        elif path.suffix.lower() in IMAGE_EXTENSIONS and path.is_file():
            self.images.append(str(path))
        else:
            self.problems.append(("split_path_missing", str(path), "split entry is not a folder, .txt list or image"))

    def _add_list_file(self, list_file: Path, root: Path) -> None:
        for line_no, line in enumerate(list_file.read_text(encoding="utf-8", errors="replace").splitlines(), 1):
            name = line.strip()
            if not name or name.startswith("#"):
                continue
            candidate = Path(name)
            if not candidate.is_absolute():
                # ./a.jpg is relative to the list file; plain names to the list file, then the root.
                options = [list_file.parent / candidate, root / candidate]
                candidate = next((o for o in options if o.exists()), options[0])
            where = f"{list_file}:{line_no}"
            ext = candidate.suffix.lower()
            if ext in UNSUPPORTED_IMAGE_EXTENSIONS or ext not in IMAGE_EXTENSIONS:
                self.problems.append(("image_unsupported_ext", where, f"{candidate.name}: extension not readable; skipped"))
            elif not candidate.is_file():
                self.problems.append(("image_missing", where, f"listed image {candidate} does not exist; skipped"))
            else:
                self.images.append(os.path.normpath(str(candidate)))


def _parse_label_text(label_file: str) -> tuple[list[tuple[int, list[float]]], list[tuple[str, str, str]], bool]:
    """Parse one label file. Returns ([(line, [class, numbers...])], problems, usable).

    usable is False when the file exists but cannot be read: the image is then skipped, since
    using it as background would teach the model that its objects are not there.
    """
    try:
        text = Path(label_file).read_text()
    except FileNotFoundError:
        return [], [("label_missing", label_file, "no label file; image used as background (no objects)")], True
    except (OSError, UnicodeDecodeError) as err:
        return [], [("label_unreadable", label_file, f"cannot read labels ({err}); image skipped")], False
    lines = [(n, line.split()) for n, line in enumerate(text.splitlines(), 1) if line.strip()]
    if not lines:
        return [], [("label_empty", label_file, "empty label file; image used as background (no objects)")], True
    parsed, problems = [], []
    for line_no, values in lines:
        where = f"{label_file}:{line_no}"
        if len(values) < 5 or (len(values) > 5 and len(values) % 2 == 0):
            problems.append(("label_line_bad", where, f"expected 'class cx cy w h' (5 numbers), got {len(values)} values; skipped"))
            continue
        try:
            numbers = [float(v) for v in values]
        except ValueError:
            problems.append(("label_line_bad", where, f"non-numeric value in {' '.join(values)!r}; skipped"))
            continue
        if not np.isfinite(numbers[0]) or numbers[0] != int(numbers[0]):
            problems.append(("label_line_bad", where, f"class id {values[0]!r} is not an integer; skipped"))
            continue
        parsed.append((line_no, numbers))
    return parsed, problems, True


def _read_split(images: list[str]) -> RawSplit:
    builder = RawSplitBuilder("line")
    for path, probe in zip(images, probe_images(images)):
        if not builder.check_image(path, probe):
            continue
        label_file = label_path_for(path)
        lines, problems, usable = _parse_label_text(label_file)
        builder.problems += problems
        if not usable:
            continue
        row = builder.add_image(path, probe.width, probe.height, label_file)
        for line_no, numbers in lines:
            if len(numbers) == 5:
                cx, cy, w, h = numbers[1:]
                x1, y1, x2, y2 = cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2
            else:  # polygon: its bounding box
                xs, ys = numbers[1::2], numbers[2::2]
                x1, y1, x2, y2 = min(xs), min(ys), max(xs), max(ys)
            scaled = (x1 * probe.width, y1 * probe.height, x2 * probe.width, y2 * probe.height)
            builder.add_box(row, scaled, int(numbers[0]), line_no)
    return builder.build()


def _orphan_labels(listing: _SplitListing, used: set[str]) -> list[tuple[str, str, str]]:
    problems = []
    for label_dir in listing.label_dirs:
        for parent, _dirs, files in os.walk(label_dir):
            for name in sorted(files):
                path = os.path.join(parent, name)
                if name.endswith(".txt") and path not in used:
                    problems.append(("label_orphan", path, "label file without a matching image; ignored"))
    return problems


def _cache_file(images: list[str], split: str) -> Path:
    label_dir = Path(label_path_for(images[0])).parent
    name = f"{label_dir.name}.turboyolo.cache" if label_dir.name == split else f"{label_dir.name}.{split}.turboyolo.cache"
    return label_dir.parent / name


def read_yolo(yaml_path: str | Path, cache_dir: str | None = None) -> ParsedDataset:
    yaml_path = Path(yaml_path)
    try:
        config = yaml.safe_load(yaml_path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as err:
        raise DatasetError(f"cannot read data YAML {yaml_path}: {err}") from None
    if not isinstance(config, dict):
        raise DatasetError(f"{yaml_path}: a data YAML must be a mapping with train, val and names")
    missing = [s for s in REQUIRED_SPLITS if not config.get(s)]
    if missing:
        raise DatasetError(f"{yaml_path}: missing split(s) {', '.join(missing)} (need train and val)")
    names = read_names(config, yaml_path)
    root = _dataset_root(config, yaml_path)
    splits, sources = {}, {}
    for split in SPLITS:
        entries = config.get(split)
        if not entries:
            continue
        listing = _SplitListing()
        for entry in entries if isinstance(entries, list) else [entries]:
            listing.add_entry(str(entry), root)
        images = list(dict.fromkeys(listing.images))  # same image listed twice: once
        sources[split] = ", ".join(str(e) for e in (entries if isinstance(entries, list) else [entries]))
        labels = [label_path_for(p) for p in images]
        listed_labels = [os.path.join(p, f) for d in listing.label_dirs for p, _, fs in os.walk(d) for f in fs]
        inputs = [str(yaml_path)] + listing.inputs + images + labels + sorted(set(listed_labels) - set(labels))
        if images:
            raw, _ = load_or_build(_cache_file(images, split), inputs, lambda: _read_split(images), cache_dir, "yolo")
        else:
            raw = RawSplit()
        raw.problems = listing.problems + _orphan_labels(listing, set(labels)) + raw.problems
        splits[split] = raw
    label_to_class = {str(i): i for i in range(len(names))}
    return ParsedDataset(names, splits, label_to_class, "class_out_of_range", str(root), "yolo", sources)


def write_yolo(data: DetectionData, out: str | Path) -> WrittenDataset:
    """Write `data` as out/images/<split>/, out/labels/<split>/*.txt and out/data.yaml.

    YOLO labels cannot mark a box as difficult or crowd: a dataset holding such boxes (ignored
    ground truth) is refused before anything is written, rather than silently changed.
    """
    ignored = sum(len(r.ignored_boxes) for records in data.splits.values() for r in records)
    if ignored:
        raise DatasetError(f"{data.source or data.root} has {ignored} difficult/crowd boxes, which YOLO labels cannot "
                           f"mark: convert with difficult=drop to leave them out, or difficult=train to write them "
                           f"as ordinary boxes")
    out = Path(out)
    written = WrittenDataset(out / "data.yaml")
    for split, records in data.splits.items():
        taken = UniqueNames()
        written.images[split] = []
        for record in records:
            name = taken.claim(Path(record.path).name)
            place_image(record.path, out / "images" / split / name)
            written.images[split].append(str(out / "images" / split / name))
            label_file = out / "labels" / split / Path(name).with_suffix(".txt")
            label_file.parent.mkdir(parents=True, exist_ok=True)
            scale = np.array([record.width, record.height] * 2, np.float64)
            xyxy = record.boxes.astype(np.float64) / scale
            lines = [
                f"{c} {(x1 + x2) / 2:.6f} {(y1 + y2) / 2:.6f} {x2 - x1:.6f} {y2 - y1:.6f}"
                for c, (x1, y1, x2, y2) in zip(record.classes.tolist(), xyxy.tolist())
            ]
            label_file.write_text("".join(line + "\n" for line in lines))
    # No `path`: the splits are relative to the YAML's own folder, so the dataset can be moved whole.
    config = {**{s: f"images/{s}" for s in data.splits}, "names": list(data.names)}
    written.data.write_text(yaml.safe_dump(config, sort_keys=False, allow_unicode=True), encoding="utf-8")
    return written
