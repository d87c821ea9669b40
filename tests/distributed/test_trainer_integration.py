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
    assert "2 processes on cpu (ddp)" in done.stdout
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
@pytest.mark.parametrize("sync", ["ddp", "fsdp"])  # fsdp: the full checkpoint is loaded back into shards
def test_torchrun_survives_a_killed_worker_and_resumes_mid_epoch(tmp_path, sync):
    project = tmp_path / "runs"
    epochs = 2
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2", "--max-restarts=2",
           "--monitor-interval=0.2", "-m", "turboyolo", "train", *TINY_RUN, f"epochs={epochs}",
           "save_period_steps=1", f"sync={sync}", f"project={project}"]
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


@pytest.mark.dist
@pytest.mark.slow
def test_train_nproc2_fsdp_validates_uneven_shards_and_its_checkpoint_loads_in_one_process(tmp_path):
    from turboyolo.data.synth import generate_synthetic

    # 17 val images in per-rank batches of 8: rank 0 runs 2 forwards, rank 1 only 1 (FSDP forwards
    # are collectives, so validating the sharded model itself would hang here)
    data = generate_synthetic(tmp_path / "data", n_train=32, n_val=17, imgsz=64, nc=3, seed=0)
    tiny = [a for a in TINY_RUN if not a.startswith(("data=", "fraction=", "val="))]
    cmd = [sys.executable, "-m", "turboyolo", "train", *tiny, f"data={data}", "val=true", "epochs=1", "nproc=2",
           "sync=fsdp", "dist_timeout=120", f"project={tmp_path / 'runs'}"]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=300, env=_env(tmp_path))
    assert done.returncode == 0, (done.stdout + done.stderr)[-3000:]
    assert "2 processes on cpu (fsdp)" in done.stdout
    run = next((tmp_path / "runs").iterdir())
    trained = _results(run)[-1]
    assert "mAP50-95" in trained
    ckpt = torch.load(run / "weights" / "last.pt", weights_only=True)
    assert ckpt["train_state"]["optimizer"]["state"], "the full optimizer state was not gathered"

    # the rank-0 checkpoint is a plain full state dict: one process validates it (strict load)
    val = [sys.executable, "-m", "turboyolo", "val", f"weights={run / 'weights' / 'last.pt'}", f"data={data}",
           "imgsz=64", "batch=8", "workers=0", "threads=1", f"project={tmp_path / 'val'}"]
    checked = subprocess.run(val, capture_output=True, text=True, timeout=120, env=_env(tmp_path))
    assert checked.returncode == 0, (checked.stdout + checked.stderr)[-3000:]
    assert "val: 17 images" in checked.stdout
    # the trainer validated the same weights unfused and sharded; val fuses Conv+BN (float rounding only)
    reported = float(checked.stdout.split("mAP50-95 ")[1].split()[0])
    assert reported == pytest.approx(float(trained["mAP50-95"]), abs=2e-3)
