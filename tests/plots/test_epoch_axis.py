"""Per-epoch plots tick whole epochs only: a 3-epoch run shows 1, 2, 3, not 1.25, 1.5..."""
import pytest

from turboyolo.plots import curves, time_breakdown

HISTORY = [{"epoch": e, "box_loss": 1.0 / e, "mAP50": 0.1 * e, "data_s": 1.0, "forward_s": 2.0, "images_per_s": 10.0}
           for e in (1, 2, 3)]


@pytest.mark.parametrize("module, plot", [(curves, curves.plot_results), (time_breakdown, time_breakdown.plot_time_breakdown)])
def test_epoch_ticks_are_whole_numbers(module, plot, tmp_path, monkeypatch):
    figures = []
    monkeypatch.setattr(module, "save_figure", lambda fig, path, dpi=None: figures.append(fig))
    plot(HISTORY, tmp_path / "plot.png")
    for ax in figures[0].axes:
        if ax.get_xlabel() == "epoch":
            ticks = [t for t in ax.get_xticks() if ax.get_xlim()[0] <= t <= ax.get_xlim()[1]]
            assert ticks and all(float(t).is_integer() for t in ticks), ticks
