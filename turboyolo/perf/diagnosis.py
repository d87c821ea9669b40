"""What limits training speed, in plain words with numbers, from a step-time breakdown.

The rules, checked in this order on the shares of step wall time (``<phase>_s / wall``); every
rule that fires adds one line, the largest bottleneck first:

1. data-bound        data wait >= 20%             -> cache=ram, more workers
2. communication     exposed comm >= 15%          -> bucket_cap_mb, grad_compression, accumulate
3. host-to-device    h2d >= 10%                   -> pinned memory (workers > 0), uint8 transfer
4. optimizer         optimizer >= 15%             -> larger batch, or accumulate (fewer steps/image)
5. overhead          other >= 15%                 -> host syncs (.item(), printing), logging
6. compute-bound     none of the above fired      -> "compute-bound at X% of peak"
   + low utilisation MFU < 10% (when known)       -> larger batch, amp=bf16, channels_last, compile

A data-bound or communication-bound run is also told its MFU, so the lines read as a whole. The
thresholds are module constants, so a test and a reader see the same numbers.

Before the speed lines comes one about the run itself when it diverged without a NaN (which the
trainer already stops on): mAP50 0 while every loss collapsed below COLLAPSED_LOSS or one grew
above EXPLODED_LOSS, e.g. `optimizer=sgd lr0=10 warmup_epochs=0`.
"""
from __future__ import annotations

import torch

DATA_BOUND_SHARE = 0.20
COMM_BOUND_SHARE = 0.15
H2D_SHARE = 0.10
OPTIMIZER_SHARE = 0.15
OTHER_SHARE = 0.15
LOW_MFU = 0.10

# A healthy detector's epoch-mean losses stay within about 0.1 .. 10 (box, cls, dfl alike).
COLLAPSED_LOSS = 1e-6  # every loss below this: the model has stopped predicting anything
EXPLODED_LOSS = 100.0  # any loss above this: the updates blew the weights up
LOSS_KEYS = ("box_loss", "cls_loss", "dfl_loss")

PHASES = ("data", "h2d", "forward", "backward", "optimizer", "other")
AMP_NAMES = {None: "fp32", torch.bfloat16: "bf16", torch.float16: "fp16"}
_UNRESOLVED = object()  # amp_dtype not passed: only the amp setting is known
COMM_KEYS = ("comm", "exposed_comm", "allreduce")


def phase_shares(summary: dict) -> dict[str, float]:
    """Share of wall time per phase, from ``<phase>_share`` keys or from ``<phase>_s`` / wall.

    Accepts a StepTimer summary or a results.csv row (which has ``<phase>_s`` and
    ``data_wait_share``/``exposed_comm_share`` but may lack ``wall_s``: then the wall is the sum
    of the phase times).
    """
    seconds = {p: float(summary.get(f"{p}_s", 0.0) or 0.0) for p in PHASES}
    wall = float(summary.get("wall_s") or 0.0) or sum(seconds.values())
    shares = {}
    for phase in PHASES:
        given = summary.get(f"{phase}_share")
        shares[phase] = float(given) if given is not None else (seconds[phase] / wall if wall > 0 else 0.0)
    if summary.get("data_wait_share") is not None:
        shares["data"] = float(summary["data_wait_share"])
    comm = summary.get("exposed_comm_share")
    if comm is None:
        comm_s = sum(float(summary.get(f"{k}_s", 0.0) or 0.0) for k in COMM_KEYS)
        comm = comm_s / wall if wall > 0 else 0.0
    shares["comm"] = float(comm)
    return shares


def _pct(x: float) -> str:
    return f"{100 * x:.0f}%"


def divergence(row: dict, settings: dict) -> str | None:
    """One line when a results row shows a run that diverged without a NaN (see module docstring), else None."""
    losses = {key.removesuffix("_loss"): float(row[key]) for key in LOSS_KEYS if row.get(key) is not None}
    if not losses or float(row.get("mAP50", 0.0) or 0.0) > 0:
        return None
    if all(value < COLLAPSED_LOSS for value in losses.values()):
        what = f"every loss collapsed below {COLLAPSED_LOSS:g}"
    elif any(value > EXPLODED_LOSS for value in losses.values()):
        what = f"a loss grew above {EXPLODED_LOSS:g}"
    else:
        return None
    shown = ", ".join(f"{name} {value:.3g}" for name, value in losses.items())
    lr0, warmup = settings.get("lr0"), settings.get("warmup_epochs")
    tries = [f"lr0={lr0 / 10:g} (now {lr0:g})" if lr0 else "a lower lr0"]
    if warmup == 0:
        tries.append("warmup_epochs=3")
    if settings.get("grad_clip") == 0:
        tries.append("grad_clip=10")
    map_text = "mAP50 0" if "mAP50" in row else "no validation"
    return (f"training diverged: {what} ({shown}) with {map_text}; "
            f"try {', '.join(tries[:-1])}{' or ' if len(tries) > 1 else ''}{tries[-1]}")


def diagnose(summary: dict, peak_fraction: float | None = None, *, settings: dict | None = None,
             workers: int | None = None, cache: str | None = None, bucket_cap_mb: float | None = None,
             grad_compression: str | None = None, batch: int | None = None, world_size: int = 1,
             amp_dtype=_UNRESOLVED) -> list[str]:
    """Lines naming what limits speed, largest bottleneck first; never empty when steps ran.

    summary: StepTimer.summary() or a results row; peak_fraction: MFU in 0..1 (None = unknown).
    settings: the run config (or any dict with its keys); it and the keyword arguments (current
    settings) only sharpen the advice, e.g. no "try channels_last=true" when it is already on.
    amp_dtype: the autocast dtype the run resolved (None = fp32), which `amp=auto` alone does not say.
    A results row that shows divergence (see `divergence`) gets that line first.
    """
    settings = dict(settings or {})
    diverged = [line for line in (divergence(summary, settings),) if line]
    workers = settings.get("workers", workers)
    cache = settings.get("cache", cache)
    bucket_cap_mb = settings.get("bucket_cap_mb", bucket_cap_mb)
    grad_compression = settings.get("grad_compression", grad_compression)
    batch = settings.get("batch", batch)
    shares = phase_shares(summary)
    if not any(shares.values()):
        return diverged
    mfu = f" (compute at {_pct(peak_fraction)} of peak)" if peak_fraction else ""
    findings: list[tuple[float, str]] = []

    if shares["data"] >= DATA_BOUND_SHARE:
        advice = ["cache=ram"] if cache != "ram" else []
        advice.append(f"workers={max(2 * (workers or 1), (workers or 0) + 2)}" if workers is not None else "workers=N")
        findings.append((shares["data"], f"data-bound: data wait {_pct(shares['data'])} of step{mfu}; try {' or '.join(advice)}"))
    if shares["comm"] >= COMM_BOUND_SHARE:
        bucket = f"larger bucket_cap_mb (now {bucket_cap_mb:g})" if bucket_cap_mb else "larger bucket_cap_mb"
        compression = "grad_compression=fp16" if grad_compression in (None, "none") else "grad_compression=powersgd"
        findings.append((shares["comm"], f"communication-bound: exposed allreduce {_pct(shares['comm'])} of step"
                         f"{' on ' + str(world_size) + ' processes' if world_size > 1 else ''}{mfu}; "
                         f"try {bucket}, {compression} or accumulate=k"))
    if shares["h2d"] >= H2D_SHARE:
        findings.append((shares["h2d"], f"host-to-device copies {_pct(shares['h2d'])} of step; "
                         "try workers>0 (pinned memory) so copies overlap compute"))
    if shares["optimizer"] >= OPTIMIZER_SHARE:
        findings.append((shares["optimizer"], f"optimizer step {_pct(shares['optimizer'])} of step; "
                         "try a larger batch or accumulate=k (fewer optimizer steps per image)"))
    if shares["other"] >= OTHER_SHARE:
        findings.append((shares["other"], f"{_pct(shares['other'])} of step outside the measured phases; "
                         "look for host syncs (.item(), printing) and per-step logging"))

    lines = [text for _, text in sorted(findings, key=lambda f: -f[0])]
    if not lines:
        compute = shares["forward"] + shares["backward"]
        if peak_fraction:
            lines.append(f"compute-bound at {_pct(peak_fraction)} of peak (forward+backward {_pct(compute)} of step)")
        else:
            lines.append(f"compute-bound: forward+backward {_pct(compute)} of step (peak unknown)")
    if peak_fraction is not None and 0 < peak_fraction < LOW_MFU:
        tries = [f"batch={2 * batch}" if batch else "a larger batch"]
        if _would_gain_from_bf16(settings.get("amp"), amp_dtype):
            tries.append("amp=bf16")
        tries += [f"{key}=true" for key in ("channels_last", "compile") if settings.get(key) is not True]
        lines.append(f"low utilisation ({_pct(peak_fraction)} of peak): try {', '.join(tries[:-1])}"
                     f"{' or ' if len(tries) > 1 else ''}{tries[-1]}")
    return diverged + lines


def _would_gain_from_bf16(amp_setting: str | None, amp_dtype) -> bool:
    """Suggest amp=bf16 only to a run in fp32 by choice: amp=auto stays in fp32 only where bf16 is slower."""
    if amp_dtype is not _UNRESOLVED:
        return AMP_NAMES.get(amp_dtype) == "fp32" and amp_setting != "auto"
    return amp_setting not in ("auto", "bf16", "fp16")


def format_breakdown(summary: dict) -> str:
    """One line: 'step 0.52 s, 123 images/s: data 41%, h2d 2%, forward 20%, ...'."""
    shares = phase_shares(summary)
    parts = ", ".join(f"{p} {_pct(shares[p])}" for p in PHASES)
    if shares["comm"]:
        parts += f", exposed comm {_pct(shares['comm'])}"
    step = summary.get("step_s_median") or summary.get("step_s")
    head = f"step {step:.3g} s, " if step else ""
    return f"{head}{summary.get('images_per_s', 0.0):.1f} images/s: {parts}"
