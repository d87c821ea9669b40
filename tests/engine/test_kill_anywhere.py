"""SIGKILL a training at random moments and at the most harmful ones, resume each time: every run
ends with each epoch in results.csv exactly once and loadable weights."""
from __future__ import annotations

import csv
import random
import subprocess
import sys
import time
from pathlib import Path

import pytest

from turboyolo.engine.checkpoint import eval_model, load_checkpoint

WORKER = Path(__file__).with_name("kill_worker.py")
EPOCHS = 3  # kill_worker.EPOCHS
# (point, call number) kills: inside atomic writes, between last.pt and results.csv, during validation,
# right after step checkpoints (the 2nd, 4th, 6th land on an epoch's last batch)
TARGETED = [("replace", 1), ("replace", 2), ("replace", 3), ("replace", 5), ("results", 1), ("results", 2),
            ("validate", 1), ("validate", 2), ("step", 1), ("step", 2), ("step", 4)]


@pytest.fixture(scope="module")
def tiny_data(tmp_path_factory):
    from turboyolo.data.synth import generate_synthetic

    return str(generate_synthetic(tmp_path_factory.mktemp("synth"), n_train=16, n_val=8, imgsz=64, nc=2, seed=3))


def _start(data, project, *failpoint):
    return subprocess.Popen([sys.executable, str(WORKER), data, str(project), *map(str, failpoint)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _finish(proc, timeout=900) -> tuple[int, str, str]:
    out, err = proc.communicate(timeout=timeout)
    return proc.returncode, out, err


def _kill_and_resume(data, project, kills: list, rng: random.Random, random_kills: int, window: list) -> dict:
    """Kill at each targeted point, then at up to `random_kills` random moments, then let the run finish.

    window: [latest kill delay, s]; halved whenever a run finishes before its kill (resumed runs are shorter).
    """
    counts = {"targeted": 0, "random": 0}
    for point in kills:
        code, out, err = _finish(_start(data, project, *point))
        assert code in (-9, 0), err[-2000:]
        counts["targeted"] += code == -9
    for _ in range(random_kills):
        proc = _start(data, project)
        time.sleep(rng.uniform(0.0, window[0]))
        proc.kill()
        code, out, err = _finish(proc)
        assert code in (-9, 0), err[-2000:]
        if code == 0:  # the run finished before the kill
            window[0] /= 2
            break
        counts["random"] += 1
    code, out, err = _finish(_start(data, project))
    assert code == 0, err[-3000:]
    return counts


def _check_run(run: Path) -> None:
    rows = list(csv.DictReader((run / "results.csv").open()))
    assert [int(r["epoch"]) for r in rows] == list(range(1, EPOCHS + 1)), [r["epoch"] for r in rows]
    assert all(r["mAP50-95"] != "" for r in rows)  # validated every epoch, no row lost or cut
    for name in ("last.pt", "best.pt"):
        eval_model(load_checkpoint(run / "weights" / name))
    assert load_checkpoint(run / "weights" / "last.pt")["epoch"] == EPOCHS
    assert not list((run / "weights").glob(".*.tmp"))


@pytest.mark.slow
def test_kill_anywhere_then_resume(tiny_data, tmp_path):
    rng = random.Random(0)
    started = time.perf_counter()
    code, _, err = _finish(_start(tiny_data, tmp_path / "timing"))  # how long one whole run takes here
    assert code == 0, err[-2000:]
    window = [time.perf_counter() - started]  # how long one whole run takes here, start-up included
    total = {"targeted": 0, "random": 0}
    k = 0
    while total["targeted"] + total["random"] < 30 and k < 12:
        counts = _kill_and_resume(tiny_data, tmp_path / f"p{k}", TARGETED if k == 0 else [], rng, 8, window)
        _check_run(tmp_path / f"p{k}" / "run")
        total = {key: total[key] + counts[key] for key in total}
        k += 1
    print(f"kills over {k} runs:", total)
    assert total["targeted"] >= len(TARGETED) // 2 and total["targeted"] + total["random"] >= 30, total
