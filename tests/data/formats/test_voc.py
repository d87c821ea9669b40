"""Pascal VOC reader/writer, including the real BCCD dataset (read-only, 205/87/72 split)."""
import os

import numpy as np
import pytest

from tests.data.dataset_fixtures import BCCD, make_voc, make_yolo, write_image
from turboyolo.data.formats import load_dataset
from turboyolo.data.formats.voc import VOC_CLASSES, write_voc
from turboyolo.data.records import DatasetWarning


@pytest.mark.skipif(not BCCD.is_dir(), reason="BCCD dataset not present next to the repository")
def test_bccd_loads_with_its_split_and_two_degenerate_boxes():
    before = sorted(os.listdir(BCCD))
    with pytest.warns(DatasetWarning, match="zero-area"):
        data = load_dataset(str(BCCD), verbose=False)
    assert data.format == "voc"
    assert {k: len(v) for k, v in data.splits.items()} == {"train": 205, "val": 87, "test": 72}
    assert sorted(data.names) == ["Platelets", "RBC", "WBC"]
    assert data.report.counts == {"box_degenerate": 2}
    assert all((r.width, r.height) == (640, 480) for r in data.split("train"))
    boxes = np.concatenate([r.boxes for r in data.split("train")])
    assert (boxes[:, 2:] > boxes[:, :2]).all() and boxes.min() >= 0 and boxes[:, 2].max() <= 640
    assert sorted(os.listdir(BCCD)) == before  # nothing written into the read-only dataset


def test_reads_pixel_boxes_and_sorted_names(tmp_path):
    root = make_voc(tmp_path / "voc", {"train": {"a": [("zebra", (1, 2, 30, 40)), ("ant", (5, 5, 10, 10))]},
                                       "val": {"b": [("ant", (0, 0, 64, 48))]}})
    data = load_dataset(str(root), verbose=False)
    assert data.names == ["ant", "zebra"]
    (record,) = data.split("train")
    assert record.boxes.tolist() == [[1, 2, 30, 40], [5, 5, 10, 10]] and record.classes.tolist() == [1, 0]


def test_standard_voc_names_keep_standard_ids(tmp_path):
    root = make_voc(tmp_path, {"train": {"a": [("dog", (1, 1, 9, 9))]}, "val": {"b": [("cat", (1, 1, 9, 9))]}})
    data = load_dataset(str(root), verbose=False)
    assert data.names == VOC_CLASSES
    assert data.split("train")[0].classes.tolist() == [VOC_CLASSES.index("dog")]


def test_classes_file_fixes_the_order(tmp_path):
    root = make_voc(tmp_path, {"train": {"a": [("b", (1, 1, 9, 9))]}, "val": {"b": [("a", (1, 1, 9, 9))]}},
                    classes=["b", "a"])
    assert load_dataset(str(root), verbose=False).names == ["b", "a"]


def test_devkit_folder_trainval_and_missing_imagesets(tmp_path):
    root = make_voc(tmp_path / "VOCdevkit" / "VOC2007", {"trainval": {"a": [("x", (1, 1, 9, 9))]},
                                                         "test": {"b": [("x", (1, 1, 9, 9))]}})
    data = load_dataset(str(tmp_path / "VOCdevkit"), verbose=False)
    assert set(data.splits) == {"train", "test"}  # trainval stands in for train
    for i in range(20):
        write_image(root / "JPEGImages" / f"n{i:02d}.jpg")
        (root / "Annotations" / f"n{i:02d}.xml").write_text((root / "Annotations" / "a.xml").read_text())
    for f in (root / "ImageSets" / "Main").iterdir():
        f.unlink()
    data = load_dataset(str(root), verbose=False)
    assert (len(data.split("train")), len(data.split("val"))) == (20, 2)  # every 10th of 22 ids


def test_write_voc_reads_back_identically(tmp_path):
    root = make_voc(tmp_path / "voc", {"train": {"a": [("x", (1.5, 2.25, 30, 40))]}, "val": {"b": [("y", (0, 0, 9, 9))]}})
    data = load_dataset(str(root), verbose=False)
    copy = load_dataset(str(write_voc(data, tmp_path / "copy").data), verbose=False)
    assert copy.names == data.names
    np.testing.assert_allclose(copy.split("train")[0].boxes, [[1.5, 2.25, 30, 40]])


def test_write_voc_keeps_same_named_images_of_different_splits(tmp_path):
    data_yaml = make_yolo(tmp_path / "y", {"train": {"a.jpg": "0 .5 .5 .5 .5"}, "val": {"a.jpg": "1 .5 .5 .2 .2"}})
    copy = load_dataset(str(write_voc(load_dataset(str(data_yaml), verbose=False), tmp_path / "v").data), verbose=False)
    assert [len(copy.split(s)) for s in ("train", "val")] == [1, 1]
    assert copy.split("train")[0].path != copy.split("val")[0].path


DIFFICULT = {"train": {"a": [("x", (1, 1, 20, 20)), ("y", (30, 10, 60, 40), 1)], "b": [("x", (3, 3, 9, 9), 1)]},
             "val": {"c": [("y", (2, 2, 30, 30))]}}


def test_difficult_objects_follow_the_policy(tmp_path):
    root = make_voc(tmp_path / "voc", DIFFICULT, classes=["x", "y"])
    ignore = load_dataset(str(root), verbose=False)  # the default: not trained on, ignored by the metric
    a, b = ignore.split("train")
    assert a.classes.tolist() == [0] and a.ignored_classes.tolist() == [1] and len(b.boxes) == 0
    np.testing.assert_allclose(a.ignored_boxes, [[30, 10, 60, 40]])
    assert b.ignored_boxes.tolist() == [[3, 3, 9, 9]] and ignore.difficult_boxes == {"train": 2, "val": 0}
    trained = load_dataset(str(root), verbose=False, difficult="train")
    assert [r.classes.tolist() for r in trained.split("train")] == [[0, 1], [0]]
    assert all(len(r.ignored_boxes) == 0 for r in trained.split("train"))
    dropped = load_dataset(str(root), verbose=False, difficult="drop")
    assert [(len(r.boxes), len(r.ignored_boxes)) for r in dropped.split("train")] == [(1, 0), (0, 0)]
    assert dropped.difficult_boxes == {"train": 2, "val": 0}


def test_training_loader_never_sees_ignored_boxes(tmp_path):
    from turboyolo.config import build_config
    from turboyolo.data.loader import build_dataloader

    root = make_voc(tmp_path / "voc", DIFFICULT, classes=["x", "y"])
    records = load_dataset(str(root), verbose=False).split("train")
    cfg = build_config({"imgsz": 64, "workers": 0, "mosaic": 0.0, "fliplr": 0.0, "scale": 0.0, "translate": 0.0})
    (batch,) = build_dataloader(records, cfg, train=True, batch_size=2, cache=None, seed=0)
    assert len(batch["targets"]) == 1  # the one ordinary box of a; a's and b's difficult boxes are not targets


def test_policy_default_is_the_config_default():
    import inspect

    from turboyolo.config import load_schema

    assert inspect.signature(load_dataset).parameters["difficult"].default == load_schema()["difficult"].default


def test_ids_with_spaces_in_a_users_image_sets(tmp_path):
    root = make_voc(tmp_path / "voc", {"train": {"my photo": [("x", (1, 1, 9, 9))], "b": [("x", (1, 1, 9, 9))]},
                                       "val": {"c d": [("x", (2, 2, 9, 9))]}})
    data = load_dataset(str(root), verbose=False)
    assert [os.path.basename(r.path) for r in data.split("train")] == ["my photo.jpg", "b.jpg"]
    assert len(data.split("val")) == 1 and data.report.total() == 0
