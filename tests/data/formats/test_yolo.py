"""YOLO reader/writer: data YAML variants, the images/ -> labels/ convention, pixel boxes."""
import os
import stat

import numpy as np
import pytest
import yaml

from tests.data.dataset_fixtures import make_yolo, write_image
from turboyolo.data.formats import load_dataset, yolo
from turboyolo.data.formats.yolo import label_path_for, write_yolo
from turboyolo.data.records import DatasetError
from turboyolo.paths import cache_root


def _simple(tmp_path, **kwargs):
    return make_yolo(tmp_path / "ds", {"train": {"a.jpg": "0 0.5 0.5 0.5 0.5\n1 0.25 0.25 0.1 0.2\n"},
                                       "val": {"b.jpg": "1 0.5 0.5 1 1\n"}}, **kwargs)


def test_reads_normalised_boxes_as_pixels(tmp_path):
    data = load_dataset(str(_simple(tmp_path)), verbose=False)
    assert data.format == "yolo" and data.names == ["cat", "dog"]
    (record,) = data.split("train")
    assert (record.width, record.height) == (64, 48)
    np.testing.assert_allclose(record.boxes, [[16, 12, 48, 36], [12.8, 7.2, 19.2, 16.8]], atol=1e-4)
    assert record.classes.tolist() == [0, 1]
    assert data.split("val")[0].boxes.tolist() == [[0, 0, 64, 48]]
    assert data.report.total() == 0


def test_label_path_convention():
    assert label_path_for("/d/images/train/a.jpg") == "/d/labels/train/a.txt"
    assert label_path_for("/images/d/images/x/a.png") == "/images/d/labels/x/a.txt"  # last images/ only
    assert label_path_for("/d/pics/a.jpg") == "/d/pics/a.txt"


def test_names_as_dict_or_nc(tmp_path):
    data_yaml = _simple(tmp_path)
    config = yaml.safe_load(data_yaml.read_text())
    config["names"] = {0: "cat", 1: "dog"}
    data_yaml.write_text(yaml.safe_dump(config))
    assert load_dataset(str(data_yaml), verbose=False).names == ["cat", "dog"]
    del config["names"]
    config["nc"] = 2
    data_yaml.write_text(yaml.safe_dump(config))
    assert load_dataset(str(data_yaml), verbose=False).names == ["class0", "class1"]
    config["names"] = {0: "a", 2: "b"}
    data_yaml.write_text(yaml.safe_dump(config))
    with pytest.raises(DatasetError, match="without gaps"):
        load_dataset(str(data_yaml), verbose=False)


def test_missing_val_is_an_error(tmp_path):
    data_yaml = _simple(tmp_path)
    config = yaml.safe_load(data_yaml.read_text())
    del config["val"]
    data_yaml.write_text(yaml.safe_dump(config))
    with pytest.raises(DatasetError, match="val"):
        load_dataset(str(data_yaml), verbose=False)


def test_split_as_txt_list_and_list_of_entries(tmp_path):
    data_yaml = _simple(tmp_path)
    root = data_yaml.parent
    write_image(root / "images" / "extra" / "c.jpg")
    (root / "labels" / "extra").mkdir(parents=True)
    (root / "labels" / "extra" / "c.txt").write_text("0 0.5 0.5 0.2 0.2\n")
    (root / "train.txt").write_text("./images/train/a.jpg\nimages/extra/c.jpg\n")
    config = yaml.safe_load(data_yaml.read_text())
    config.update(path=".", train="train.txt", val=["images/val", "images/extra"])  # path relative to the YAML
    data_yaml.write_text(yaml.safe_dump(config))
    data = load_dataset(str(data_yaml), verbose=False)
    assert [os.path.basename(r.path) for r in data.split("train")] == ["a.jpg", "c.jpg"]
    assert [os.path.basename(r.path) for r in data.split("val")] == ["b.jpg", "c.jpg"]


def test_polygon_line_becomes_its_bounding_box(tmp_path):
    data_yaml = make_yolo(tmp_path, {"train": {"a.jpg": "0 0.1 0.2 0.5 0.1 0.3 0.6\n"}, "val": {"b.jpg": "0 .5 .5 .1 .1"}})
    (record,) = load_dataset(str(data_yaml), verbose=False).split("train")
    np.testing.assert_allclose(record.boxes, [[6.4, 4.8, 32, 28.8]], atol=1e-4)


def test_index_cache_is_used_then_rebuilt_when_a_label_changes(tmp_path, monkeypatch):
    data_yaml = _simple(tmp_path)
    load_dataset(str(data_yaml), verbose=False)
    assert (data_yaml.parent / "labels" / "train.turboyolo.cache").is_file()

    def must_not_parse(images):
        raise AssertionError("index should come from the cache")

    monkeypatch.setattr(yolo, "_read_split", must_not_parse)
    assert len(load_dataset(str(data_yaml), verbose=False).split("train")[0].boxes) == 2
    monkeypatch.undo()
    label = data_yaml.parent / "labels" / "train" / "a.txt"
    label.write_text("0 0.5 0.5 0.5 0.5\n")
    os.utime(label, ns=(1, 1))  # a different mtime even on coarse-clock file systems
    assert len(load_dataset(str(data_yaml), verbose=False).split("train")[0].boxes) == 1


def test_read_only_labels_cache_goes_to_cache_root(tmp_path):
    data_yaml = _simple(tmp_path)
    labels = data_yaml.parent / "labels"
    labels.chmod(stat.S_IRUSR | stat.S_IXUSR)
    try:
        load_dataset(str(data_yaml), verbose=False)
        assert not list(labels.glob("*.cache"))
        assert list(cache_root().glob("index/*-train.turboyolo.cache"))
    finally:
        labels.chmod(stat.S_IRWXU)


def test_write_yolo_reads_back_identically(tmp_path):
    data = load_dataset(str(_simple(tmp_path)), verbose=False)
    copy = load_dataset(str(write_yolo(data, tmp_path / "copy").data), verbose=False)
    assert copy.names == data.names
    for split in ("train", "val"):
        for a, b in zip(data.split(split), copy.split(split)):
            np.testing.assert_allclose(a.boxes, b.boxes, atol=1e-3)
            assert a.classes.tolist() == b.classes.tolist()


def test_yaml_path_that_does_not_exist_is_an_error_naming_what_was_looked_for(tmp_path):
    data_yaml = _simple(tmp_path)  # its images sit next to the YAML: a silent fallback would find them
    config = yaml.safe_load(data_yaml.read_text())
    config["path"] = "moved_away"
    data_yaml.write_text(yaml.safe_dump(config))
    with pytest.raises(DatasetError) as error:
        load_dataset(str(data_yaml), verbose=False)
    message = str(error.value)
    assert "path: moved_away" in message and str(data_yaml) in message
    assert str(data_yaml.parent / "moved_away") in message and "\n" not in message


def test_written_yaml_is_relative_to_its_folder_so_the_copy_can_move(tmp_path):
    data = load_dataset(str(_simple(tmp_path)), verbose=False)
    written = write_yolo(data, tmp_path / "copy")
    os.rename(tmp_path / "copy", tmp_path / "moved")
    moved = load_dataset(str(tmp_path / "moved" / written.data.name), verbose=False)
    assert [len(moved.split(s)) for s in ("train", "val")] == [1, 1]
