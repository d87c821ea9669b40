"""A training process for the kill-anywhere test: `python kill_worker.py DATA PROJECT [POINT N]`.

Trains (or resumes, when PROJECT/run/weights/last.pt exists) a tiny run. With POINT and N it SIGKILLs
itself at the N-th call of one moment a kill is most harmful:
  replace  inside an atomic write (checkpoint or results.csv), after the temp file is complete, before its rename
  results  after last.pt was written and before results.csv is
  validate inside validation
  step     right after a step checkpoint (save_period_steps divides the epoch: on its last batch too)
"""
import os
import signal
import sys
from pathlib import Path

from turboyolo.config import build_config
from turboyolo.engine import run_dir as run_dir_lib
from turboyolo.engine import trainer as trainer_lib

EPOCHS = 3


def kill_on_call(n: int, real):
    calls = {"n": 0}

    def wrapper(*args, **kwargs):
        calls["n"] += 1
        if calls["n"] == n:
            os.kill(os.getpid(), signal.SIGKILL)
        return real(*args, **kwargs)

    return wrapper


def main() -> None:
    data, project = sys.argv[1], Path(sys.argv[2])
    if len(sys.argv) > 3:
        point, n = sys.argv[3], int(sys.argv[4])
        if point == "replace":  # every atomic write (last.pt, best.pt, results.csv) renames its temp file
            os.replace = kill_on_call(n, os.replace)
        elif point == "results":
            run_dir_lib.RunDir.write_results = kill_on_call(n, run_dir_lib.RunDir.write_results)
        elif point == "validate":
            trainer_lib.validate = kill_on_call(n, trainer_lib.validate)
        elif point == "step":
            real_save = trainer_lib.Trainer.save_checkpoint

            def save_then_maybe_kill(self, epoch, samples_in_epoch, *args, **kwargs):
                real_save(self, epoch, samples_in_epoch, *args, **kwargs)
                if samples_in_epoch:
                    save_then_maybe_kill.calls += 1
                    if save_then_maybe_kill.calls == n:
                        os.kill(os.getpid(), signal.SIGKILL)

            save_then_maybe_kill.calls = 0
            trainer_lib.Trainer.save_checkpoint = save_then_maybe_kill
    last = project / "run" / "weights" / "last.pt"
    if last.is_file():
        cfg = build_config(dict(resume=str(last), verbose=False, workers=0))
    else:  # killed before its first checkpoint: start again in the same folder (exist_ok), as a user would
        cfg = build_config(dict(data=data, model="n", imgsz=64, batch=4, nbs=4, epochs=EPOCHS, workers=0, cache="ram",
                                project=str(project), name="run", exist_ok=True, verbose=False, plots=False, amp="off",
                                close_mosaic=1, warmup_epochs=0.5, save_period_steps=2))
    summary = trainer_lib.Trainer(cfg).fit()
    print("STOP", summary.get("stop_reason", ""))


if __name__ == "__main__":
    main()
