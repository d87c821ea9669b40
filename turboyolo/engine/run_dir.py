"""The run folder (project/name): args.yaml, results.csv, weights/, plots. Written by rank 0 only.

A live run holds a lock on its folder (`.lock`), so a second process cannot resume or reuse it.
results.csv is rewritten whole from the run's history (which also travels in last.pt), so no kill
can lose or duplicate a row, and its header is fixed for the run.
"""
from __future__ import annotations

import csv
import fcntl
import os
import re
from pathlib import Path

from turboyolo.config import Config, ConfigError, default_of, save_config

# Validation columns of results.csv, present from the first row even when an epoch is not validated.
VAL_COLUMNS = ("precision", "recall", "mAP50", "mAP50-95", "val_s")
LOCK_NAME = ".lock"


class RunInUseError(ConfigError):
    """Another live process trains in this run folder."""


def next_run_dir(project: str, name: str | None, exist_ok: bool) -> Path:
    """project/name, or project/expN with the next free N when name is not given."""
    root = Path(project)
    if name:
        path = root / name
        if path.exists() and not exist_ok:
            stem, n = re.match(r"^(.*?)(\d*)$", name).groups()
            k = int(n or 1) + 1
            while (root / f"{stem}{k}").exists():
                k += 1
            path = root / f"{stem}{k}"
        return path
    k = 1
    while (root / ("exp" if k == 1 else f"exp{k}")).exists() and not exist_ok:
        k += 1
    return root / ("exp" if k == 1 else f"exp{k}")


def mode_run_dir(cfg, mode: str) -> Path:
    """The output folder of `val` / `predict`: runs/<mode>/expN (next free N), or name= / exist_ok= in it;
    project= when given replaces runs/<mode> (its default, runs/train, is the training runs' folder)."""
    project = cfg.project if "project" in cfg.given else str(Path(default_of("project")).parent / mode)
    return next_run_dir(project, cfg.name, cfg.exist_ok)


def newest_last_checkpoint(project: str) -> Path | None:
    candidates = sorted(Path(project).glob("*/weights/last.pt"), key=lambda p: p.stat().st_mtime)
    return candidates[-1] if candidates else None


def lock_holder(folder: Path) -> int | None:
    """pid of the live process holding `folder`'s run lock, or None when it is free."""
    lock = Path(folder) / LOCK_NAME
    if not lock.is_file():
        return None
    with lock.open("r+") as fh:
        try:  # POSIX record locks die with their process (a SIGKILLed run frees its folder)
            fcntl.lockf(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            text = fh.read().strip()
            return int(text) if text.isdigit() else -1
        fcntl.lockf(fh, fcntl.LOCK_UN)
    return None


class RunDir:
    def __init__(self, path: Path):
        self.path = Path(path)
        self.weights = self.path / "weights"
        self.weights.mkdir(parents=True, exist_ok=True)
        self.results_csv = self.path / "results.csv"
        self._lock_fd: int | None = None

    def lock(self) -> None:
        """Hold the folder for this process (until `unlock` or process exit); refuse a folder in use."""
        fd = os.open(self.path / LOCK_NAME, os.O_RDWR | os.O_CREAT, 0o666)
        try:
            fcntl.lockf(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            holder = os.read(fd, 32).decode(errors="replace").strip() or "?"
            os.close(fd)
            raise RunInUseError(f"run folder {self.path} is in use by a live training (pid {holder}); "
                                "wait for it to finish or pick another run (resume=PATH/last.pt, name=...)") from None
        os.ftruncate(fd, 0)
        os.write(fd, str(os.getpid()).encode())
        self._lock_fd = fd

    def unlock(self) -> None:
        if self._lock_fd is not None:
            os.close(self._lock_fd)  # closing releases the record lock
            self._lock_fd = None

    def write_args(self, cfg: Config, derived: dict) -> None:
        """A fresh run (not a resume): start results.csv anew, even in a reused (exist_ok) folder."""
        self.results_csv.unlink(missing_ok=True)
        save_config(cfg, self.path / "args.yaml")
        save_config(Config(derived), self.path / "derived.yaml")

    def read_results(self) -> list[dict]:
        """The rows of results.csv as strings, empty cells dropped ([] when there is no file)."""
        if not self.results_csv.is_file():
            return []
        with self.results_csv.open(newline="") as fh:
            return [{k: v for k, v in row.items() if v not in ("", None)} for row in csv.DictReader(fh)]

    def write_results(self, history: list[dict]) -> None:
        """Rewrite results.csv from every epoch's row (written to a temp file, then renamed).

        Columns: the training columns in the order the trainer makes them, then VAL_COLUMNS; an epoch
        without validation leaves those empty.
        """
        columns = [k for row in history for k in row if k not in VAL_COLUMNS and _scalar(row[k])]
        columns = list(dict.fromkeys(columns)) + list(VAL_COLUMNS)
        tmp = self.results_csv.with_name(f".{self.results_csv.name}.tmp")
        with tmp.open("w", newline="") as fh:
            writer = csv.DictWriter(fh, fieldnames=columns, extrasaction="ignore")
            writer.writeheader()
            for row in history:
                writer.writerow({k: (f"{v:.6g}" if isinstance(v, float) else v) for k, v in row.items() if _scalar(v)})
        os.replace(tmp, self.results_csv)


def _scalar(value) -> bool:
    return isinstance(value, (int, float, str)) and not isinstance(value, bool)
