"""Shared test set-up: one torch thread per test process (CI has 2 cores), a private cache dir."""

import pytest
import torch

torch.set_num_threads(1)


@pytest.fixture(autouse=True)
def _private_cache(tmp_path_factory, monkeypatch):
    monkeypatch.setenv("TURBOYOLO_CACHE", str(tmp_path_factory.getbasetemp() / "turboyolo-cache"))
