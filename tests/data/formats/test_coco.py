"""COCO reader/writer: json or folder, image folder discovery, category id mapping, crowd boxes."""
import json

import numpy as np
from pycocotools.coco import COCO

from tests.data.dataset_fixtures import make_coco
from turboyolo.data.formats import load_dataset
from turboyolo.data.formats.coco import write_coco


def _dataset(tmp_path):
    return make_coco(tmp_path / "coco", {"train": {"a.jpg": [(1, [1, 2, 10, 20]), (3, [5, 5, 4, 4])]},
                                         "val": {"b.jpg": [(3, [0, 0, 64, 48])]}})


def test_folder_and_json_file_give_the_same_dataset(tmp_path):
    root = _dataset(tmp_path)
    for data_arg in (root, root / "annotations" / "instances_val.json"):
        data = load_dataset(str(data_arg), verbose=False)
        assert data.format == "coco" and data.names == ["cat", "dog"] and list(data.splits) == ["train", "val"]
        (record,) = data.split("train")
        assert record.boxes.tolist() == [[1, 2, 11, 22], [5, 5, 9, 9]]
        assert record.classes.tolist() == [0, 1]  # category ids 1, 3 -> 0, 1
        assert record.image_id == 1


def test_crowd_annotations_are_not_boxes(tmp_path):
    root = _dataset(tmp_path)
    path = root / "annotations" / "instances_train.json"
    content = json.loads(path.read_text())
    content["annotations"][0]["iscrowd"] = 1
    path.write_text(json.dumps(content))
    data = load_dataset(str(root), verbose=False)
    assert data.split("train")[0].classes.tolist() == [1] and data.report.total() == 0


def test_single_file_serves_as_train_and_val(tmp_path):
    root = _dataset(tmp_path)
    (root / "annotations" / "instances_train.json").rename(root / "annotations" / "only.json")
    data = load_dataset(str(root / "annotations" / "only.json"), verbose=False)
    assert set(data.splits) == {"train", "val"}
    assert len(data.split("train")) == len(data.split("val")) == 1 and data.report.total() == 0


def test_write_coco_is_valid_for_pycocotools_and_reads_back(tmp_path):
    data = load_dataset(str(_dataset(tmp_path)), verbose=False)
    out = write_coco(data, tmp_path / "copy").data
    api = COCO(str(out / "annotations" / "instances_train.json"))
    assert len(api.getAnnIds()) == 2 and [c["name"] for c in api.loadCats(api.getCatIds())] == ["cat", "dog"]
    copy = load_dataset(str(out), verbose=False)
    np.testing.assert_allclose(copy.split("train")[0].boxes, data.split("train")[0].boxes)


def test_crowd_annotations_are_ignored_ground_truth_unless_the_policy_says_otherwise(tmp_path):
    root = _dataset(tmp_path)
    path = root / "annotations" / "instances_train.json"
    content = json.loads(path.read_text())
    content["annotations"][0]["iscrowd"] = 1
    path.write_text(json.dumps(content))
    (record,) = load_dataset(str(root), verbose=False).split("train")
    assert record.classes.tolist() == [1] and record.ignored_classes.tolist() == [0]
    np.testing.assert_allclose(record.ignored_boxes, [[1, 2, 11, 22]])
    (trained,) = load_dataset(str(root), verbose=False, difficult="train").split("train")
    assert trained.classes.tolist() == [0, 1] and len(trained.ignored_boxes) == 0
