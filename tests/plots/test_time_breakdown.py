"""The per-epoch time-breakdown PNG is written from results rows."""
from turboyolo.plots.time_breakdown import plot_time_breakdown


def test_writes_png(tmp_path):
    history = [{"epoch": e, "data_s": 2.0, "forward_s": 3.0, "backward_s": 5.0, "optimizer_s": 0.5,
                "other_s": 0.2, "images_per_s": 40.0} for e in (1, 2, 3)]
    path = plot_time_breakdown(history, tmp_path / "time_breakdown.png")
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
