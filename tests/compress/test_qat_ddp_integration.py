"""Quantisation-aware training under DDP with bf16 autocast: two ranks, one set of observed ranges saved."""
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

import turboyolo
from turboyolo.compress.qat import QAT_KEY
from turboyolo.engine.checkpoint import atomic_save
from turboyolo.model.build import build_model
from turboyolo.model.spec import load_spec

# 256 synthetic images x fraction 0.125 = 32 images = 4 steps of global batch 8 (as test_distill_integration)
TINY_RUN = ["data=synthetic", "imgsz=64", "batch=8", "nbs=8", "workers=0", "fraction=0.125", "val=false",
            "plots=false", "threads=1", "epochs=1", "nproc=2", "sync=ddp", "amp=bf16", "qat=true"]


@pytest.mark.dist
@pytest.mark.slow
def test_two_ranks_fine_tune_with_qat_under_bf16(tmp_path):
    spec = load_spec("n")
    spec["scales"] = {"t": [0.33, 0.125, 1024]}
    spec["scale"] = "t"
    start = build_model(spec, 3)
    start_path = tmp_path / "start.pt"
    atomic_save({"format": 1, "model": start.state_dict(), "spec": start.spec, "names": ["circle", "square", "triangle"],
                 "args": {}, "metrics": {}, "epoch": 1, "step": 1}, start_path)
    env = {**os.environ, "TURBOYOLO_CACHE": str(tmp_path / "cache"),
           "PYTHONPATH": os.pathsep.join([str(Path(turboyolo.__file__).parents[1]), os.environ.get("PYTHONPATH", "")])}
    cmd = [sys.executable, "-m", "turboyolo", "train", *TINY_RUN, f"model={start_path}", f"project={tmp_path / 'runs'}"]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=600, env=env)
    assert done.returncode == 0, (done.stdout + done.stderr)[-3000:]
    assert "2 processes on cpu (ddp)" in done.stdout and "fine-tune through int8 fake quantisation" in done.stdout
    last = torch.load(next((tmp_path / "runs").iterdir()) / "weights" / "last.pt", weights_only=True)
    assert last["step"] == 4 and last["train_state"]["world_size"] == 2
    ranges = last[QAT_KEY]
    assert ranges and all(torch.isfinite(v).all() for v in ranges.values())
    assert min(float(v) for k, v in ranges.items() if k.endswith("observed")) > 0
    build_model(last["spec"], 3).load_state_dict(last["model"])  # an ordinary detector checkpoint
