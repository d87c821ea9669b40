"""Per-epoch rows of both trainers in one shape, one run's summary, medians over repeats, ratios, the table.

An epoch row: {"epoch": int, "train_s", "val_s", "epoch_s": float | None, "mAP50", "mAP50-95": float | None}
(train_s: the training loop; val_s: validation; epoch_s: both; None where a trainer does not say).

Ours (turboyolo results.csv): epoch, epoch_s (the training loop), val_s, mAP50, mAP50-95.
The peer (Ultralytics results.csv, documented columns): epoch, time (seconds since training started,
cumulative), train/box_loss ..., metrics/mAP50(B), metrics/mAP50-95(B), ...; older releases pad the
header names with spaces. Its train/val split comes from the epoch stamps our callbacks write
(ultralytics_peer.py): on_train_epoch_start -> on_train_epoch_end is training, on_train_epoch_end ->
on_fit_epoch_end is validation (plus its checkpoint save).
"""
from __future__ import annotations

import csv
import json
import math
import statistics
from pathlib import Path

MAP50_THRESHOLDS = (0.5, 0.6)
GIB = 1024 ** 3


def _number(text: str | None) -> float | None:
    text = (text or "").strip()
    if not text:
        return None
    value = float(text)
    return None if math.isnan(value) else value


def _read_csv(path: Path) -> list[dict]:
    with Path(path).open(newline="") as fh:
        return [{(k or "").strip(): (v or "").strip() for k, v in row.items()} for row in csv.DictReader(fh)]


def read_ours(results_csv: Path) -> list[dict]:
    rows = []
    for row in _read_csv(results_csv):
        train_s, val_s = _number(row.get("epoch_s")), _number(row.get("val_s"))
        rows.append({"epoch": int(float(row["epoch"])), "train_s": train_s, "val_s": val_s,
                     "epoch_s": train_s + (val_s or 0.0) if train_s is not None else None,
                     "mAP50": _number(row.get("mAP50")), "mAP50-95": _number(row.get("mAP50-95"))})
    return rows


def read_epoch_stamps(events_jsonl: Path) -> dict[int, dict[str, float]]:
    """{epoch: {callback name: time.time()}} from the peer's stamp file ({} when there is none)."""
    stamps: dict[int, dict[str, float]] = {}
    if not Path(events_jsonl).is_file():
        return stamps
    for line in Path(events_jsonl).read_text().splitlines():
        if line.strip():
            event = json.loads(line)
            stamps.setdefault(int(event["epoch"]), {})[event["event"]] = float(event["time"])
    return stamps


def read_peer(results_csv: Path, events_jsonl: Path | None = None) -> list[dict]:
    stamps = read_epoch_stamps(events_jsonl) if events_jsonl else {}
    rows, previous_time = [], 0.0
    for row in _read_csv(results_csv):
        epoch = int(float(row["epoch"]))
        cumulative = _number(row.get("time"))
        epoch_s = cumulative - previous_time if cumulative is not None else None
        previous_time = cumulative if cumulative is not None else previous_time
        stamp = stamps.get(epoch, {})
        start, train_end, fit_end = (stamp.get(k) for k in ("on_train_epoch_start", "on_train_epoch_end",
                                                             "on_fit_epoch_end"))
        train_s = train_end - start if start is not None and train_end is not None else None
        val_s = fit_end - train_end if train_end is not None and fit_end is not None else None
        if start is not None and fit_end is not None:
            epoch_s = fit_end - start
        rows.append({"epoch": epoch, "train_s": train_s, "val_s": val_s, "epoch_s": epoch_s,
                     "mAP50": _number(row.get("metrics/mAP50(B)")), "mAP50-95": _number(row.get("metrics/mAP50-95(B)"))})
    return rows


def _median(values) -> float | None:
    values = [v for v in values if v is not None]
    return statistics.median(values) if values else None


def summarize_run(rows: list[dict], row_seen_s: list[float], train_images: int, wall_s: float,
                  peak_rss_bytes: int, peak_pss_bytes: int) -> dict:
    """One run's figures. row_seen_s[i]: seconds from process start when rows[i] appeared on disk."""
    train_epoch_s = _median(r["train_s"] for r in rows)
    summary = {
        "epochs": len(rows), "wall_s": wall_s,
        "images_per_s": train_images / train_epoch_s if train_epoch_s else None,
        "train_epoch_s": train_epoch_s, "val_s": _median(r["val_s"] for r in rows),
        "epoch_s": _median(r["epoch_s"] for r in rows),
        "final_mAP50": rows[-1]["mAP50"] if rows else None,
        "final_mAP50-95": rows[-1]["mAP50-95"] if rows else None,
        "peak_rss_gib": peak_rss_bytes / GIB, "peak_pss_gib": peak_pss_bytes / GIB,
    }
    for threshold in MAP50_THRESHOLDS:
        first = next((i for i, r in enumerate(rows) if (r["mAP50"] or 0.0) >= threshold), None)
        reached = first is not None and first < len(row_seen_s)
        summary[f"s_to_mAP50_{threshold}"] = row_seen_s[first] if reached else None
        summary[f"epoch_to_mAP50_{threshold}"] = rows[first]["epoch"] if reached else None
    return summary


def median_over_repeats(runs: list[dict]) -> dict:
    """Each figure's median over repeats. A threshold a repeat never reached counts as infinitely late,
    so the median is None when half or more of the repeats missed it."""
    merged = {}
    for key in runs[0]:
        values = [run.get(key) for run in runs]
        if key.startswith(("s_to_", "epoch_to_")):
            late = statistics.median(math.inf if v is None else v for v in values)
            merged[key] = None if math.isinf(late) else late
        else:
            merged[key] = _median(values)
    merged["repeats"] = len(runs)
    return merged


# figure -> True when more is better (ratio = x / reference), False when less is better (reference / x):
# every ratio reads "times better than the reference".
RATIO_FIGURES = {"images_per_s": True, "train_epoch_s": False, "val_s": False, "wall_s": False,
                 **{f"s_to_mAP50_{t}": False for t in MAP50_THRESHOLDS}}


def ratios_against(summary: dict, reference: dict) -> dict:
    """{figure: how many times better than `reference`}; peak memory as a plain share (x / reference)."""
    ratios = {}
    for key, more_is_better in RATIO_FIGURES.items():
        mine, theirs = summary.get(key), reference.get(key)
        ratios[key] = (mine / theirs if more_is_better else theirs / mine) if mine and theirs else None
    for key in ("peak_rss_gib", "peak_pss_gib"):
        mine, theirs = summary.get(key), reference.get(key)
        ratios[key] = mine / theirs if mine and theirs else None
    return ratios


def _cell(value, digits: int = 1, suffix: str = "") -> str:
    return "-" if value is None else f"{value:.{digits}f}{suffix}"


def markdown_table(summaries: dict[str, dict], ratios: dict[str, dict], header_lines: list[str]) -> str:
    """A table with one column per trainer; ratios (against the tuned peer) follow the figures they concern."""
    names = list(summaries)
    lines = header_lines + ["", "| | " + " | ".join(names) + " |", "|---|" + "---|" * len(names)]

    def add(label: str, key: str, digits: int, suffix: str = "", ratio_suffix: str = "x") -> None:
        cells = []
        for name in names:
            cell = _cell(summaries[name].get(key), digits, suffix)
            ratio = ratios.get(name, {}).get(key)
            cells.append(cell if ratio is None else f"{cell} ({ratio:.2f}{ratio_suffix})")
        lines.append(f"| {label} | " + " | ".join(cells) + " |")

    add("training images/s", "images_per_s", 1)
    add("training epoch (s)", "train_epoch_s", 1)
    add("validation (s)", "val_s", 1)
    add("whole process (s)", "wall_s", 0)
    for t in MAP50_THRESHOLDS:
        add(f"to first val mAP50 >= {t} (s)", f"s_to_mAP50_{t}", 0)
        add(f"epoch of first val mAP50 >= {t}", f"epoch_to_mAP50_{t}", 0)
    add("final mAP50", "final_mAP50", 3)
    add("final mAP50-95", "final_mAP50-95", 3)
    add("peak RSS, process tree (GiB)", "peak_rss_gib", 2, ratio_suffix="x of tuned")
    add("peak PSS, process tree (GiB)", "peak_pss_gib", 2, ratio_suffix="x of tuned")
    lines.append("")
    lines.append("(N.NNx): times better than the tuned peer (throughput: x / tuned; times: tuned / x); "
                 "memory: share of the tuned peer's.")
    return "\n".join(lines) + "\n"
