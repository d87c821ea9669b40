"""torchrun entry for tests that need every rank's final weights from the real Trainer:

    python -m torch.distributed.run ... tests/distributed/trainer_worker.py OUT_DIR key=value ...
Each rank writes OUT_DIR/weights_rank{R}.pt through an on_fit_end callback.
"""
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

import torch  # noqa: E402

from turboyolo.config import build_config, split_overrides  # noqa: E402
from turboyolo.engine.trainer import Trainer  # noqa: E402

OUT = Path(sys.argv[1])


def save_rank_weights(trainer) -> None:
    state = {k: v.detach().cpu() for k, v in trainer.setup.model.state_dict().items()}
    torch.save({"model": state, "step": trainer.state.step}, OUT / f"weights_rank{trainer.setup.env.rank}.pt")


if __name__ == "__main__":
    _, pairs = split_overrides(sys.argv[2:])
    Trainer(build_config(pairs), callbacks={"on_fit_end": [save_rank_weights]}).fit()
