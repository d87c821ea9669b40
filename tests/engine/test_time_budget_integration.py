"""time= under DDP: rank 0 decides the plan and the mid-epoch stop, every rank follows (a disagreement hangs
a collective or ends ranks at different steps)."""
import csv
import os
import subprocess
import sys

import pytest
import torch

# 256 synthetic images x fraction 0.125 = 32 images = 4 steps of global batch 8 per epoch
TINY_RUN = ["data=synthetic", "imgsz=64", "batch=8", "nbs=8", "workers=0", "fraction=0.125", "val=false",
            "plots=false", "threads=1", "warmup_epochs=0"]


@pytest.mark.dist
@pytest.mark.slow
def test_time_budget_under_ddp_ends_every_rank_at_the_planned_epoch(tmp_path):
    cmd = [sys.executable, "-m", "turboyolo", "train", *TINY_RUN, "epochs=1000", "time=0.01", "nproc=2",
           f"project={tmp_path / 'runs'}"]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=400,
                          env={**os.environ, "TURBOYOLO_CACHE": str(tmp_path / "cache")})
    assert done.returncode == 0, (done.stdout + done.stderr)[-3000:]
    run = next((tmp_path / "runs").iterdir())
    rows = list(csv.DictReader((run / "results.csv").open()))
    ckpt = torch.load(run / "weights" / "last.pt", weights_only=True)
    assert 1 <= len(rows) < 1000 and ckpt["epoch"] == len(rows) == ckpt["args"]["epochs"]  # ended by the plan
    assert ckpt["train_state"]["world_size"] == 2 and ckpt["train_state"]["stop_reason"] == ""
    assert ckpt["train_state"]["train_time_s"] < 0.01 * 3600 + 30  # within the budget, give or take a step
