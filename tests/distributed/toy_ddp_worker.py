"""torchrun worker for the elastic and multi-node tests: DDP-trains the toy CNN (SyncBN), checkpoints
every step, optionally SIGKILLs rank 1, resumes from the checkpoint after a restart.

    python -m torch.distributed.run --standalone --nproc_per_node=2 --max-restarts=2 \
        tests/distributed/toy_ddp_worker.py OUT_DIR STEPS KILL_STEPS
KILL_STEPS: comma list; the n-th entry is the step at which rank 1 dies in incarnation n ("" = none).
Writes OUT_DIR/final_rank{R}.pt (weights, incarnation) on every rank and steps.log on rank 0.
"""
import os
import signal
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402

from tests.distributed.toy import ToyNet, rank_slice, toy_batch  # noqa: E402
from turboyolo.config import build_config  # noqa: E402
from turboyolo.distributed.factory import setup_distributed  # noqa: E402

GLOBAL_BATCH = 8


def main(out_dir: str, steps: int, kill_steps: list[int]) -> None:
    out = Path(out_dir)
    env, strategy = setup_distributed(build_config({"device": "cpu", "threads": 1, "sync_bn": True}),
                                       quiet_workers=False)  # sync_bn: weights comparable to 1 process
    incarnation = int(os.environ.get("TORCHELASTIC_RESTART_COUNT", "0"))
    torch.manual_seed(0)
    model = ToyNet()
    wrapped = strategy.wrap(model)
    optimizer = strategy.make_optimizer(lambda m: torch.optim.SGD(m.parameters(), lr=0.1, momentum=0.9), wrapped)
    start = 0
    ckpt_path = out / "ckpt.pt"
    if ckpt_path.exists():
        ckpt = torch.load(ckpt_path, weights_only=True)
        model.load_state_dict(ckpt["model"])
        strategy.load_optimizer_state(optimizer, ckpt["optimizer"])
        start = ckpt["step"]
    for step in range(start, steps):
        if env.rank == 1 and incarnation < len(kill_steps) and step == kill_steps[incarnation]:
            os.kill(os.getpid(), signal.SIGKILL)
        x, y = toy_batch(step, GLOBAL_BATCH)
        with strategy.forward_backward_context(wrapped, reduce_gradients=True):
            F.cross_entropy(wrapped(rank_slice(x, env.rank, 2)), rank_slice(y, env.rank, 2)).backward()
        strategy.optimizer_step(optimizer, None, model.parameters(), 0.0)
        optimizer.zero_grad(set_to_none=True)
        state = {"model": strategy.model_state(wrapped), "optimizer": strategy.optimizer_state(optimizer),
                 "step": step + 1}
        if env.is_main:
            torch.save(state, out / "ckpt.tmp")
            os.replace(out / "ckpt.tmp", ckpt_path)  # atomic: a kill never leaves half a checkpoint
            with open(out / "steps.log", "a") as log:
                log.write(f"{incarnation} {step}\n")
        strategy.barrier()
    final = {"model": strategy.model_state(wrapped), "incarnation": incarnation}
    torch.save(final, out / f"final_rank{env.rank}.pt")
    strategy.close()


if __name__ == "__main__":
    main(sys.argv[1], int(sys.argv[2]), [int(s) for s in sys.argv[3].split(",") if s])
