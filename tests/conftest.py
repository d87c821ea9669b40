"""Shared test set-up: one torch thread per test process (CI has 2 cores), a private cache dir."""

import pytest
import torch

torch.set_num_threads(1)


@pytest.fixture(autouse=True)
def _private_cache(tmp_path_factory, monkeypatch):
    monkeypatch.setenv("TURBOYOLO_CACHE", str(tmp_path_factory.getbasetemp() / "turboyolo-cache"))


def pytest_collection_modifyitems(config, items):
    """Tests that start several processes say so in their file name (as Lightning's *_integration.py):
    a `dist`-marked test lives in a test_*_integration.py file, next to the unit tests of the same module."""
    misplaced = [item.nodeid for item in items
                 if item.get_closest_marker("dist") and not item.path.name.endswith("_integration.py")]
    if misplaced:
        raise pytest.UsageError("@pytest.mark.dist tests belong in a test_*_integration.py file: " + ", ".join(misplaced))
    if not torch.cuda.is_available():  # `gpu` tests skip cleanly here; benchmarks/gpu_check.sh runs them on a GPU
        no_cuda = pytest.mark.skip(reason="needs a CUDA device (torch.cuda.is_available() is False)")
        for item in items:
            if item.get_closest_marker("gpu"):
                item.add_marker(no_cuda)
