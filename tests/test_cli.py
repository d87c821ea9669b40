"""The command line as a user meets it: every mistake is one line on stderr, never a traceback."""
import errno
import os
import zipfile

import cv2
import numpy as np
import pytest
import torch
import yaml

from turboyolo.cli import main, parse_command
from turboyolo.data.synth import generate_synthetic
from turboyolo.engine.checkpoint import load_checkpoint
from turboyolo.model.build import build_model


@pytest.fixture(scope="module")
def tiny_data(tmp_path_factory):
    """4 train + 2 val images of 64 px, 2 classes (no test split)."""
    return generate_synthetic(tmp_path_factory.mktemp("data"), n_train=4, n_val=2, imgsz=64, nc=2, seed=0)


@pytest.fixture(scope="module")
def good_checkpoint(tmp_path_factory, tiny_data):
    model = build_model("n", 2)
    path = tmp_path_factory.mktemp("weights") / "best.pt"
    torch.save({"model": model.state_dict(), "spec": model.spec, "names": ["circle", "square"],
                "args": {"data": str(tiny_data)}}, path)
    return path


def one_line_error(capsys, argv: list[str]) -> tuple[int, str]:
    """Run the CLI; assert it failed with exactly one stderr line and no traceback; return (code, line)."""
    code = main(argv)
    err = capsys.readouterr().err
    lines = err.strip().splitlines()
    assert code != 0, err
    assert len(lines) == 1 and "Traceback" not in err, err
    return code, lines[0]


# --- point 20: stray words ----------------------------------------------------------------------

# where words were ignored, these keys make the old behaviour end quickly (no 100-epoch run on the defaults)
NO_DATA = "data=/nonexistent/data.yaml"


@pytest.mark.parametrize("argv, expected", [
    (["train", "--epochs", "3", NO_DATA], "'--epochs 3' is not a key=value word; did you mean epochs=3?"),
    (["train", "epochs", "3", NO_DATA], "did you mean epochs=3?"),
    (["train", "--epoch", "3", NO_DATA], "did you mean epochs=3?"),
    (["train", "--verbose", NO_DATA], "did you mean verbose=true?"),
    (["train", "--img", "640", NO_DATA], "did you mean imgsz=640?"),  # YOLOv5's spelling, shown as ours
    (["train", "foo", NO_DATA], "`turboyolo train` takes only key=value words"),
    (["bench", "bogus"], "takes model or hw or scaling or scaling predict"),
    (["bench", "scaling", "predict", "extra", "step_s=1"], "unexpected words 'scaling predict extra'"),
    (["show", "val", "x", NO_DATA], "takes val before its key=value words"),
    (["eval-coco", "x", "gt=a.json", "pred=b.json"], "unexpected word 'x'"),
])
def test_stray_words_are_refused_with_a_hint(capsys, argv, expected):
    code, line = one_line_error(capsys, argv)
    assert code == 2 and expected in line


def test_each_mode_takes_the_words_it_declares(tmp_path):
    assert parse_command("bench", ["scaling", "nproc=1,2"])[1].nproc == [1, 2]  # a sweep
    assert parse_command("bench", ["hw"])[0] == ["hw"]
    assert parse_command("show", ["val"])[0] == ["val"]
    assert parse_command("check", [str(tmp_path)])[0] == [str(tmp_path)]
    assert parse_command("train", ["--epochs=3"])[1].epochs == 3


def test_ultralytics_spellings_reach_the_run(capsys):
    cfg = parse_command("train", ["cos_lr=True", "cache=False", "optimizer=SGD", "batch_size=8"])[1]
    assert (cfg.lr_schedule, cfg.cache, cfg.optimizer, cfg.batch) == ("cosine", "none", "sgd", 8)
    _, line = one_line_error(capsys, ["train", "save_period=5"])
    assert "save_period_steps=N" in line


# --- point 19: one line for each user error -------------------------------------------------------

@pytest.mark.parametrize("argv, expected", [
    (["train", "epochs=3,4"], "epochs='3,4' is a list, but epochs takes one value"),
    (["train", "nproc=1,2"], "nproc takes one value"),
    (["bench", "scaling", "predict", "nproc=1,2"], "nproc takes one value"),
    (["train", "pretrained=true"], "ships no pretrained weights"),
])
def test_list_for_scalar_key_and_bad_alias_are_config_errors(capsys, argv, expected):
    code, line = one_line_error(capsys, argv)
    assert code == 2 and expected in line


def test_cfg_yaml_syntax_error_names_file_and_line(capsys, tmp_path):
    path = tmp_path / "bad.yaml"
    path.write_text("epochs: [3\nlr0: 0.1\n")
    _, line = one_line_error(capsys, ["train", f"cfg={path}"])
    assert f"cfg={path}: not valid YAML at line 2" in line


@pytest.mark.parametrize("model, expected", [
    ("q", "model=q: neither a scale nor a model YAML file; give a scale (n, s, m, l, x)"),
    ("nope.yaml", "model=nope.yaml: no such file"),
])
def test_bad_model_names_the_key(capsys, tiny_data, tmp_path, model, expected):
    _, line = one_line_error(capsys, ["train", f"model={model}", f"data={tiny_data}", "imgsz=64", "workers=0",
                                      "cache=none", f"project={tmp_path}"])
    assert expected in line


@pytest.mark.skipif(torch.cuda.is_available(), reason="needs a machine without a usable GPU")
@pytest.mark.parametrize("device", ["cuda", "0", "cuda:0"])
def test_cuda_device_without_gpu(capsys, tmp_path, device):
    _, line = one_line_error(capsys, ["train", f"device={device}", f"project={tmp_path}"])
    assert f"device={device}: no CUDA GPU is usable here" in line and "device=cpu" in line


def test_unknown_device_word(capsys, tmp_path):
    _, line = one_line_error(capsys, ["train", "device=gpu", f"project={tmp_path}"])
    assert "device=gpu: not a device; use device=cpu" in line


def test_missing_split_in_val(capsys, tiny_data, good_checkpoint):
    _, line = one_line_error(capsys, ["val", f"weights={good_checkpoint}", f"data={tiny_data}", "split=test",
                                      "workers=0", "cache=none"])
    assert "has no 'test' split; use split=train or split=val" in line


class Foreign:  # a class the weights_only loader refuses, as in another framework's pickled model
    pass


def bad_weights(kind: str, folder, good_checkpoint):
    """A file of `kind` that `weights=` may be given by mistake."""
    path = folder / f"{kind}.pt"
    if kind == "text":
        path.write_text("hello")
    elif kind == "tensor":
        torch.save(torch.zeros(3), path)
    elif kind == "foreign":
        torch.save({"model": Foreign(), "spec": {}}, path)
    elif kind == "random":
        path.write_bytes(os.urandom(4096))
    elif kind == "empty":
        path.write_bytes(b"")
    elif kind == "truncated":
        assert zipfile.is_zipfile(good_checkpoint)
        data = good_checkpoint.read_bytes()
        path.write_bytes(data[: len(data) // 2])
    return path  # kind "missing": never written


@pytest.mark.parametrize("kind, expected", [
    ("text", "cannot be read as a checkpoint"),
    ("tensor", "is a torch file but not a turboyolo checkpoint (it holds a Tensor"),
    ("foreign", "which a weights_only load refuses"),
    ("random", "cannot be read as a checkpoint"),
    ("empty", "is empty (0 bytes)"),
    ("truncated", "truncated or corrupt"),
    ("missing", "checkpoint not found"),
])
def test_weights_that_are_not_a_checkpoint(capsys, tmp_path, tiny_data, good_checkpoint, kind, expected):
    path = bad_weights(kind, tmp_path, good_checkpoint)
    code, line = one_line_error(capsys, ["val", f"weights={path}", f"data={tiny_data}", "workers=0", "cache=none"])
    assert code == 1 and expected in line and str(path) in line


def test_fp16_on_cpu_is_one_line(capsys, tmp_path, good_checkpoint):
    if torch.cuda.is_available():
        pytest.skip("fp16 is valid on a GPU")
    image_dir = tmp_path / "images"
    image_dir.mkdir()
    cv2.imwrite(str(image_dir / "a.png"), np.zeros((32, 32, 3), np.uint8))
    _, line = one_line_error(capsys, ["predict", f"weights={good_checkpoint}", f"source={image_dir}", "half=true",
                                      "device=cpu", f"project={tmp_path / 'runs'}"])
    assert "amp=fp16 (or half=true) needs a CUDA device" in line


@pytest.mark.slow
def test_disk_full_while_saving_keeps_previous_checkpoint(capsys, monkeypatch, tmp_path, tiny_data):
    """The 3rd checkpoint write (epoch 2's last.pt) hits a full disk: one line naming the folder,
    and epoch 1's last.pt is still there, whole. Also: optimizer=auto keeps a given lr0 (point 21)."""
    real_save, calls = torch.save, []

    def save_until_full(obj, fh, *args, **kwargs):
        calls.append(1)
        if len(calls) == 3:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        return real_save(obj, fh, *args, **kwargs)

    monkeypatch.setattr(torch, "save", save_until_full)
    code, line = one_line_error(capsys, [
        "train", f"data={tiny_data}", "epochs=2", "imgsz=32", "batch=4", "workers=0", "cache=none", "plots=false",
        "val=false", "lr0=0.0025", f"project={tmp_path}", "name=run", "verbose=false"])
    weights = tmp_path / "run" / "weights"
    assert code == 1 and f"no space left on {weights} while writing last.pt" in line
    assert "the previous last.pt is kept" in line
    assert load_checkpoint(weights / "last.pt")["epoch"] == 1
    assert sorted(p.name for p in weights.iterdir()) == ["best.pt", "last.pt"]  # no temp file left behind
    derived = yaml.safe_load((tmp_path / "run" / "derived.yaml").read_text())
    assert derived["optimizer"] == "adamw" and derived["lr0"] == pytest.approx(0.0025)
