"""Training curves from the per-epoch history: losses, metrics, learning rate, throughput."""
from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from turboyolo.plots.epoch_axis import epoch_axis
from turboyolo.plots.figure_file import save_figure  # noqa: E402

PANELS = [
    ("box_loss", "box loss"), ("cls_loss", "class loss"), ("dfl_loss", "DFL loss"), ("lr", "learning rate"),
    ("precision", "precision"), ("recall", "recall"), ("mAP50", "mAP50"), ("mAP50-95", "mAP50-95"),
    ("images_per_s", "images/s"), ("data_wait_share", "data-wait share"), ("mfu", "MFU"), ("epoch_s", "epoch seconds"),
]


def plot_results(history: list[dict], path: Path) -> Path:
    """One small panel per column of results.csv, x = epoch. Missing columns are left blank."""
    fig, axes = plt.subplots(3, 4, figsize=(16, 9), tight_layout=True)
    epochs = [row["epoch"] for row in history]
    for ax, (key, title) in zip(axes.ravel(), PANELS):
        points = [(e, row[key]) for e, row in zip(epochs, history) if key in row]
        if points:
            xs, ys = zip(*points)
            ax.plot(xs, ys, marker="o", markersize=3, linewidth=1.5)
        ax.set_title(title)
        ax.grid(alpha=0.3)
        epoch_axis(ax)
    return save_figure(fig, path, dpi=100)
