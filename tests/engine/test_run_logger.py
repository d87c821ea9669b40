"""TensorBoard asked for (tensorboard=true) but not installed: one line says so, once; not asked: silent."""
import sys

import pytest

from turboyolo.engine.run_dir import RunDir
from turboyolo.engine.run_logger import RunLogger

ROW = {"epoch": 1, "box_loss": 1.0}


def log_two_epochs(tmp_path, asked: bool):
    logger = RunLogger(RunDir(tmp_path / "run"), verbose=False, plots=False, world_size=1, amp_dtype=None,
                       settings={}, tensorboard=True, tensorboard_asked=asked)
    (tmp_path / "run").mkdir(exist_ok=True)
    logger.log_epoch(ROW, [ROW], first=False)
    logger.log_epoch(dict(ROW, epoch=2), [ROW, dict(ROW, epoch=2)], first=False)


@pytest.fixture
def no_tensorboard(monkeypatch):
    monkeypatch.setitem(sys.modules, "torch.utils.tensorboard", None)  # import fails as when it is not installed


def test_tensorboard_asked_for_and_missing_is_said_once(tmp_path, capsys, no_tensorboard):
    log_two_epochs(tmp_path, asked=True)
    out = capsys.readouterr().out
    assert out.count("tensorboard=true but TensorBoard cannot be used") == 1 and "pip install tensorboard" in out


def test_tensorboard_by_default_and_missing_stays_silent(tmp_path, capsys, no_tensorboard):
    log_two_epochs(tmp_path, asked=False)
    assert "TensorBoard" not in capsys.readouterr().out
