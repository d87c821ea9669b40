"""A tiny dataset and model for tuning studies: a trial of 2-3 epochs takes seconds."""
from __future__ import annotations

import pytest
import yaml

from turboyolo.model.spec import load_spec


@pytest.fixture(scope="session")
def tiny_data(tmp_path_factory):
    from turboyolo.data.synth import generate_synthetic

    return str(generate_synthetic(tmp_path_factory.mktemp("synth"), n_train=16, n_val=8, imgsz=64, nc=2, seed=1))


@pytest.fixture(scope="session")
def tiny_model(tmp_path_factory):
    """The packaged yolo.yaml at a quarter of n's width: same layers, far cheaper."""
    spec = load_spec("n")
    spec["scales"] = {"t": [0.33, 0.125, 1024]}
    spec["scale"] = "t"
    path = tmp_path_factory.mktemp("model") / "tiny.yaml"
    path.write_text(yaml.safe_dump(spec, sort_keys=False))
    return str(path)


@pytest.fixture
def tune_words(tiny_data, tiny_model, tmp_path):
    """`turboyolo tune` words for a quick study in tmp_path (train keys a user would give, plus the folder)."""
    return [f"data={tiny_data}", f"model={tiny_model}", "imgsz=64", "batch=8", "workers=0", "cache=ram", "amp=off",
            "plots=false", "close_mosaic=0", "warmup_epochs=0", f"project={tmp_path / 'runs'}", "name=study"]
