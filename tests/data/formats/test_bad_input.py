"""Every kind of bad input: one DatasetWarning naming the file (and line), repaired or skipped, counted."""
import json
import warnings

import numpy as np
import pytest

from tests.data.dataset_fixtures import make_coco, make_voc, make_yolo, voc_xml, write_image
from turboyolo.data.formats import load_dataset
from turboyolo.data.records import DatasetError, DatasetWarning

GOOD = "0 0.5 0.5 0.2 0.2\n"


def _load(data_arg):
    """Load, and check the promise: exactly one warning per reported problem."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        data = load_dataset(str(data_arg), verbose=False)
    messages = [str(w.message) for w in caught if issubclass(w.category, DatasetWarning)]
    assert len(messages) == data.report.total()
    return data, messages


def _yolo(tmp_path, train_labels: dict, **kwargs):
    return make_yolo(tmp_path / "ds", {"train": train_labels, "val": {"v.jpg": GOOD}}, **kwargs)


def test_unreadable_and_truncated_images_are_skipped(tmp_path):
    data_yaml = _yolo(tmp_path, {"ok.jpg": GOOD, "bad.jpg": GOOD, "cut.jpg": GOOD})
    images = data_yaml.parent / "images" / "train"
    (images / "bad.jpg").write_bytes(b"garbage")
    full = (images / "cut.jpg").read_bytes()
    (images / "cut.jpg").write_bytes(full[: len(full) // 2])
    data, messages = _load(data_yaml)
    assert [r.path.split("/")[-1] for r in data.split("train")] == ["ok.jpg"]
    assert data.report.counts == {"image_unreadable": 2}
    assert any("cut.jpg" in m and "truncated" in m for m in messages)


def test_missing_and_empty_label_files_mean_background(tmp_path):
    data, messages = _load(_yolo(tmp_path, {"none.jpg": None, "empty.jpg": "\n"}))
    assert len(data.split("train")) == 2 and all(len(r.boxes) == 0 for r in data.split("train"))
    assert data.report.counts == {"label_missing": 1, "label_empty": 1}
    assert any("none.txt" in m for m in messages)


def test_bad_lines_are_skipped_with_file_and_line(tmp_path):
    data, messages = _load(_yolo(tmp_path, {"a.jpg": GOOD + "0 0.5 x 0.1 0.1\n0 0.5 0.5\n1.5 .5 .5 .1 .1\n" + GOOD.replace("0 ", "1 ", 1)}))
    assert data.split("train")[0].classes.tolist() == [0, 1]
    assert data.report.counts == {"label_line_bad": 3}
    assert any(m.startswith(str(tmp_path / "ds" / "labels" / "train" / "a.txt") + ":2:") for m in messages)
    assert any("a.txt:3" in m for m in messages) and any("a.txt:4" in m for m in messages)


def test_class_id_out_of_range(tmp_path):
    data, messages = _load(_yolo(tmp_path, {"a.jpg": GOOD + "2 .5 .5 .1 .1\n-1 .5 .5 .1 .1\n"}))
    assert data.split("train")[0].classes.tolist() == [0]
    assert data.report.counts == {"class_out_of_range": 2} and any("a.txt:2" in m for m in messages)


def test_boxes_outside_degenerate_and_duplicate(tmp_path):
    labels = ("0 0.95 0.5 0.2 0.2\n"   # partly outside: clipped
              "0 1.5 0.5 0.2 0.2\n"    # entirely outside: skipped
              "0 0.5 0.5 0 0.2\n"      # zero width: skipped
              "0 0.5 0.5 -0.1 0.2\n"   # inverted: skipped
              "1 0.3 0.3 0.1 0.1\n1 0.3 0.3 0.1 0.1\n")  # duplicate: one dropped
    data, messages = _load(_yolo(tmp_path, {"a.jpg": labels}))
    record = data.split("train")[0]
    np.testing.assert_allclose(record.boxes[0], [54.4, 19.2, 64, 28.8], atol=1e-4)
    assert record.classes.tolist() == [0, 1]
    assert data.report.counts == {"box_clipped": 1, "box_outside_image": 1, "box_degenerate": 2, "box_duplicate": 1}
    assert any("a.txt:6" in m and "duplicate" in m for m in messages)


def test_orphan_labels_and_unsupported_extensions(tmp_path):
    data_yaml = _yolo(tmp_path, {"a.jpg": GOOD})
    (data_yaml.parent / "labels" / "train" / "ghost.txt").write_text(GOOD)
    (data_yaml.parent / "images" / "train" / "anim.gif").write_bytes(b"GIF89a")
    data, messages = _load(data_yaml)
    assert len(data.split("train")) == 1
    assert data.report.counts == {"label_orphan": 1, "image_unsupported_ext": 1}
    assert any("ghost.txt" in m for m in messages) and any("anim.gif" in m for m in messages)


def test_voc_size_mismatch_unknown_names_whitespace_and_orphans(tmp_path):
    root = make_voc(tmp_path / "voc", {"train": {"a": [(" RBC ", (2, 2, 20, 20)), ("alien", (1, 1, 5, 5))],
                                                 "b": [("RBC", (10, 10, 20, 20))]},
                                       "val": {"c": [("WBC", (1, 1, 9, 9))]}}, classes=["RBC", "WBC"])
    # b.xml claims 128x96 (the image is 64x48): same aspect, so its boxes are scaled by 0.5.
    (root / "Annotations" / "b.xml").write_text(voc_xml("b.jpg", [("RBC", (10, 10, 20, 20))], size=(128, 96)))
    (root / "Annotations" / "lost.xml").write_text(voc_xml("lost.jpg", [("RBC", (1, 1, 5, 5))]))
    (root / "ImageSets" / "Main" / "train.txt").write_text("a\nb\nlost\n")
    data, messages = _load(root)
    a, b = data.split("train")
    assert a.classes.tolist() == [0] and a.boxes.tolist() == [[2, 2, 20, 20]]
    assert b.boxes.tolist() == [[5, 5, 10, 10]]
    assert data.report.counts == {"class_name_whitespace": 1, "class_unknown": 1, "image_size_mismatch": 1,
                                  "label_orphan": 1}
    assert any("a.xml (object 2)" in m and "alien" in m for m in messages)


def test_coco_problems(tmp_path):
    root = make_coco(tmp_path / "coco", {"train": {"a.jpg": [(1, [1, 1, 10, 10]), (9, [1, 1, 5, 5]), (1, [1, 1, "x", 2])],
                                                   "gone.jpg": [(1, [1, 1, 5, 5])]},
                                         "val": {"b.jpg": [(3, [0, 0, 64, 48])]}})
    (root / "images" / "train" / "gone.jpg").unlink()
    path = root / "annotations" / "instances_train.json"
    content = json.loads(path.read_text())
    content["images"][0]["width"] = 100  # 100x48 vs the real 64x48: different aspect, boxes only clipped
    content["annotations"].append({"id": 99, "image_id": 777, "category_id": 1, "bbox": [1, 1, 2, 2]})
    path.write_text(json.dumps(content))
    data, messages = _load(root)
    (record,) = data.split("train")
    assert record.boxes.tolist() == [[1, 1, 11, 11]]
    assert data.report.counts == {"class_out_of_range": 1, "annotation_bad": 1, "image_missing": 1,
                                  "image_size_mismatch": 1, "label_orphan": 1}
    assert any("annotation id 99" in m for m in messages)


def test_split_without_usable_image_is_one_clear_error(tmp_path):
    data_yaml = _yolo(tmp_path, {"a.jpg": GOOD})
    (data_yaml.parent / "images" / "val" / "v.jpg").write_bytes(b"broken")
    with pytest.warns(DatasetWarning), pytest.raises(DatasetError, match=r"split 'val' has no usable image.*1 image_unreadable") as err:
        load_dataset(str(data_yaml), verbose=False)
    assert err.value.report.fatal and len(err.value.data.split("train")) == 1


def test_split_folder_that_does_not_exist(tmp_path):
    data_yaml = _yolo(tmp_path, {"a.jpg": GOOD})
    data_yaml.write_text(data_yaml.read_text().replace("images/val", "images/nowhere"))
    with pytest.warns(DatasetWarning), pytest.raises(DatasetError, match="split 'val'.*split_path_missing"):
        load_dataset(str(data_yaml), verbose=False)


def test_tiny_images_with_every_format_never_crash(tmp_path):
    write_image(tmp_path / "one.png", 1, 1)
    data_yaml = make_yolo(tmp_path / "t", {"train": {"a.png": "0 .5 .5 1 1"}, "val": {"b.png": "0 .5 .5 1 1"}}, size=(1, 1))
    data, _ = _load(data_yaml)
    assert data.split("train")[0].boxes.tolist() == [[0, 0, 1, 1]]


def test_jpeg_without_end_marker_keeps_its_boxes_and_is_counted_as_repaired(tmp_path):
    data_yaml = make_yolo(tmp_path, {"train": {"good.jpg": "0 .5 .5 .5 .5\n1 .2 .2 .1 .1\n0 .7 .7 .2 .2",
                                               "bad.jpg": "0 .5 .5 .5 .5"},
                                     "val": {"c.jpg": "1 .5 .5 .2 .2"}})
    good = tmp_path / "images" / "train" / "good.jpg"
    good.write_bytes(good.read_bytes()[:-2])
    bad = tmp_path / "images" / "train" / "bad.jpg"
    bad.write_bytes(bad.read_bytes()[: bad.stat().st_size // 2])
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", DatasetWarning)
        data = load_dataset(str(data_yaml), verbose=False)
    assert sum("end-of-image marker" in str(w.message) for w in caught) == 1
    (record,) = data.split("train")
    assert record.path == str(good) and len(record.boxes) == 3
    assert data.report.counts == {"image_end_marker_missing": 1, "image_unreadable": 1}


def test_a_dataset_warning_prints_as_one_line_naming_the_file_and_what_was_done(tmp_path):
    """Not Python's two lines with our source path: the user sees file:line, the problem and what was done."""
    import subprocess
    import sys
    from pathlib import Path

    data_yaml = _yolo(tmp_path, {"a.jpg": GOOD + "0 0.5 0.5 0.2\n"})  # line 2: four numbers, not five
    repo = Path(__file__).resolve().parents[3]
    code = f"from turboyolo.data.formats import load_dataset; load_dataset({str(data_yaml)!r}, verbose=False)"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=repo,
                          env={"PYTHONPATH": str(repo), "TURBOYOLO_CACHE": str(tmp_path / "cache"), "PATH": ""})
    assert done.returncode == 0, done.stderr
    lines = done.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("turboyolo: ") and "a.txt:2" in lines[0], done.stderr
    assert "records.py" not in done.stderr and "warnings.warn" not in done.stderr
