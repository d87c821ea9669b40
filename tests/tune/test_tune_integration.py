"""Tuning across processes: two `turboyolo tune` processes share one study without running a trial twice,
and a trial that is itself a 2-rank run (nproc=2) is pruned on every rank at once (rank 0 asks Optuna)."""
from __future__ import annotations

import csv
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

optuna = pytest.importorskip("optuna")


def _tune(tmp_path: Path, tune_words: list[str], *words: str) -> subprocess.Popen:
    env = {**os.environ, "TURBOYOLO_CACHE": str(tmp_path / "cache")}
    return subprocess.Popen([sys.executable, "-m", "turboyolo", "tune", *tune_words, *words], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


@pytest.mark.dist
@pytest.mark.slow
def test_two_processes_share_one_study_without_duplicate_trials(tune_words, tmp_path):
    words = ["trials=4", "epochs=1", "pruner=none", "threads=1"]
    first, second = _tune(tmp_path, tune_words, *words), _tune(tmp_path, tune_words, *words)
    outputs = [p.communicate(timeout=600)[0] for p in (first, second)]
    assert [p.returncode for p in (first, second)] == [0, 0], "\n".join(o[-2000:] for o in outputs)
    ran = [int(re.search(r"this process ran (\d+) trial", o).group(1)) for o in outputs]
    rows = list(csv.DictReader((tmp_path / "runs" / "study" / "trials.csv").open()))
    numbers = [int(r["trial"]) for r in rows]
    assert sorted(numbers) == [0, 1, 2, 3] and sum(ran) == 4
    assert len({r["run"] for r in rows}) == 4 and all(r["state"] == "complete" for r in rows)
    started = [set(re.findall(r"^trial (\d+): ", o, re.M)) for o in outputs]
    assert not started[0] & started[1]  # no trial ran in both processes


@pytest.mark.dist
@pytest.mark.slow
def test_a_two_rank_trial_is_pruned_on_every_rank(tune_words, tmp_path):
    from tests.tune.test_tune_cli import seed_strong_trials

    folder = tmp_path / "runs" / "study"
    seed_strong_trials(str(folder / "study.journal"), "study", 2, epochs=4)
    space = tmp_path / "space.yaml"
    space.write_text("base: empty\nparams:\n  lr0: {low: 0.0002, high: 0.02, log: true}\n")
    proc = _tune(tmp_path, tune_words, "trials=3", "epochs=4", f"space={space}", "nproc=2", "threads=1")
    out = proc.communicate(timeout=600)[0]
    assert proc.returncode == 0, out[-3000:]
    rows = list(csv.DictReader((folder / "trials.csv").open()))
    assert rows[-1]["state"] == "pruned", out[-3000:]
    results = list(csv.DictReader((folder / "trial_2" / "results.csv").open()))
    assert 1 <= len(results) < 4  # both ranks stopped after the same epoch (a hang would time out)
