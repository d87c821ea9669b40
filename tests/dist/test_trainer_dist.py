"""The real trainer, distributed: `turboyolo train nproc=2` (in-process spawn) and torchrun with a
SIGKILLed worker that the group survives (restart + resume from the last step checkpoint)."""
import csv
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

# 256 synthetic images x fraction 0.125 = 32 images = 4 steps of global batch 8 per epoch
TINY_RUN = ["data=synthetic", "imgsz=64", "batch=8", "nbs=8", "workers=0", "fraction=0.125", "val=false",
            "plots=false", "sync_bn=true", "threads=1"]
STEPS_PER_EPOCH = 4


def _env(tmp_path: Path) -> dict:
    return {**os.environ, "TURBOYOLO_CACHE": str(tmp_path / "cache")}


def _results(run: Path) -> list[dict]:
    with open(run / "results.csv") as fh:
        return list(csv.DictReader(fh))


@pytest.mark.dist
@pytest.mark.slow
def test_train_nproc2_spawns_two_ranks_and_writes_one_run(tmp_path):
    cmd = [sys.executable, "-m", "turboyolo", "train", *TINY_RUN, "epochs=1", "nproc=2", f"project={tmp_path / 'runs'}"]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=300, env=_env(tmp_path))
    assert done.returncode == 0, (done.stdout + done.stderr)[-3000:]
    assert "ddp on 2 x cpu" in done.stdout
    runs = list((tmp_path / "runs").iterdir())
    assert len(runs) == 1 and len(_results(runs[0])) == 1
    ckpt = torch.load(runs[0] / "weights" / "last.pt", weights_only=True)
    assert ckpt["step"] == STEPS_PER_EPOCH and ckpt["train_state"]["world_size"] == 2


def _rank1_worker(agent_pid: int):
    import psutil

    for child in psutil.Process(agent_pid).children(recursive=True):
        try:
            if child.environ().get("RANK") == "1":
                return child
        except (psutil.NoSuchProcess, psutil.AccessDenied):
            continue
    return None


@pytest.mark.dist
@pytest.mark.slow
def test_torchrun_survives_a_killed_worker_and_resumes_mid_epoch(tmp_path):
    project = tmp_path / "runs"
    epochs = 2
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2", "--max-restarts=2",
           "--monitor-interval=0.2", "-m", "turboyolo", "train", *TINY_RUN, f"epochs={epochs}",
           "save_period_steps=1", f"project={project}"]
    agent = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=_env(tmp_path))
    try:
        deadline = time.time() + 240
        killed = False
        while not killed and agent.poll() is None and time.time() < deadline:
            last = list(project.glob("*/weights/last.pt"))
            if last:  # a mid-epoch checkpoint exists: kill rank 1 in the middle of epoch 1
                worker = _rank1_worker(agent.pid)
                if worker is not None:
                    os.kill(worker.pid, signal.SIGKILL)
                    killed = True
            time.sleep(0.2)
        log = agent.communicate(timeout=max(deadline - time.time(), 10))[0]
    finally:
        if agent.poll() is None:
            agent.kill()
    assert killed, "the run ended before a worker could be killed"
    assert agent.returncode == 0, log[-4000:]
    runs = list(project.iterdir())
    assert len(runs) == 1, f"the restart started a new run instead of resuming: {runs}"
    ckpt = torch.load(runs[0] / "weights" / "last.pt", weights_only=True)
    assert ckpt["epoch"] == epochs and ckpt["step"] == epochs * STEPS_PER_EPOCH  # nothing skipped or repeated
    assert [int(r["epoch"]) for r in _results(runs[0])] == list(range(1, epochs + 1))
