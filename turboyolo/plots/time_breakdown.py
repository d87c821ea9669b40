"""Where each epoch's training time went: stacked bars of data, h2d, forward, backward, optimizer, other."""
from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from turboyolo.plots.epoch_axis import epoch_axis
from turboyolo.plots.figure_file import save_figure  # noqa: E402

# Bottom to top; communication only appears when a run reported it (DDP comm hook).
PHASES = ("data", "h2d", "forward", "backward", "exposed_comm", "optimizer", "other")
COLOURS = {"data": "#d62728", "h2d": "#ff7f0e", "forward": "#1f77b4", "backward": "#2ca02c",
           "exposed_comm": "#9467bd", "optimizer": "#8c564b", "other": "#7f7f7f"}


def plot_time_breakdown(history: list[dict], path: str | Path) -> Path:
    """history: one dict per epoch with "epoch" and "<phase>_s" seconds (a results.csv row).

    Bars are labelled with the epoch's images/s when the row has it. Returns the PNG path.
    """
    epochs = [row.get("epoch", i + 1) for i, row in enumerate(history)]
    phases = [p for p in PHASES if any(row.get(f"{p}_s") for row in history)] or ["other"]
    fig, ax = plt.subplots(figsize=(max(6.0, 0.35 * len(history) + 4), 4.5), tight_layout=True)
    bottom = [0.0] * len(history)
    for phase in phases:
        heights = [float(row.get(f"{phase}_s", 0.0) or 0.0) for row in history]
        ax.bar(epochs, heights, bottom=bottom, label=phase, color=COLOURS[phase], width=0.8)
        bottom = [b + h for b, h in zip(bottom, heights)]
    for x, top, row in zip(epochs, bottom, history):
        if row.get("images_per_s"):
            ax.annotate(f"{row['images_per_s']:.0f}/s", (x, top), ha="center", va="bottom", fontsize=7)
    epoch_axis(ax)
    ax.set_ylabel("seconds in training steps")
    ax.set_title("time per epoch by phase (labels: images/s)")
    ax.legend(loc="upper left", bbox_to_anchor=(1.0, 1.0), fontsize=8)
    ax.grid(axis="y", alpha=0.3)
    return save_figure(fig, path, dpi=100)
