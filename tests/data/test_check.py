"""`turboyolo check`: health report text and the exit code (0 trainable, 1 not)."""
from tests.data.dataset_fixtures import make_yolo
from turboyolo.cli import main


def test_healthy_dataset_report_and_exit_0(tmp_path, capsys):
    data_yaml = make_yolo(tmp_path, {"train": {"a.jpg": "0 .5 .5 .5 .5\n1 .2 .2 .1 .1\n0 1.5 .5 .1 .1", "b.jpg": None},
                                     "val": {"c.jpg": "1 .5 .5 .2 .2"}})
    assert main(["check", f"data={data_yaml}"]) == 0
    out = capsys.readouterr().out
    assert "split  images  boxes  no-boxes  cat  dog" in out
    assert "train       2      2         1    1    1" in out
    assert "box size, sqrt(w*h) px" in out and "16-32 | " in out
    assert "images without boxes (used as background): 1" in out
    assert "label_missing: 1" in out and "box_outside_image: 1" in out and "a.txt:3" in out
    assert "verdict: OK" in out


def test_unusable_split_exit_1_and_fatal_line(tmp_path, capsys):
    data_yaml = make_yolo(tmp_path, {"train": {"a.jpg": "0 .5 .5 .5 .5"}, "val": {"c.jpg": "1 .5 .5 .2 .2"}})
    (tmp_path / "images" / "val" / "c.jpg").write_bytes(b"")
    assert main(["check", f"data={data_yaml}"]) == 1
    out = capsys.readouterr().out
    assert "FATAL: split 'val' has no usable image" in out and "verdict: CANNOT be trained on" in out
    assert "image_unreadable: 1" in out


def test_train_without_any_box_is_not_trainable(tmp_path, capsys):
    data_yaml = make_yolo(tmp_path, {"train": {"a.jpg": ""}, "val": {"c.jpg": "1 .5 .5 .2 .2"}})
    assert main(["check", str(data_yaml)]) == 1  # a positional path works too
    assert "train split has no boxes" in capsys.readouterr().out


def test_missing_dataset_exit_1(tmp_path, capsys):
    assert main(["check", f"data={tmp_path / 'nothing'}"]) == 1
    assert "no such file" in capsys.readouterr().out


def test_difficult_boxes_are_counted_with_what_the_policy_does(tmp_path, capsys):
    from tests.data.dataset_fixtures import make_voc

    voc = make_voc(tmp_path / "voc", {"train": {"a": [("x", (1, 1, 20, 20)), ("x", (30, 10, 60, 40), 1)]},
                                      "val": {"b": [("x", (2, 2, 30, 30), 1), ("x", (5, 5, 15, 15))]}})
    assert main(["check", f"data={voc}"]) == 0
    assert "difficult/crowd boxes: 2 (train 1, val 1): not trained on; the metric ignores" in capsys.readouterr().out
    assert main(["check", f"data={voc}", "difficult=drop"]) == 0
    assert "difficult/crowd boxes: 2 (train 1, val 1): removed" in capsys.readouterr().out
    assert main(["check", str(make_yolo(tmp_path / "y", {"train": {"a.jpg": "0 .5 .5 .5 .5"}, "val": {"c.jpg": None}}))]) == 0
    assert "difficult/crowd boxes: none" in capsys.readouterr().out
