"""`turboyolo convert`: no valid box is lost, VOC -> YOLO -> COCO -> YOLO keeps boxes within 0.5 px,
the source is never written to, and difficult boxes keep their flag where the format can hold it."""
import json
from pathlib import Path

import numpy as np
import pytest

from tests.data.dataset_fixtures import BCCD, make_voc, make_yolo
from turboyolo.cli import main
from turboyolo.data.convert import compare, convert
from turboyolo.data.formats import load_dataset, write_dataset


def _assert_same(a, b, tolerance=0.5):
    assert set(a.splits) == set(b.splits)
    for split, records in a.splits.items():
        assert len(records) == len(b.splits[split])
        for x, y in zip(records, b.splits[split]):
            assert [a.names[c] for c in x.classes] == [b.names[c] for c in y.classes]
            if len(x.boxes):
                assert np.abs(x.boxes - y.boxes).max() <= tolerance


def test_round_trip_voc_yolo_coco_yolo(tmp_path):
    voc = make_voc(tmp_path / "voc", {
        "train": {"a": [("WBC", (10.3, 5.7, 40.2, 33.9)), ("RBC", (0, 0, 64, 48))], "b": [("RBC", (1, 1, 2, 2))]},
        "val": {"c": [("Platelets", (30, 20, 31.5, 21.25))]},
        "test": {"d": [("RBC", (5, 5, 50, 40))]},
    }, classes=["RBC", "WBC", "Platelets"])
    original = load_dataset(str(voc), verbose=False)
    step1 = convert(str(voc), "yolo", str(tmp_path / "yolo"), verbose=False)
    step2 = convert(str(step1), "coco", str(tmp_path / "coco"), verbose=False)
    step3 = convert(str(step2), "yolo", str(tmp_path / "yolo2"), verbose=False)
    final = load_dataset(str(step3), verbose=False)
    assert final.names == ["RBC", "WBC", "Platelets"]
    _assert_same(original, final)
    assert sum(len(r.boxes) for r in final.split("train")) == 3


@pytest.mark.slow  # ~7 s: three conversions of 364 images, each read back
@pytest.mark.skipif(not BCCD.is_dir(), reason="BCCD dataset not present next to the repository")
def test_bccd_round_trip(tmp_path):
    original = load_dataset(str(BCCD), verbose=False)
    step1 = convert(str(BCCD), "yolo", str(tmp_path / "yolo"), verbose=False)
    step2 = convert(str(step1), "coco", str(tmp_path / "coco"), verbose=False)
    final = load_dataset(str(convert(str(step2), "yolo", str(tmp_path / "yolo2"), verbose=False)), verbose=False)
    _assert_same(original, final)
    assert sum(len(r.boxes) for r in final.split("train")) == sum(len(r.boxes) for r in original.split("train"))


def test_cli_convert_to_voc_and_missing_out(tmp_path, capsys):
    voc = make_voc(tmp_path / "voc", {"train": {"a": [("x", (1, 1, 9, 9))]}, "val": {"b": [("x", (2, 2, 9, 9))]}})
    assert main(["convert", f"data={voc}", "to=voc", f"out={tmp_path / 'again'}", "verbose=false"]) == 0
    assert "every image and box kept" in capsys.readouterr().out
    assert (tmp_path / "again" / "Annotations" / "a.xml").is_file()
    assert main(["convert", f"data={voc}", "to=coco"]) == 2  # out= is required


def _snapshot(root: Path) -> dict[str, bytes]:
    """Every file under root and its bytes (the label index caches a load may add are left out)."""
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*"))
            if p.is_file() and not p.name.endswith(".turboyolo.cache")}


def _one_line_error(capsys) -> str:
    captured = capsys.readouterr()
    lines = [line for line in captured.err.splitlines() if line.startswith("turboyolo convert:")]
    assert len(lines) == 1 and "Traceback" not in captured.err, captured.err
    return lines[0]


@pytest.mark.parametrize("to", ["yolo", "voc", "coco"])
@pytest.mark.parametrize("where", ["source", "inside", "contains"])
def test_cli_refuses_out_in_or_over_the_source_and_leaves_it_intact(tmp_path, capsys, to, where):
    voc = make_voc(tmp_path / "data" / "voc", {"train": {"a": [("x", (1, 1, 9, 9))]}, "val": {"b": [("x", (2, 2, 9, 9))]}})
    out = {"source": voc, "inside": voc / "converted", "contains": tmp_path / "data"}[where]
    before = _snapshot(voc)
    # exist_ok allows a non-empty out=, never one that is, holds or lies inside the source
    assert main(["convert", f"data={voc}", f"to={to}", f"out={out}", "exist_ok=True", "verbose=false"]) != 0
    assert "source dataset" in _one_line_error(capsys)
    assert _snapshot(voc) == before
    assert not (voc / "converted").exists() and not (tmp_path / "data" / "data.yaml").exists()


def test_cli_refuses_a_non_empty_out_unless_exist_ok(tmp_path, capsys):
    voc = make_voc(tmp_path / "voc", {"train": {"a": [("x", (1, 1, 9, 9))]}, "val": {"b": [("x", (2, 2, 9, 9))]}})
    out = tmp_path / "out"
    out.mkdir()
    (out / "notes.txt").write_text("mine")
    assert main(["convert", f"data={voc}", "to=yolo", f"out={out}", "verbose=false"]) != 0
    assert "not empty" in _one_line_error(capsys) and sorted(p.name for p in out.iterdir()) == ["notes.txt"]
    assert main(["convert", f"data={voc}", "to=yolo", f"out={out}", "exist_ok=True", "verbose=false"]) == 0
    assert (out / "notes.txt").read_text() == "mine" and (out / "data.yaml").is_file()


def test_same_stem_in_two_folders_keeps_each_images_boxes(tmp_path):
    data_yaml = make_yolo(tmp_path / "y", {"train": {"x/a.jpg": "0 0.25 0.25 0.2 0.2\n", "y/a.png": "1 0.75 0.75 0.4 0.4\n"},
                                           "val": {"c.jpg": "0 0.5 0.5 0.1 0.1\n"}})
    source = load_dataset(str(data_yaml), verbose=False)
    for to in ("yolo", "voc"):
        copy = load_dataset(str(convert(str(data_yaml), to, str(tmp_path / to), verbose=False)), verbose=False)
        by_suffix = {Path(r.path).suffix: r for r in copy.split("train")}
        for original in source.split("train"):
            copied = by_suffix[Path(original.path).suffix]
            assert copied.classes.tolist() == original.classes.tolist(), to
            np.testing.assert_allclose(copied.boxes, original.boxes, atol=0.5)


def test_voc_target_keeps_ids_with_spaces_and_non_ascii_names(tmp_path):
    names = ["my photo.jpg", "café.jpg", "写真\u30001.jpg", "plain.jpg"]
    data_yaml = make_yolo(tmp_path / "y", {"train": {n: f"{i % 2} 0.5 0.5 0.{i + 2} 0.{i + 2}\n" for i, n in enumerate(names)},
                                           "val": {"v.jpg": "0 0.5 0.5 0.2 0.2\n"}})
    target = convert(str(data_yaml), "voc", str(tmp_path / "voc"), verbose=False)  # raises if any image is lost
    copy = load_dataset(str(target), verbose=False)
    assert len(copy.split("train")) == 4 and copy.report.total() == 0
    assert sum(len(r.boxes) for r in copy.split("train")) == 4


def test_yolo_target_of_a_source_not_in_name_order_is_a_success(tmp_path, capsys):
    # ImageSets lists b before a; the YOLO copy is read back in name order (a, b)
    voc = make_voc(tmp_path / "voc", {"train": {"b": [("x", (1, 1, 9, 9))], "a": [("y", (5, 5, 40, 30)), ("x", (2, 2, 8, 8))]},
                                      "val": {"c": [("x", (2, 2, 9, 9))]}})
    assert main(["convert", f"data={voc}", "to=yolo", f"out={tmp_path / 'yolo'}", "verbose=false"]) == 0
    assert "every image and box kept" in capsys.readouterr().out


def test_compare_notices_boxes_that_went_to_the_wrong_image(tmp_path):
    voc = make_voc(tmp_path / "voc", {"train": {"a": [("x", (1, 1, 9, 9))], "b": [("x", (20, 20, 40, 40))]},
                                      "val": {"c": [("x", (2, 2, 9, 9))]}})
    source = load_dataset(str(voc), verbose=False)
    written = write_dataset(source, tmp_path / "yolo", "yolo")
    labels = tmp_path / "yolo" / "labels" / "train"
    a, b = (labels / "a.txt").read_text(), (labels / "b.txt").read_text()
    (labels / "a.txt").write_text(b)
    (labels / "b.txt").write_text(a)
    issues = compare(source, written, load_dataset(str(written.data), verbose=False))
    assert len(issues) == 2 and all("moved" in issue for issue in issues)


DIFFICULT_VOC = {"train": {"a": [("x", (1, 1, 20, 20)), ("y", (30, 10, 60, 40), 1)]},
                 "val": {"b": [("y", (2, 2, 30, 30), 1), ("x", (5, 5, 15, 15))]}}


def test_difficult_boxes_survive_voc_to_coco_to_voc(tmp_path):
    voc = make_voc(tmp_path / "voc", DIFFICULT_VOC, classes=["x", "y"])
    coco = convert(str(voc), "coco", str(tmp_path / "coco"), verbose=False)
    content = json.loads((Path(coco) / "annotations" / "instances_train.json").read_text())
    assert [a["iscrowd"] for a in content["annotations"]] == [0, 1]
    again = load_dataset(str(convert(str(coco), "voc", str(tmp_path / "voc2"), verbose=False)), verbose=False)
    (record,) = again.split("train")
    assert record.classes.tolist() == [0] and record.ignored_classes.tolist() == [1]
    np.testing.assert_allclose(record.ignored_boxes, [[30, 10, 60, 40]], atol=0.01)
    assert "<difficult>1</difficult>" in (tmp_path / "voc2" / "Annotations" / "a.xml").read_text()


def test_yolo_target_cannot_mark_difficult_boxes_so_the_user_chooses(tmp_path, capsys):
    voc = make_voc(tmp_path / "voc", DIFFICULT_VOC, classes=["x", "y"])
    assert main(["convert", f"data={voc}", "to=yolo", f"out={tmp_path / 'refused'}", "verbose=false"]) != 0
    assert "difficult=drop" in _one_line_error(capsys) and not (tmp_path / "refused").exists()
    for policy, boxes in (("drop", 2), ("train", 4)):
        out = tmp_path / policy
        assert main(["convert", f"data={voc}", "to=yolo", f"out={out}", f"difficult={policy}", "verbose=false"]) == 0
        copy = load_dataset(str(out / "data.yaml"), verbose=False)
        assert sum(len(r.boxes) for split in copy.splits.values() for r in split) == boxes
