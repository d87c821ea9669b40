"""Writing a finished matplotlib figure to disk: one place for the folder, the file and closing the figure."""
from __future__ import annotations

from pathlib import Path


def save_figure(fig, path: str | Path, dpi: int | None = None) -> Path:
    """Save `fig` as `path` (its folder created), close it so long runs do not leak figures, return the path."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=dpi)
    import matplotlib.pyplot as plt

    plt.close(fig)
    return path
