"""Confusion-matrix plot writes a PNG, normalised or as counts."""
import numpy as np

from turboyolo.plots.confusion_plot import plot_confusion_matrix

PNG_MAGIC = b"\x89PNG"


def test_confusion_matrix_png(tmp_path):
    matrix = np.array([[5, 1, 2], [0, 3, 1], [1, 0, 0]])
    for normalize in (True, False):
        path = plot_confusion_matrix(matrix, ["cat", "dog"], tmp_path / f"confusion_{normalize}.png", normalize=normalize)
        assert path.read_bytes()[:4] == PNG_MAGIC
