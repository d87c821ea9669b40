"""engine=horovod: a clear error without Horovod; with it (scripts/install_horovod.sh), horovodrun
--gloo trains the toy CNN to identical weights on both ranks."""
import importlib.util
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from tests.dist.toy import max_state_diff
from turboyolo.config import build_config
from turboyolo.dist.env import DistEnv
from turboyolo.dist.factory import make_strategy

HAVE_HOROVOD = importlib.util.find_spec("horovod") is not None


@pytest.mark.skipif(HAVE_HOROVOD, reason="horovod is installed")
def test_missing_horovod_is_a_clear_error():
    with pytest.raises(RuntimeError, match="install_horovod.sh"):
        make_strategy(build_config({"engine": "horovod"}), DistEnv())


@pytest.mark.dist
@pytest.mark.slow
@pytest.mark.skipif(not HAVE_HOROVOD or shutil.which("horovodrun") is None and
                    not (Path(sys.executable).parent / "horovodrun").exists(), reason="horovod not installed")
def test_horovodrun_gloo_trains_identical_ranks(tmp_path):
    horovodrun = shutil.which("horovodrun") or str(Path(sys.executable).parent / "horovodrun")
    worker = Path(__file__).with_name("horovod_worker.py")
    done = subprocess.run([horovodrun, "-np", "2", "-H", "localhost:2", "--gloo", sys.executable, str(worker),
                           str(tmp_path)], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, (done.stdout + done.stderr)[-3000:]
    ranks = [torch.load(tmp_path / f"rank{r}.pt", weights_only=True) for r in range(2)]
    assert max_state_diff(ranks[0]["model"], ranks[1]["model"], parameters_only=True) == 0.0
    losses = ranks[0]["losses"]
    assert sum(losses[-3:]) / 3 < 0.9 * losses[0]
