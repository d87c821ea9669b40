"""Synthetic shapes: exact boxes, deterministic per seed, data=synthetic generated once into the cache."""
import numpy as np

from turboyolo.cli import main
from turboyolo.data import synth
from turboyolo.data.formats import load_dataset
from turboyolo.data.synth import class_names, generate_synthetic, render_image


def test_boxes_are_the_exact_extent_of_the_drawn_object(monkeypatch):
    monkeypatch.setattr(synth, "_background", lambda rng, size: np.zeros((size, size, 3), np.float32))
    monkeypatch.setattr(synth, "MAX_OBJECTS", 1)
    for seed in range(20):
        image, boxes, classes = render_image(np.random.default_rng(seed), 96, 8)
        ys, xs = np.nonzero(image.max(2) > 0)
        assert boxes.tolist() == [[xs.min(), ys.min(), xs.max() + 1, ys.max() + 1]]


def test_same_seed_same_dataset_and_sizes_in_range(tmp_path):
    a = generate_synthetic(tmp_path / "a", 6, 2, 64, 3, seed=1)
    b = generate_synthetic(tmp_path / "b", 6, 2, 64, 3, seed=1)
    c = generate_synthetic(tmp_path / "c", 6, 2, 64, 3, seed=2)
    first = sorted(p.relative_to(a.parent) for p in a.parent.rglob("*.*") if p.suffix in {".jpg", ".txt"})
    assert all((a.parent / p).read_bytes() == (b.parent / p).read_bytes() for p in first)
    assert (a.parent / "labels/train/train_000000.txt").read_text() != (c.parent / "labels/train/train_000000.txt").read_text()
    data = load_dataset(str(a), verbose=False)
    assert data.report.total() == 0 and data.names == ["circle", "square", "triangle"]
    assert (len(data.split("train")), len(data.split("val"))) == (6, 2)
    boxes = np.concatenate([r.boxes for r in data.split("train")])
    sizes = np.sqrt(np.prod(boxes[:, 2:] - boxes[:, :2], 1))
    assert sizes.min() >= 2 and sizes.max() <= 64


def test_many_classes_get_distinct_names():
    names = class_names(20)
    assert len(set(names)) == 20 and names[0] == "circle_hue0" and names[8] == "circle_hue1"


def test_data_synthetic_is_generated_once(tmp_path, monkeypatch):
    monkeypatch.setattr(synth, "DEFAULT", {"n_train": 4, "n_val": 2, "imgsz": 64, "nc": 3, "seed": 0})
    data = load_dataset("synthetic", cache_dir=str(tmp_path), verbose=False)
    assert (len(data.split("train")), len(data.split("val"))) == (4, 2)
    assert data.root.startswith(str(tmp_path / "synthetic-"))
    monkeypatch.setattr(synth, "generate_synthetic", lambda *a, **k: 1 / 0)  # must not run again
    assert len(load_dataset("synthetic", cache_dir=str(tmp_path), verbose=False).split("train")) == 4


def test_cli_splits_n_into_train_and_val(tmp_path, capsys):
    assert main(["synth", f"out={tmp_path}", "n=10", "imgsz=64", "nc=2", "seed=3"]) == 0
    assert "8 train + 2 val images" in capsys.readouterr().out
    assert len(list((tmp_path / "images" / "train").glob("*.jpg"))) == 8


def synth_names(out) -> list[str]:
    return load_dataset(str(out / "data.yaml"), verbose=False).names


def test_nc_sets_the_class_count_and_old_classes_spelling_still_does_with_a_deprecation_line(tmp_path, capsys):
    """classes= became the predict/val class filter: `synth classes=2` must not silently make 3 classes."""
    assert main(["synth", f"out={tmp_path / 'nc'}", "n=5", "imgsz=64", "nc=2"]) == 0
    assert synth_names(tmp_path / "nc") == ["circle", "square"]
    capsys.readouterr()
    assert main(["synth", f"out={tmp_path / 'old'}", "n=5", "imgsz=64", "classes=2"]) == 0
    assert synth_names(tmp_path / "old") == ["circle", "square"]
    assert "use nc=2" in capsys.readouterr().err


def test_a_class_filter_list_given_to_synth_is_refused_in_one_line(tmp_path, capsys):
    assert main(["synth", f"out={tmp_path}", "n=5", "imgsz=64", "classes=0,2"]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "nc=" in err and not (tmp_path / "data.yaml").exists()
