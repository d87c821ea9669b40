"""horovodrun worker: trains the toy CNN with engine=horovod (with accumulation), saves each rank's weights.

    horovodrun -np 2 -H localhost:2 --gloo python tests/distributed/horovod_worker.py OUT_DIR
"""
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

import torch  # noqa: E402

from tests.distributed.toy import train_toy  # noqa: E402
from turboyolo.config import build_config  # noqa: E402
from turboyolo.distributed.factory import setup_distributed  # noqa: E402

if __name__ == "__main__":
    env, strategy = setup_distributed(build_config({"engine": "horovod", "device": "cpu", "threads": 1}),
                                      quiet_workers=False)
    wrapped, _, losses = train_toy(strategy, env.rank, env.world_size, steps=12, global_batch=8, accumulate=2)
    torch.save({"model": strategy.model_state(wrapped), "losses": losses}, Path(sys.argv[1]) / f"rank{env.rank}.pt")
    strategy.close()
