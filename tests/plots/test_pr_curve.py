"""PR-curve plot writes a PNG from DetectionEvaluator-style curves."""
import numpy as np

from turboyolo.plots.pr_curve import plot_pr_curve

PNG_MAGIC = b"\x89PNG"


def test_pr_curve_png(tmp_path):
    recall = np.linspace(0, 1, 101)
    precision = np.stack([1 - recall**2, np.clip(1 - recall, 0, 1), -np.ones(101)])  # last: no ground truth
    path = plot_pr_curve(recall, precision, ["cat", "dog", "bird"], tmp_path / "sub" / "pr.png", ap50=np.array([0.6, 0.5, -1]))
    assert path.read_bytes()[:4] == PNG_MAGIC
