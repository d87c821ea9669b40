"""load_dataset / write_dataset: the public entry points of turboyolo.data.formats."""
import pytest

from tests.data.dataset_fixtures import make_yolo
from turboyolo.data.formats import load_dataset, write_dataset
from turboyolo.data.records import DatasetError


def test_verbose_prints_one_line_per_split(tmp_path, capsys):
    data_yaml = make_yolo(tmp_path, {"train": {"a.jpg": "0 .5 .5 .2 .2\n1 .2 .2 .1 .1"}, "val": {"b.jpg": "1 .5 .5 .2 .2"}})
    load_dataset(str(data_yaml))
    out = capsys.readouterr().out
    assert "yolo train: 1 images, 2 boxes, 2 classes" in out and "yolo val: 1 images, 1 boxes" in out


def test_missing_path_raises_dataset_error(tmp_path):
    with pytest.raises(DatasetError, match="no such file"):
        load_dataset(str(tmp_path / "absent.yaml"))


def test_unreadable_yaml_raises_dataset_error(tmp_path):
    (tmp_path / "data.yaml").write_text("train: [unclosed\n")
    with pytest.raises(DatasetError, match="cannot read data YAML"):
        load_dataset(str(tmp_path / "data.yaml"))


def test_write_dataset_rejects_unknown_format(tmp_path):
    data = load_dataset(str(make_yolo(tmp_path, {"train": {"a.jpg": "0 .5 .5 .2 .2"}, "val": {"b.jpg": "0 .5 .5 .2 .2"}})),
                        verbose=False)
    with pytest.raises(ValueError, match="unknown dataset format"):
        write_dataset(data, tmp_path / "out", "tfrecord")
