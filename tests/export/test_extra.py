"""Without the optional `export` extra, export and .onnx weights say in one line what to install."""
from __future__ import annotations

import sys

import pytest

from turboyolo.cli import main


@pytest.mark.parametrize("missing", ["onnx", "onnxruntime"])
def test_export_without_the_extra_names_it(tmp_path, monkeypatch, capsys, missing):
    monkeypatch.setitem(sys.modules, missing, None)  # `import onnx...` now fails as if not installed
    assert main(["export", f"weights={tmp_path / 'best.pt'}"]) == 1
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1
    assert f"needs the package {missing}" in err and "pip install 'turboyolo[export]'" in err


def test_val_of_an_onnx_file_without_the_extra_names_it(tmp_path, monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "onnx", None)
    assert main(["val", f"weights={tmp_path / 'best.onnx'}"]) == 1
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "pip install 'turboyolo[export]'" in err and "best.onnx" in err
