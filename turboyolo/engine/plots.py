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


def write_data_plots(folder: Path, records, names, dataset, epoch: int, epochs: int, samples: int = 16) -> None:
    """Label distribution and one grid of augmented training samples: what people look at to trust labels.

    Samples are taken from the dataset directly (augmentation is seeded per sample), so the loader's
    workers and iteration state are untouched. The dataset is first set to the run's first epoch
    (0-based `epoch` of `epochs`), so the grid shows what that epoch trains on (no mosaic when
    close_mosaic covers it).
    """
    from turboyolo.data.loader import collate_detection
    from turboyolo.plots.boxes_grid import save_batch_grid
    from turboyolo.plots.labels import plot_label_distribution

    plot_label_distribution(records, names, folder / "labels.png")
    dataset.set_epoch(epoch, epochs)
    batch = collate_detection([dataset[i] for i in range(min(samples, len(dataset)))])
    save_batch_grid(folder / "train_batch0.png", batch, names)
