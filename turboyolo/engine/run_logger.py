"""Everything a run reports, behind `log_epoch(row)` and `close(history)`: results.csv, TensorBoard,
the console line, the diagnosis and the plots. Rank 0 only; the trainer never formats output itself."""
from __future__ import annotations

import torch

from turboyolo.config import default_of


class RunLogger:
    def __init__(self, run_dir, verbose: bool, plots: bool, world_size: int, amp_dtype: torch.dtype | None,
                 settings: dict, tensorboard: bool = default_of("tensorboard"), tensorboard_asked: bool = False):
        """tensorboard: log scalars when the package is installed; tensorboard_asked: the user set it, so
        its absence is said once rather than passed over."""
        self.run_dir, self.verbose, self.plots = run_dir, verbose, plots
        self.world_size, self.amp_dtype, self.settings = world_size, amp_dtype, settings
        self._tensorboard = None
        self._tensorboard_tried = not tensorboard
        self._tensorboard_asked = tensorboard_asked

    def log_epoch(self, row: dict, history: list[dict], first: bool) -> None:
        """row: the finished epoch's figures (with validation metrics when validated); history: every row so far."""
        self.run_dir.write_results(history)
        self._log_scalars(row)
        if self.verbose and "mAP50" in row:
            print(f"  val: P {row['precision']:.3f}  R {row['recall']:.3f}  mAP50 {row['mAP50']:.3f}  "
                  f"mAP50-95 {row['mAP50-95']:.3f}   (val {row['val_s']:.1f} s; "
                  f"train {row['epoch_s']:.1f} s, {row['images_per_s']:.1f} img/s)")
        if first and self.verbose:
            self.print_diagnosis(row, "after the first epoch")

    def close(self, history: list[dict], stop_reason: str, best: dict, best_epoch: int, val_images: int) -> None:
        """The end of a run: stop reason, plots, best.pt's validation and per-class table, final diagnosis."""
        if stop_reason and self.verbose:
            print(f"turboyolo: {stop_reason}")
        if self.plots and history:
            from turboyolo.engine.plots import write_training_plots

            write_training_plots(self.run_dir.path, history)
        if self.verbose and best.get("per_class"):
            from turboyolo.engine.validator import format_class_table

            print(f"best.pt (epoch {best_epoch + 1}) on {val_images} val images: "
                  f"P {best['precision']:.3f}  R {best['recall']:.3f}  mAP50 {best['mAP50']:.3f}  "
                  f"mAP50-95 {best['mAP50-95']:.3f}   (val {best['val_s']:.1f} s)")
            print(format_class_table(best["per_class"]))
        if self.verbose and history:
            self.print_diagnosis(history[-1], "at the end of training")
            print(f"Results in {self.run_dir.path}  (weights/best.pt, results.csv, plots)")
        if self._tensorboard is not None:
            self._tensorboard.close()

    def print_diagnosis(self, row: dict, when: str) -> None:
        from turboyolo.perf.diagnosis import diagnose

        lines = diagnose(row, row.get("mfu") or None, settings=self.settings, world_size=self.world_size,
                         amp_dtype=self.amp_dtype)
        if lines:
            print(f"diagnosis {when}: " + "; ".join(lines))

    def _log_scalars(self, row: dict) -> None:
        """TensorBoard scalars when the optional `tensorboard` package is installed (CSV is always written)."""
        if not self._tensorboard_tried:
            self._tensorboard_tried = True
            try:
                from torch.utils.tensorboard import SummaryWriter

                self._tensorboard = SummaryWriter(str(self.run_dir.path / "tensorboard"))
            except Exception as err:  # tensorboard not installed (or broken): CSV and plots only
                self._tensorboard = None
                if self._tensorboard_asked:
                    print(f"turboyolo: tensorboard=true but TensorBoard cannot be used ({err}); "
                          "results.csv and plots only (pip install tensorboard, or `make setup`)")
        if self._tensorboard is not None:
            for key, value in row.items():
                if isinstance(value, (int, float)) and key != "epoch":
                    self._tensorboard.add_scalar(key, value, row["epoch"])
            self._tensorboard.flush()
