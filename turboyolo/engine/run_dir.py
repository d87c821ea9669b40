"""The run folder (project/name): args.yaml, results.csv, weights/, plots. Written by rank 0 only."""
from __future__ import annotations

import csv
import re
from pathlib import Path

from turboyolo.config import Config, save_config


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


def newest_last_checkpoint(project: str) -> Path | None:
    candidates = sorted(Path(project).glob("*/weights/last.pt"), key=lambda p: p.stat().st_mtime)
    return candidates[-1] if candidates else None


class RunDir:
    def __init__(self, path: Path):
        self.path = Path(path)
        self.weights = self.path / "weights"
        self.weights.mkdir(parents=True, exist_ok=True)
        self.results_csv = self.path / "results.csv"

    def write_args(self, cfg: Config, derived: dict) -> None:
        """A fresh run (not a resume): start results.csv anew, even in a reused (exist_ok) folder."""
        self.results_csv.unlink(missing_ok=True)
        save_config(cfg, self.path / "args.yaml")
        save_config(Config(derived), self.path / "derived.yaml")

    def append_results(self, row: dict) -> None:
        """One row per epoch; the header is written with the first row (and kept on resume)."""
        new = not self.results_csv.exists()
        with self.results_csv.open("a", newline="") as fh:
            writer = csv.DictWriter(fh, fieldnames=list(row))
            if new:
                writer.writeheader()
            writer.writerow({k: (f"{v:.6g}" if isinstance(v, float) else v) for k, v in row.items()})

    def truncate_results(self, last_epoch: int) -> None:
        """On resume, drop rows of epochs after the checkpoint (they will be recomputed)."""
        if not self.results_csv.exists():
            return
        with self.results_csv.open() as fh:
            rows = list(csv.DictReader(fh))
        if not rows:
            return
        fields = list(rows[0])
        with self.results_csv.open("w", newline="") as fh:
            writer = csv.DictWriter(fh, fieldnames=fields)
            writer.writeheader()
            writer.writerows(r for r in rows if int(r["epoch"]) <= last_epoch)
