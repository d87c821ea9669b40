"""Format detection from the data= value alone."""
import pytest

from tests.data.dataset_fixtures import make_coco, make_voc, make_yolo
from turboyolo.data.formats.detect import detect_format
from turboyolo.data.records import DatasetError


def test_each_format_is_recognised(tmp_path):
    yaml_path = make_yolo(tmp_path / "y", {"train": {"a.jpg": ""}, "val": {"b.jpg": ""}})
    voc = make_voc(tmp_path / "v", {"train": {"a": []}})
    coco = make_coco(tmp_path / "c", {"val": {"a.jpg": []}})
    assert detect_format(str(yaml_path)) == ("yolo", yaml_path)
    assert detect_format(str(yaml_path.parent)) == ("yolo", yaml_path)  # a folder holding data.yaml
    assert detect_format(str(voc)) == ("voc", voc)
    assert detect_format(str(coco)) == ("coco", coco)
    json_file = coco / "annotations" / "instances_val.json"
    assert detect_format(str(json_file)) == ("coco", json_file)
    assert detect_format("synthetic") == ("synthetic", None)


def test_unknown_inputs_raise_clear_errors(tmp_path):
    with pytest.raises(DatasetError, match="no such file"):
        detect_format(str(tmp_path / "nope"))
    (tmp_path / "list.txt").write_text("a.jpg\n")
    with pytest.raises(DatasetError, match="not a dataset description"):
        detect_format(str(tmp_path / "list.txt"))
    (tmp_path / "empty").mkdir()
    with pytest.raises(DatasetError, match="cannot tell the format"):
        detect_format(str(tmp_path / "empty"))
