"""Which plots a training run writes, and where (rank 0 only)."""
from __future__ import annotations

from pathlib import Path


def write_training_plots(folder: Path, history: list[dict]) -> None:
    from turboyolo.plots.curves import plot_results

    plot_results(history, folder / "results.png")
    try:
        from turboyolo.plots.time_breakdown import plot_time_breakdown

        plot_time_breakdown(history, folder / "time_breakdown.png")
    except ImportError:
        pass


def write_data_plots(folder: Path, records, names, loader) -> None:
    """Label distribution and a few augmented training batches: what people look at to trust labels."""
    from turboyolo.plots.labels import plot_label_distribution

    plot_label_distribution(records, names, folder / "labels.png")
    try:
        from turboyolo.plots.boxes_grid import save_batch_grid
    except ImportError:
        return
    for k, batch in enumerate(loader):
        save_batch_grid(batch, names, folder / f"train_batch{k}.png")
        if k >= 1:
            break
