"""What val and predict take from a checkpoint's saved config, and how a saved relative data path resolves."""
from __future__ import annotations

import pytest

from turboyolo.config import ConfigError, build_config
from turboyolo.engine.checkpoint_settings import VAL_KEYS, adopt_checkpoint_settings, training_folder


def trained_in(tmp_path, **args):
    """A checkpoint where `train` writes it when run in tmp_path/work with data=data/d.yaml."""
    work = tmp_path / "work"
    (work / "data").mkdir(parents=True)
    (work / "data" / "d.yaml").write_text("names: [a]\n")
    weights = work / "runs" / "train" / "exp" / "weights" / "best.pt"
    saved = {"data": "data/d.yaml", "project": "runs/train", "imgsz": 160, "rect_val": False, "amp": "off", **args}
    return work, weights, {"args": saved}


def test_unset_keys_come_from_the_checkpoint_and_relative_data_from_the_training_folder(tmp_path, monkeypatch):
    work, weights, ckpt = trained_in(tmp_path)
    monkeypatch.chdir(tmp_path)  # not where training ran
    cfg = build_config({"weights": str(weights)})
    line = adopt_checkpoint_settings(cfg, ckpt, VAL_KEYS, weights)
    assert (cfg.imgsz, cfg.rect_val, cfg.amp) == (160, False, "off")
    assert cfg.data == str(work / "data" / "d.yaml")
    assert line == f"from the checkpoint: data={work / 'data' / 'd.yaml'}, imgsz=160, rect_val=False, amp=off"


def test_keys_the_user_gave_win_and_are_reported(tmp_path):
    _, weights, ckpt = trained_in(tmp_path)
    cfg = build_config({"weights": str(weights), "imgsz": "320", "data": "synthetic", "amp": "off"})
    line = adopt_checkpoint_settings(cfg, ckpt, VAL_KEYS, weights)
    assert (cfg.imgsz, cfg.data, cfg.rect_val) == (320, "synthetic", False)
    assert line.endswith("; yours: data=synthetic (trained with data/d.yaml), imgsz=320 (trained with 160)")


def test_a_data_path_found_nowhere_is_one_clear_error(tmp_path, monkeypatch):
    _, weights, ckpt = trained_in(tmp_path, data="gone/d.yaml")
    monkeypatch.chdir(tmp_path)
    with pytest.raises(ConfigError, match=r"data=gone/d.yaml \(from the checkpoint .*\) is not found .*; pass data=PATH"):
        adopt_checkpoint_settings(build_config({}), ckpt, VAL_KEYS, weights)


def test_an_old_checkpoint_without_saved_keys_keeps_the_defaults(tmp_path):
    cfg = build_config({})
    line = adopt_checkpoint_settings(cfg, {"args": {"imgsz": 416}}, VAL_KEYS, tmp_path / "w.pt")
    assert cfg.imgsz == 416 and line == "from the checkpoint: nothing (its settings are the defaults)"


def test_training_folder_is_read_off_the_checkpoint_location(tmp_path):
    weights = tmp_path / "runs" / "train" / "exp" / "weights" / "best.pt"
    assert training_folder(weights, "runs/train") == tmp_path
    assert training_folder(weights, "./runs/train") == tmp_path
    assert training_folder(weights, "other/train") is None  # moved since: do not guess
    assert training_folder(tmp_path / "best.pt", "runs/train") is None
    assert training_folder(weights, str(tmp_path / "runs" / "train")) is None  # absolute project: no cwd to find


def _saved_checkpoint(tmp_path, **args):
    """A small real checkpoint file (2 classes) with the given saved args."""
    import torch

    from turboyolo.engine.checkpoint import atomic_save
    from turboyolo.model.build import build_model

    torch.manual_seed(0)
    model = build_model("n", 2)
    path = tmp_path / "w.pt"
    atomic_save({"model": model.state_dict(), "spec": model.spec, "names": ["a", "b"], "args": args}, path)
    return path


def test_val_checks_the_batch_it_takes_from_the_checkpoint_as_the_command_line_would(tmp_path, capsys):
    from turboyolo.cli import main

    weights = _saved_checkpoint(tmp_path, batch=0, imgsz=64)  # batch is [1, 65536]
    assert main(["val", f"weights={weights}", "device=cpu", "workers=0"]) == 2
    assert f"checkpoint {weights}: batch=0 is not valid" in capsys.readouterr().err


def test_predict_from_python_and_from_the_command_line_run_as_the_checkpoint_was_trained(tmp_path):
    import torch

    from turboyolo.engine.checkpoint import load_checkpoint
    from turboyolo.engine.checkpoint_settings import PREDICT_KEYS
    from turboyolo.engine.predictor import Predictor

    weights = _saved_checkpoint(tmp_path, imgsz=96, channels_last=False, amp="off")
    library = Predictor(str(weights), torch.device("cpu"))
    cfg = build_config({"weights": str(weights)})  # what `turboyolo predict` does before building its Predictor
    ckpt = load_checkpoint(weights)
    adopt_checkpoint_settings(cfg, ckpt, PREDICT_KEYS, weights)
    command_line = Predictor(ckpt, torch.device("cpu"), imgsz=cfg.imgsz, amp=cfg.amp, channels_last=cfg.channels_last)
    for predictor in (library, command_line):
        assert predictor.imgsz == 96
        assert predictor.memory_format == torch.contiguous_format  # channels_last=false, as trained
        assert predictor.amp_dtype is None  # amp=off, as trained (the default auto may pick bf16)


def test_a_saved_setting_the_schema_refuses_is_one_clear_error_in_predict_too(tmp_path):
    import torch

    from turboyolo.engine.predictor import Predictor

    weights = _saved_checkpoint(tmp_path, imgsz=7)  # imgsz is [32, 8192]
    with pytest.raises(ConfigError, match=rf"checkpoint {weights}: imgsz=7 is not valid"):
        Predictor(str(weights), torch.device("cpu"))


@pytest.fixture(scope="module")
def relative_run(tmp_path_factory):
    """A one-epoch run trained as a user would: `train data=data/data.yaml` from its own folder."""
    from tests.engine.test_val_cli import train_here

    work = tmp_path_factory.mktemp("relative-run")
    run = train_here(work, {"train": 4, "val": 4}, "imgsz=64", "epochs=1", "batch=4", "cache=none", "val=false", "mosaic=0")
    return work, run / "weights" / "last.pt"


@pytest.mark.slow
def test_checkpoint_paths_are_saved_absolute_so_val_works_from_anywhere(relative_run, tmp_path, monkeypatch):
    from turboyolo.cli import main
    from turboyolo.engine.checkpoint import load_checkpoint

    work, last = relative_run
    args = load_checkpoint(last)["args"]
    assert args["data"] == str(work / "data" / "data.yaml") and args["project"] == str(work / "runs" / "train")
    assert args["model"] == "n"  # a scale, not a path: unchanged
    moved = tmp_path / "elsewhere" / "model.pt"  # no longer below the folder training ran in
    moved.parent.mkdir()
    moved.write_bytes(last.read_bytes())
    monkeypatch.chdir(tmp_path)
    assert main(["val", f"weights={moved}", "plots=false"]) == 0


@pytest.mark.slow
def test_resume_accepts_the_relative_data_path_the_run_was_started_with(relative_run, monkeypatch):
    """An elastic restart re-runs the original command line: data=data/data.yaml must equal the saved absolute path."""
    from turboyolo.engine.resume import load_resume_checkpoint

    work, last = relative_run
    monkeypatch.chdir(work)
    cfg = build_config({"data": "data/data.yaml", "resume": str(last), "epochs": 2})
    load_resume_checkpoint(cfg, last, verbose=False)
    assert cfg.data == str(work / "data" / "data.yaml")
