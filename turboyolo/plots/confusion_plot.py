"""Confusion matrix heat map as a PNG (columns normalised: where each true class went)."""
from __future__ import annotations

from pathlib import Path

import numpy as np

from turboyolo.plots.figure_file import save_figure

# Above this many classes the cell numbers would be unreadable: colours only.
ANNOTATE_MAX_CLASSES = 30


def plot_confusion_matrix(matrix: np.ndarray, names: list[str], path, normalize: bool = True) -> Path:
    """matrix: (K + 1, K + 1) counts [predicted, true], last index background (see
    turboyolo.metrics.confusion). Writes a PNG, returns its path."""
    import matplotlib

    matplotlib.use("Agg")  # files only, never a window
    import matplotlib.pyplot as plt

    matrix = np.asarray(matrix, dtype=np.float64)
    if normalize:
        matrix = matrix / np.maximum(matrix.sum(0, keepdims=True), 1)
    labels = list(names) + ["background"]
    size = len(labels)
    fig, ax = plt.subplots(figsize=(min(4 + 0.45 * size, 24), min(3.5 + 0.45 * size, 22)), dpi=150)
    image = ax.imshow(np.where(matrix > 0, matrix, np.nan), cmap="Blues", vmin=0, vmax=1 if normalize else None)
    fig.colorbar(image, ax=ax, fraction=0.046, pad=0.04)
    ax.set_xticks(range(size), labels, rotation=90, fontsize=7)
    ax.set_yticks(range(size), labels, fontsize=7)
    ax.set(xlabel="True", ylabel="Predicted", title="Confusion matrix" + (" (normalised by true class)" if normalize else ""))
    if size <= ANNOTATE_MAX_CLASSES + 1:
        for row, col in zip(*np.nonzero(matrix > 0)):
            value = matrix[row, col]
            text = f"{value:.2f}" if normalize else f"{int(value)}"
            ax.text(col, row, text, ha="center", va="center", fontsize=6, color="white" if value > 0.6 * np.nanmax(matrix) else "black")
    fig.tight_layout()
    return save_figure(fig, path)
