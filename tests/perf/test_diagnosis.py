"""Diagnosis rules on synthetic step-time breakdowns."""
from types import SimpleNamespace

import torch

from turboyolo.perf.diagnosis import diagnose, divergence, format_breakdown, phase_shares


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


def test_resolved_bf16_is_not_advised_bf16():
    """amp=auto that resolved to bf16 must not be told to "try amp=bf16" (issue 10, point 5)."""
    settings = {"batch": 8, "amp": "auto", "channels_last": True, "compile": False}
    lines = diagnose(breakdown(forward=40, backward=60), 0.02, settings=settings, amp_dtype=torch.bfloat16)
    assert lines[-1] == "low utilisation (2% of peak): try batch=16 or compile=true"
    # auto staying in fp32 means this CPU has no fast bf16: no advice either; amp=off by choice gets it
    assert "amp=bf16" not in diagnose(breakdown(forward=1), 0.02, settings=settings, amp_dtype=None)[-1]
    off = dict(settings, amp="off")
    assert "amp=bf16" in diagnose(breakdown(forward=1), 0.02, settings=off, amp_dtype=None)[-1]


def test_run_logger_passes_the_resolved_amp(capsys, tmp_path):
    from turboyolo.config import build_config
    from turboyolo.engine.run_logger import RunLogger

    logger = RunLogger(SimpleNamespace(path=tmp_path), verbose=True, plots=False, world_size=1,
                       amp_dtype=torch.bfloat16, settings=dict(build_config({"amp": "auto", "compile": True})))
    logger.print_diagnosis({**breakdown(forward=40, backward=60), "mfu": 0.02}, "at the end of training")
    out = capsys.readouterr().out
    assert "low utilisation" in out and "amp=bf16" not in out


def result_row(box, cls, dfl, map50=0.0):
    return {**breakdown(forward=40, backward=60), "box_loss": box, "cls_loss": cls, "dfl_loss": dfl, "mAP50": map50}


def test_collapsed_losses_with_zero_map_are_called_divergence():
    """optimizer=sgd lr0=10 warmup_epochs=0: losses at 1e-17, mAP 0, exit 0 - now said first (point 21)."""
    settings = {"lr0": 10.0, "warmup_epochs": 0.0, "optimizer": "sgd", "grad_clip": 10.0}
    lines = diagnose(result_row(0.0, 1e-17, 0.0), None, settings=settings)
    assert lines[0] == ("training diverged: every loss collapsed below 1e-06 (box 0, cls 1e-17, dfl 0) with mAP50 0; "
                        "try lr0=1 (now 10) or warmup_epochs=3")


def test_exploded_loss_with_zero_map_is_divergence_and_healthy_runs_are_quiet():
    settings = {"lr0": 10.0, "warmup_epochs": 3.0}
    assert diagnose(result_row(5.3, 8129.5, 2.9), None, settings=settings)[0].startswith(
        "training diverged: a loss grew above 100 (box 5.3, cls 8.13e+03, dfl 2.9) with mAP50 0; try lr0=1 (now 10)")
    assert divergence(result_row(1.2, 0.9, 1.1), settings) is None  # first epochs of a real run: mAP 0 is normal
    assert divergence(result_row(0.0, 1e-17, 0.0, map50=0.3), settings) is None  # it found objects: not diverged
