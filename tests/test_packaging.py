"""The package declares the torch range it supports; the exact tested version is pinned only where environments are made."""
import re
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _torch_requirement() -> str:
    deps = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
    return next(d for d in deps if re.match(r"torch\b", d)).replace(" ", "")


def test_pyproject_declares_a_torch_range_not_a_pin():
    # an exact pin would make `pip install turboyolo` replace a user's CUDA torch with the pinned build
    requirement = _torch_requirement()
    assert requirement.startswith("torch>="), requirement
    assert "==" not in requirement


def test_makefile_pins_the_exact_torch_the_tests_run_on():
    makefile = (ROOT / "Makefile").read_text()
    assert re.search(r"pip install .*torch==\d+\.\d+\.\d+", makefile)


def test_installed_torch_satisfies_the_declared_minimum():
    import torch

    minimum = tuple(int(x) for x in _torch_requirement().removeprefix("torch>=").split(".")[:2])
    assert tuple(int(x) for x in torch.__version__.split("+")[0].split(".")[:2]) >= minimum
