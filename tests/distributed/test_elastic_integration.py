"""Elastic recovery: under `torchrun --max-restarts`, SIGKILL of a worker restarts the group, which
resumes from the last checkpoint and ends with the weights of an uninterrupted run."""
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from tests.distributed.toy import max_state_diff, train_toy
from turboyolo.distributed.env import DistEnv
from turboyolo.distributed.strategy import Strategy

WORKER = Path(__file__).with_name("toy_ddp_worker.py")
STEPS = 8


def uninterrupted_weights() -> dict:
    """The toy worker's weights after STEPS steps in one process with the global batch."""
    model, _, _ = train_toy(Strategy(DistEnv()), 0, 1, STEPS, 8)
    return model.state_dict()


@pytest.mark.dist
@pytest.mark.slow
@pytest.mark.parametrize("kill_steps", ["3", "2,5"], ids=["one-kill", "two-kills"])
def test_killed_worker_is_restarted_and_the_run_finishes(tmp_path, kill_steps):
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2", "--max-restarts=3",
           "--monitor-interval=0.2", str(WORKER), str(tmp_path), str(STEPS), kill_steps]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=180)
    assert done.returncode == 0, done.stderr[-3000:]
    final = torch.load(tmp_path / "final_rank0.pt", weights_only=True)
    kills = len(kill_steps.split(","))
    assert final["incarnation"] == kills  # restarted once per kill
    steps_done = [int(line.split()[1]) for line in (tmp_path / "steps.log").read_text().split("\n") if line]
    assert steps_done == list(range(STEPS))  # every step checkpointed once: none skipped or repeated
    assert max_state_diff(final["model"], uninterrupted_weights()) < 1e-5
