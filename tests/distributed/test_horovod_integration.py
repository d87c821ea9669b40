"""horovodrun --gloo (Horovod built by scripts/install_horovod.sh) trains the toy CNN and the real detector
trainer (channels_last, accumulation, distributed validation) to identical weights on both ranks."""
import csv
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from tests.distributed.test_horovod import HAVE_HOROVOD
from tests.distributed.toy import max_state_diff

HOROVODRUN = shutil.which("horovodrun") or str(Path(sys.executable).parent / "horovodrun")
needs_horovod = pytest.mark.skipif(not HAVE_HOROVOD or not Path(HOROVODRUN).exists(), reason="horovod not installed")



@pytest.mark.dist
@pytest.mark.slow
@needs_horovod
def test_horovodrun_gloo_trains_identical_ranks(tmp_path):
    worker = Path(__file__).with_name("horovod_worker.py")
    done = subprocess.run([HOROVODRUN, "-np", "2", "-H", "localhost:2", "--gloo", sys.executable, str(worker),
                           str(tmp_path)], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, (done.stdout + done.stderr)[-3000:]
    ranks = [torch.load(tmp_path / f"rank{r}.pt", weights_only=True) for r in range(2)]
    assert max_state_diff(ranks[0]["model"], ranks[1]["model"], parameters_only=True) == 0.0
    losses = ranks[0]["losses"]
    assert sum(losses[-3:]) / 3 < 0.9 * losses[0]


@pytest.mark.dist
@pytest.mark.slow
@needs_horovod
def test_horovodrun_trains_the_detector_with_validation(tmp_path):
    """The trainer path the toy misses: channels_last weights (Horovod refuses non-contiguous
    tensors), rank-dependent objects in gathers/broadcasts (Horovod matches collectives by name)."""
    worker = Path(__file__).with_name("trainer_worker.py")
    pairs = ["engine=horovod", "data=synthetic", "imgsz=64", "batch=8", "nbs=8", "accumulate=2", "workers=0",
             "fraction=0.125", "val=true", "plots=false", "threads=1", "epochs=2", f"project={tmp_path / 'runs'}"]
    env = {**os.environ, "TURBOYOLO_CACHE": str(tmp_path / "cache")}
    done = subprocess.run([HOROVODRUN, "-np", "2", "-H", "localhost:2", "--gloo", sys.executable, str(worker),
                           str(tmp_path), *pairs], capture_output=True, text=True, timeout=300, env=env)
    assert done.returncode == 0, (done.stdout + done.stderr)[-3000:]
    assert "2 processes on cpu (horovod)" in done.stdout
    ranks = [torch.load(tmp_path / f"weights_rank{r}.pt", weights_only=True) for r in range(2)]
    assert ranks[0]["step"] == ranks[1]["step"] > 0
    assert max_state_diff(ranks[0]["model"], ranks[1]["model"], parameters_only=True) == 0.0
    (run,) = (tmp_path / "runs").iterdir()
    with open(run / "results.csv") as fh:
        rows = list(csv.DictReader(fh))
    assert len(rows) == 2 and all(float(r["mAP50"]) >= 0.0 for r in rows)
    assert (run / "weights" / "last.pt").is_file()
