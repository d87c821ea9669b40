"""`turboyolo predict`: the user's imgsz is used, and images with one name in several folders stay apart."""
from __future__ import annotations

import json

import cv2
import numpy as np
import torch

from turboyolo.cli import main
from turboyolo.engine.checkpoint import atomic_save
from turboyolo.data.sources import list_sources
from turboyolo.model.build import build_model

TRAINED_IMGSZ = 64


def write_checkpoint(path):
    """An untrained detector with class biases at 0: it emits many boxes, wherever they fall."""
    torch.manual_seed(0)
    model = build_model("n", 2)
    with torch.no_grad():
        for tower in model.head.cls_towers:
            tower[-1].bias.zero_()
    atomic_save({"model": model.state_dict(), "spec": model.spec, "names": ["a", "b"],
                 "args": {"imgsz": TRAINED_IMGSZ, "amp": "off"}}, path)
    return path


def write_image(path, seed: int, size=(48, 80)):
    """size: (height, width)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    cv2.imwrite(str(path), np.random.default_rng(seed).integers(0, 255, (*size, 3), dtype=np.uint8))


def predict(tmp_path, name: str, *keys: str) -> dict:
    assert main(["predict", f"weights={tmp_path / 'w.pt'}", f"project={tmp_path / 'out'}", f"name={name}", *keys]) == 0
    return json.loads((tmp_path / "out" / name / "predictions.json").read_text())


def test_predict_uses_the_users_imgsz_else_the_checkpoints(tmp_path, capsys):
    write_checkpoint(tmp_path / "w.pt")
    for i in range(2):
        write_image(tmp_path / "images" / f"{i}.png", i)
    source = f"source={tmp_path / 'images'}"
    default = predict(tmp_path, "default", source)
    default_log = capsys.readouterr().out
    larger = predict(tmp_path, "larger", source, "imgsz=128")
    larger_log = capsys.readouterr().out
    assert larger != default and sum(len(boxes) for boxes in larger.values()) > 0
    assert predict(tmp_path, "same", source, f"imgsz={TRAINED_IMGSZ}") == default
    assert f"from the checkpoint: imgsz={TRAINED_IMGSZ}, amp=off" in default_log
    assert f"imgsz=128 (trained with {TRAINED_IMGSZ})" in larger_log


def test_same_file_name_in_two_folders_keeps_both_results(tmp_path):
    write_checkpoint(tmp_path / "w.pt")
    write_image(tmp_path / "src" / "day" / "img.png", 1)
    write_image(tmp_path / "src" / "night" / "img.png", 2, size=(40, 64))
    results = predict(tmp_path, "run", f"source={tmp_path / 'src' / '*' / 'img.png'}", "save_txt=true", "conf=0.3")
    assert sorted(results) == ["day/img.png", "night/img.png"] and results["day/img.png"] != results["night/img.png"]
    out = tmp_path / "out" / "run"
    assert cv2.imread(str(out / "day" / "img.png")).shape == (48, 80, 3)
    assert cv2.imread(str(out / "night" / "img.png")).shape == (40, 64, 3)
    assert (out / "day" / "img.txt").is_file() and (out / "night" / "img.txt").is_file()


def test_list_sources_names(tmp_path):
    for folder in ("a", "b", "b/deeper"):
        write_image(tmp_path / folder / "x.png", 0)
    assert [s.name for s in list_sources(str(tmp_path / "a"))] == ["x.png"]
    assert [s.name for s in list_sources(str(tmp_path / "a" / "x.png"))] == ["x.png"]
    assert [s.name for s in list_sources(str(tmp_path / "*" / "x.png"))] == ["a/x.png", "b/x.png"]
    assert [s.name for s in list_sources(str(tmp_path / "b" / "*" / "x.png"))] == ["x.png"]  # one folder matched
    assert [s.name for s in list_sources(str(tmp_path / "b" / "**" / "x.png"))] == ["x.png"]
