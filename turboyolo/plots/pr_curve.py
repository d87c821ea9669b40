"""Precision-recall curves at IoU 0.5 (COCO's 101-point interpolated curves) as a PNG."""
from __future__ import annotations

from pathlib import Path

import numpy as np

from turboyolo.plots.figure_file import save_figure

# Beyond this many classes the per-class legend is unreadable: draw the curves thin, no legend.
LEGEND_MAX_CLASSES = 20


def plot_pr_curve(recall: np.ndarray, precision: np.ndarray, names: list[str], path, ap50: np.ndarray | None = None) -> Path:
    """recall: (R,) x axis; precision: (K, R) per class, rows of -1 (class without ground truth)
    are skipped; ap50: optional (K,) for the legend. Writes a PNG, returns its path."""
    import matplotlib

    matplotlib.use("Agg")  # files only, never a window (headless servers, DDP workers)
    import matplotlib.pyplot as plt

    recall, precision = np.asarray(recall), np.asarray(precision).reshape(-1, len(recall))
    valid = (precision > -1).all(1)
    fig, ax = plt.subplots(figsize=(8, 6), dpi=150)
    with_legend = len(names) <= LEGEND_MAX_CLASSES
    for k in np.nonzero(valid)[0]:
        label = f"{names[k]} {ap50[k]:.3f}" if with_legend and ap50 is not None else (names[k] if with_legend else None)
        ax.plot(recall, precision[k], linewidth=1, label=label)
    if valid.any():
        mean_curve = precision[valid].mean(0)
        mean_ap = float(np.mean(ap50[valid])) if ap50 is not None else float(mean_curve.mean())
        ax.plot(recall, mean_curve, linewidth=3, color="blue", label=f"all classes {mean_ap:.3f} mAP@0.5")
    ax.set(xlabel="Recall", ylabel="Precision", xlim=(0, 1), ylim=(0, 1.01), title="Precision-Recall (IoU 0.5)")
    ax.grid(alpha=0.3)
    ax.legend(loc="lower left", fontsize=7 if with_legend else 9)
    fig.tight_layout()
    return save_figure(fig, path)
