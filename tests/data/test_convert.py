"""`turboyolo convert`: no valid box is lost, VOC -> YOLO -> COCO -> YOLO keeps boxes within 0.5 px."""
import numpy as np
import pytest

from tests.data.dataset_fixtures import BCCD, make_voc
from turboyolo.cli import main
from turboyolo.data.convert import convert
from turboyolo.data.formats import load_dataset


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
