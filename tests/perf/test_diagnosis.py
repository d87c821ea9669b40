"""Diagnosis rules on synthetic step-time breakdowns."""
from turboyolo.perf.diagnosis import diagnose, format_breakdown, phase_shares


def breakdown(**seconds):
    """A results-row-like dict: <phase>_s only, wall = their sum (as the trainer's CSV row)."""
    row = {f"{p}_s": 0.0 for p in ("data", "h2d", "forward", "backward", "optimizer", "other")}
    row.update({f"{k}_s": v for k, v in seconds.items()})
    return row


def test_data_bound_names_share_and_advice():
    lines = diagnose(breakdown(data=41, forward=20, backward=35, optimizer=4), 0.2, workers=2, cache="none")
    assert lines[0].startswith("data-bound: data wait 41% of step")
    assert "cache=ram" in lines[0] and "workers=4" in lines[0]


def test_cache_ram_not_suggested_twice():
    lines = diagnose(breakdown(data=50, forward=50), None, workers=0, cache="ram")
    assert "cache=ram" not in lines[0] and "workers=2" in lines[0]


def test_communication_bound_from_exposed_comm_share():
    summary = {"wall_s": 10.0, "forward_s": 3.0, "backward_s": 6.0, "optimizer_s": 1.0, "exposed_comm_share": 0.30}
    lines = diagnose(summary, 0.25, bucket_cap_mb=25.0, world_size=8)
    assert lines[0].startswith("communication-bound: exposed allreduce 30%")
    assert "bucket_cap_mb (now 25)" in lines[0] and "grad_compression=fp16" in lines[0] and "accumulate" in lines[0]


def test_compute_bound_when_nothing_else_fires():
    lines = diagnose(breakdown(data=5, forward=30, backward=60, optimizer=5), 0.38)
    assert lines == ["compute-bound at 38% of peak (forward+backward 90% of step)"]


def test_largest_bottleneck_first_and_low_utilisation_hint():
    lines = diagnose(breakdown(data=25, h2d=5, forward=10, backward=20, other=40), 0.03, batch=16)
    assert lines[0].startswith("40% of step outside")
    assert lines[1].startswith("data-bound: data wait 25%")
    assert lines[-1].startswith("low utilisation (3% of peak): try batch=32")


def test_thresholds_are_inclusive_and_below_is_quiet():
    assert diagnose(breakdown(data=20, forward=80), None)[0].startswith("data-bound")
    assert diagnose(breakdown(data=19, forward=81), None)[0].startswith("compute-bound")


def test_empty_summary_gives_no_lines():
    assert diagnose({}, None) == []


def test_shares_prefer_explicit_keys_and_breakdown_line():
    summary = {"wall_s": 2.0, "data_s": 1.0, "forward_s": 1.0, "data_share": 0.5, "forward_share": 0.5,
               "images_per_s": 16.0, "step_s_median": 0.5}
    assert phase_shares(summary)["data"] == 0.5
    assert format_breakdown(summary).startswith("step 0.5 s, 16.0 images/s: data 50%, h2d 0%, forward 50%")


def test_settings_remove_advice_already_taken():
    settings = {"batch": 8, "amp": "bf16", "channels_last": True, "compile": False, "cache": "ram", "workers": 4}
    lines = diagnose(breakdown(data=30, forward=30, backward=40), 0.02, settings=settings)
    assert lines[0] == "data-bound: data wait 30% of step (compute at 2% of peak); try workers=8"
    assert lines[1] == "low utilisation (2% of peak): try batch=16 or compile=true"
