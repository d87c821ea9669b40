"""The search space: defaults valid against the schema, a YAML file restricts or extends it, typos are one line."""
from __future__ import annotations

import pytest

from turboyolo.config import ConfigError, build_config, load_schema
from turboyolo.tune.space import DEFAULT_SPACE, load_space, suggest


def test_default_space_lies_inside_each_keys_own_range():
    schema = load_schema()
    params = load_space("default")
    assert {p.key for p in params} == set(DEFAULT_SPACE)
    for p in params:
        spec = schema[p.key]
        assert spec.low <= p.low < p.high <= spec.high, p.key


def test_a_file_restricts_extends_and_removes(tmp_path):
    path = tmp_path / "space.yaml"
    path.write_text("params:\n  lr0: {low: 0.001, high: 0.004, log: true}\n  batch: {choices: [8, 16]}\n"
                    "  mixup: null\n")
    params = {p.key: p for p in load_space(str(path))}
    assert "mixup" not in params and params["lr0"].high == 0.004 and params["batch"].choices == (8, 16)
    assert "mosaic" in params  # base: default keeps the rest
    path.write_text("base: empty\nparams:\n  imgsz: {choices: [64, 96]}\n")
    assert [p.key for p in load_space(str(path))] == ["imgsz"]


@pytest.mark.parametrize("content, says", [
    ("params:\n  lr_0: {low: 0.001, high: 0.01}\n", "did you mean lr0"),
    ("params:\n  mosaic: {low: 0.0, high: 2.0}\n", "mosaic"),             # outside the key's own [0, 1]
    ("params:\n  lr0: {low: 0.01, high: 0.001}\n", "must be below"),
    ("params:\n  lr0: {low: 0.0, high: 0.01, log: true}\n", "log range"),
    ("params:\n  optimizer: {choices: [sgd, lion]}\n", "optimizer"),       # lion is not a valid value
    ("params:\n  lr0: 0.01\n", "needs {low"),
    ("params:\n  lr0: {low: 0.001, hi: 0.01}\n", "needs {low"),
    ("base: nothing\n", "base must be"),
    ("params:\n  degrees: null\n", "not in it"),
])
def test_a_wrong_space_file_is_one_line_naming_the_key(tmp_path, content, says):
    path = tmp_path / "space.yaml"
    path.write_text(content)
    with pytest.raises(ConfigError, match=says) as err:
        load_space(str(path))
    assert "\n" not in str(err.value)


def test_suggested_values_make_a_valid_training_config():
    optuna = pytest.importorskip("optuna")
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=3))
    params = load_space("default")
    for _ in range(5):
        values = suggest(study.ask(), params)
        cfg = build_config(values)  # validated as the command line is
        assert all(cfg[k] == v for k, v in values.items())


def test_tune_without_optuna_names_the_extra(monkeypatch, capsys):
    import builtins

    from turboyolo.cli import main

    real_import = builtins.__import__

    def no_optuna(name, *args, **kwargs):
        if name == "optuna" or name.startswith("optuna."):
            raise ImportError(name)
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_optuna)
    monkeypatch.delitem(__import__("sys").modules, "optuna", raising=False)
    assert main(["tune", "data=synthetic"]) != 0
    err = capsys.readouterr().err.strip()
    assert "turboyolo[tune]" in err and "\n" not in err
