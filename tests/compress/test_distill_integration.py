"""Distillation under the distributed strategies: the teacher stays outside DDP/FSDP on every rank."""
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

import turboyolo
from turboyolo.engine.checkpoint import atomic_save
from turboyolo.model.build import build_model
from turboyolo.model.spec import load_spec

# 256 synthetic images x fraction 0.125 = 32 images = 4 steps of global batch 8
TINY_RUN = ["data=synthetic", "imgsz=64", "batch=8", "nbs=8", "workers=0", "fraction=0.125", "val=false",
            "plots=false", "threads=1", "epochs=1", "nproc=2"]


@pytest.mark.dist
@pytest.mark.slow
@pytest.mark.parametrize("sync, amp", [("ddp", "bf16"), ("fsdp", "off")])
def test_two_ranks_distil_from_a_teacher(tmp_path, sync, amp):
    spec = load_spec("n")
    spec["scales"] = {"t": [0.33, 0.125, 1024]}
    spec["scale"] = "t"
    teacher = build_model(spec, 3)
    teacher_path = tmp_path / "teacher.pt"
    atomic_save({"format": 1, "model": teacher.state_dict(), "spec": teacher.spec, "names": ["circle", "square", "triangle"],
                 "args": {}, "metrics": {}, "epoch": 1, "step": 1}, teacher_path)
    env = {**os.environ, "TURBOYOLO_CACHE": str(tmp_path / "cache"),
           "PYTHONPATH": os.pathsep.join([str(Path(turboyolo.__file__).parents[1]), os.environ.get("PYTHONPATH", "")])}
    cmd = [sys.executable, "-m", "turboyolo", "train", *TINY_RUN, f"sync={sync}", f"amp={amp}",
           f"teacher={teacher_path}", f"project={tmp_path / 'runs'}"]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=600, env=env)
    assert done.returncode == 0, (done.stdout + done.stderr)[-3000:]
    assert f"2 processes on cpu ({sync})" in done.stdout and "distilling from teacher=" in done.stdout
    last = torch.load(next((tmp_path / "runs").iterdir()) / "weights" / "last.pt", weights_only=True)
    assert last["step"] == 4 and last["train_state"]["world_size"] == 2
