"""The x axis of every per-epoch plot: labelled "epoch", ticks on whole epochs only (never 1.5)."""
from __future__ import annotations

from matplotlib.ticker import MaxNLocator


def epoch_axis(ax) -> None:
    ax.set_xlabel("epoch")
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
