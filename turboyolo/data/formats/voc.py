"""Pascal VOC: Annotations/<id>.xml (pixel boxes, class names), JPEGImages/, ImageSets/Main/<split>.txt.

`data=` names the VOC root (or a VOCdevkit folder holding exactly one VOC root). Class names come
from classes.txt in the root when present (the file the VOC writer leaves); otherwise they are the
names found in the annotations: the standard 20 VOC classes in their usual order when every name
is one of them (so ids match other VOC tools), else sorted alphabetically. Objects marked
<difficult>1</difficult> are read as difficult boxes (what becomes of them: the difficult= policy).
Text files are UTF-8.
"""
from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np

from turboyolo.data.formats.file_placement import UniqueNames, WrittenDataset, place_image
from turboyolo.data.formats.image_probe import IMAGE_EXTENSIONS, UNSUPPORTED_IMAGE_EXTENSIONS, probe_images
from turboyolo.data.formats.label_index import ParsedDataset, RawSplit, RawSplitBuilder, load_or_build
from turboyolo.data.records import DatasetError, DetectionData

VOC_CLASSES = ["aeroplane", "bicycle", "bird", "boat", "bottle", "bus", "car", "cat", "chair", "cow", "diningtable",
               "dog", "horse", "motorbike", "person", "pottedplant", "sheep", "sofa", "train", "tvmonitor"]
NAMES_FILES = ("classes.txt", "labels.txt")
SPLITS = ("train", "val", "test")
VAL_EVERY = 10  # without ImageSets/Main lists, every 10th annotated image (sorted by id) is val


def looks_like_voc(folder: Path) -> bool:
    return (folder / "Annotations").is_dir() and ((folder / "JPEGImages").is_dir() or (folder / "ImageSets").is_dir())


def voc_root(folder: Path) -> Path:
    """The folder itself, or its single VOC child (VOCdevkit/VOC2012)."""
    if looks_like_voc(folder):
        return folder
    children = [c for c in sorted(folder.iterdir()) if c.is_dir() and looks_like_voc(c)] if folder.is_dir() else []
    if len(children) == 1:
        return children[0]
    raise DatasetError(f"{folder} is not a VOC root (needs Annotations/ and JPEGImages/)"
                       + (f"; it holds several: {', '.join(c.name for c in children)}" if children else ""))


def _listed_id(root: Path, line: str) -> str:
    """The image id on one ImageSets line. Ids may hold spaces, so the whole line is the id when
    it names an annotation or image; otherwise its first word (lines such as '2008_000008  1')."""
    text = line.strip()
    if len(text.split()) > 1 and ((root / "Annotations" / f"{text}.xml").is_file()
                                  or _find_image(root, text, None) is not None):
        return text
    return text.split()[0]


def _split_ids(root: Path) -> tuple[dict[str, list[tuple[str, str]]], str]:
    """{split: [(image id, where it was listed)]} and a note on where the split came from."""
    lists = root / "ImageSets" / "Main"
    files = {s: lists / f"{s}.txt" for s in SPLITS if (lists / f"{s}.txt").is_file()}
    if "train" not in files and (lists / "trainval.txt").is_file():
        files["train"] = lists / "trainval.txt"
    if files:
        splits = {}
        for split, list_file in files.items():
            ids = []
            for line_no, line in enumerate(list_file.read_text(encoding="utf-8", errors="replace").splitlines(), 1):
                if line.split():
                    ids.append((_listed_id(root, line), f"{list_file}:{line_no}"))
            splits[split] = ids
        return splits, f"ImageSets/Main/{{{','.join(files)}}}.txt"
    stems = sorted(p.stem for p in (root / "Annotations").glob("*.xml"))
    val = {s for i, s in enumerate(stems) if i % VAL_EVERY == VAL_EVERY - 1}
    return ({"train": [(s, s) for s in stems if s not in val], "val": [(s, s) for s in stems if s in val]},
            f"no ImageSets/Main lists: every {VAL_EVERY}th of Annotations/*.xml is val")


def _find_image(root: Path, image_id: str, filename: str | None) -> str | None:
    folder = root / "JPEGImages"
    for candidate in [folder / f"{image_id}.jpg"] + ([folder / filename.strip()] if filename else []):
        if candidate.is_file():
            return str(candidate)
    for ext in sorted(IMAGE_EXTENSIONS | UNSUPPORTED_IMAGE_EXTENSIONS):
        candidate = folder / f"{image_id}{ext}"
        if candidate.is_file():
            return str(candidate)
    return None


def _int_or_zero(node, tag: str) -> int:
    try:
        return int(float(node.findtext(tag, "0")))
    except ValueError:
        return 0


def _parse_objects(tree_root, xml_file: str) -> tuple[list[tuple[int, str, list[float], bool]], list[tuple[str, str, str]]]:
    """[(object index, class name, [xmin, ymin, xmax, ymax], difficult)] and the problems found."""
    objects, problems = [], []
    for index, obj in enumerate(tree_root.iter("object"), 1):
        where = f"{xml_file} (object {index})"
        name = obj.findtext("name")
        box = obj.find("bndbox")
        if name is None or not name.strip() or box is None:
            problems.append(("annotation_bad", where, "object without <name> or <bndbox>; skipped"))
            continue
        try:
            coords = [float(box.findtext(tag)) for tag in ("xmin", "ymin", "xmax", "ymax")]
        except (TypeError, ValueError):
            problems.append(("annotation_bad", where, "missing or non-numeric xmin/ymin/xmax/ymax; skipped"))
            continue
        objects.append((index, name, coords, _int_or_zero(obj, "difficult") != 0))
    return objects, problems


def _read_split(root: Path, ids: list[tuple[str, str]]) -> RawSplit:
    builder = RawSplitBuilder("object")
    found = []  # (image id, xml file, parsed tree or None, image path)
    for image_id, where in ids:
        xml_file = root / "Annotations" / f"{image_id}.xml"
        tree = None
        if xml_file.is_file():
            try:
                tree = ET.parse(xml_file).getroot()
            except ET.ParseError as err:
                builder.problem("label_unreadable", str(xml_file), f"invalid XML ({err}); image skipped")
                continue
        image = _find_image(root, image_id, tree.findtext("filename") if tree is not None else None)
        if image is None:
            kind, what = ("label_orphan", str(xml_file)) if tree is not None else ("image_missing", where)
            builder.problem(kind, what, f"no image for id {image_id} in JPEGImages/; skipped")
        elif Path(image).suffix.lower() not in IMAGE_EXTENSIONS:
            builder.problem("image_unsupported_ext", image, f"extension {Path(image).suffix} cannot be read; skipped")
        else:
            found.append((image_id, str(xml_file), tree, image))
    probes = probe_images([image for *_, image in found])
    for (image_id, xml_file, tree, image), probe in zip(found, probes):
        if not builder.check_image(image, probe):
            continue
        if tree is None:
            builder.problem("label_missing", xml_file, "no annotation file; image used as background (no objects)")
            builder.add_image(image, probe.width, probe.height, xml_file)
            continue
        objects, problems = _parse_objects(tree, xml_file)
        builder.problems += problems
        scale = np.ones(4)
        size = tree.find("size")
        if size is not None:
            noted = (_int_or_zero(size, "width"), _int_or_zero(size, "height"))
            if all(noted) and noted != (probe.width, probe.height):
                same_aspect = abs(noted[0] * probe.height - noted[1] * probe.width) <= 0.01 * noted[0] * probe.height
                if same_aspect:
                    scale = np.array([probe.width / noted[0], probe.height / noted[1]] * 2)
                builder.problem("image_size_mismatch", xml_file,
                                f"<size> says {noted[0]}x{noted[1]} but {Path(image).name} is {probe.width}x{probe.height}; "
                                + ("boxes rescaled" if same_aspect else "boxes kept and clipped to the image"))
        if not objects:
            builder.problem("label_empty", xml_file, "annotation has no objects; image used as background")
        row = builder.add_image(image, probe.width, probe.height, xml_file)
        for index, name, coords, difficult in objects:
            builder.add_box(row, np.array(coords) * scale, name, index, difficult)
    return builder.build()


def _read_names_file(root: Path) -> list[str] | None:
    for name in NAMES_FILES:
        path = root / name
        if path.is_file():
            names = [line.strip() for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
            if names:
                return names
    return None


def read_voc(folder: str | Path, cache_dir: str | None = None) -> ParsedDataset:
    root = voc_root(Path(folder))
    split_ids, origin = _split_ids(root)
    splits, sources = {}, {}
    for split, ids in split_ids.items():
        xml_files = [str(root / "Annotations" / f"{i}.xml") for i, _ in ids]
        images = [str(root / "JPEGImages" / f"{i}.jpg") for i, _ in ids]
        list_files = [str(root / "ImageSets" / "Main" / f"{s}.txt") for s in (split, "trainval")]
        cache_file = root / f"Annotations.{split}.turboyolo.cache"
        raw, _ = load_or_build(cache_file, list_files + xml_files + images, lambda: _read_split(root, ids),
                               cache_dir, "voc")
        splits[split] = raw
        sources[split] = f"{root} ({origin})"
    folder_problems = [("image_unsupported_ext", str(p), f"extension {p.suffix} cannot be read; skipped")
                       for p in sorted((root / "JPEGImages").glob("*"))
                       if p.suffix.lower() in UNSUPPORTED_IMAGE_EXTENSIONS]
    if splits:
        first = next(iter(splits.values()))
        first.problems = folder_problems + first.problems
    names = _read_names_file(root)
    unknown_kind = "class_unknown"
    if names is None:
        found = sorted({str(label).strip() for raw in splits.values() for label in raw.labels.tolist()})
        names = VOC_CLASSES if found and set(found) <= set(VOC_CLASSES) else found
        if not names:
            raise DatasetError(f"{root}: no objects in any annotation, so no class names (add classes.txt)")
    return ParsedDataset(names, splits, {n: i for i, n in enumerate(names)}, unknown_kind, str(root), "voc", sources)


def _xml_text(image_name: str, record, names: list[str]) -> str:
    def number(v: float) -> str:
        return f"{round(v, 2):g}" if abs(v) < 1e6 else f"{v:.2f}"

    # Ordinary boxes, then the ignored ones (difficult/crowd) as <difficult>1</difficult>.
    boxes = [(c, box, 0) for c, box in zip(record.classes.tolist(), record.boxes.tolist())]
    boxes += [(c, box, 1) for c, box in zip(record.ignored_classes.tolist(), record.ignored_boxes.tolist())]
    objects = "".join(
        f"  <object>\n    <name>{names[c]}</name>\n    <pose>Unspecified</pose>\n    <truncated>0</truncated>\n"
        f"    <difficult>{difficult}</difficult>\n    <bndbox>\n      <xmin>{number(x1)}</xmin>\n"
        f"      <ymin>{number(y1)}</ymin>\n      <xmax>{number(x2)}</xmax>\n      <ymax>{number(y2)}</ymax>\n"
        f"    </bndbox>\n  </object>\n"
        for c, (x1, y1, x2, y2), difficult in boxes
    )
    return (f"<annotation>\n  <folder>JPEGImages</folder>\n  <filename>{image_name}</filename>\n"
            f"  <size>\n    <width>{record.width}</width>\n    <height>{record.height}</height>\n    <depth>3</depth>\n"
            f"  </size>\n  <segmented>0</segmented>\n{objects}</annotation>\n")


def write_voc(data: DetectionData, out: str | Path) -> WrittenDataset:
    """Write `data` as a VOC root (Annotations/, JPEGImages/, ImageSets/Main/, classes.txt)."""
    from xml.sax.saxutils import escape

    out = Path(out)
    (out / "Annotations").mkdir(parents=True, exist_ok=True)
    (out / "ImageSets" / "Main").mkdir(parents=True, exist_ok=True)
    written = WrittenDataset(out)
    taken = UniqueNames()  # one JPEGImages folder for all splits: names must not collide
    names = [escape(n) for n in data.names]
    for split, records in data.splits.items():
        ids, written.images[split] = [], []
        for record in records:
            # ids (stems) unique whatever the extension, and without whitespace: VOC tools split list lines on it
            image_id = taken.claim(re.sub(r"\s", "_", Path(record.path).stem))
            image_name = image_id + Path(record.path).suffix
            place_image(record.path, out / "JPEGImages" / image_name)
            (out / "Annotations" / f"{image_id}.xml").write_text(_xml_text(escape(image_name), record, names),
                                                                 encoding="utf-8")
            ids.append(image_id)
            written.images[split].append(str(out / "JPEGImages" / image_name))
        (out / "ImageSets" / "Main" / f"{split}.txt").write_text("".join(i + "\n" for i in ids), encoding="utf-8")
    (out / "classes.txt").write_text("".join(n + "\n" for n in data.names), encoding="utf-8")
    return written
