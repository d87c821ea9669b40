"""Label statistics plot: instances per class, box centres and box sizes (normalised)."""
from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from turboyolo.plots.figure_file import save_figure  # noqa: E402


def plot_label_distribution(records, names: list[str], path: Path) -> Path:
    """records: ImageRecords (boxes xyxy px). Three panels: class counts, centres, widths vs heights."""
    classes = np.concatenate([r.classes for r in records]) if records else np.zeros(0, int)
    norm = [r.boxes / np.array([r.width, r.height, r.width, r.height], np.float32) for r in records]
    boxes = np.concatenate(norm) if norm else np.zeros((0, 4), np.float32)
    fig, axes = plt.subplots(1, 3, figsize=(15, 4.5), tight_layout=True)
    counts = np.bincount(classes, minlength=len(names))
    axes[0].bar(range(len(names)), counts, color="tab:blue")
    axes[0].set_xticks(range(len(names)), names, rotation=45 if len(names) > 6 else 0)
    axes[0].set_title(f"instances per class ({len(classes)} boxes, {len(records)} images)")
    cx, cy = (boxes[:, 0] + boxes[:, 2]) / 2, (boxes[:, 1] + boxes[:, 3]) / 2
    axes[1].hist2d(cx, cy, bins=30, range=[[0, 1], [0, 1]], cmap="Blues")
    axes[1].invert_yaxis()
    axes[1].set_title("box centres (x, y)")
    axes[2].hist2d(boxes[:, 2] - boxes[:, 0], boxes[:, 3] - boxes[:, 1], bins=30, range=[[0, 1], [0, 1]], cmap="Blues")
    axes[2].set_title("box sizes (width, height)")
    return save_figure(fig, path, dpi=100)
