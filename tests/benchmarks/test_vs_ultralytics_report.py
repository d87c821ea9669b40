"""The side-by-side harness's arithmetic: both trainers' results.csv read alike, time to accuracy,
medians over repeats, ratios against the tuned peer (benchmarks/vs_ultralytics_report.py)."""
import json

import pytest

from benchmarks.vs_ultralytics import run_order
from benchmarks.vs_ultralytics_report import (markdown_table, median_over_repeats, ratios_against, read_ours,
                                              read_peer, summarize_run)

# the peer's documented columns (8.x): epoch 1-based, `time` cumulative seconds since training started
PEER_CSV = """epoch,time,train/box_loss,train/cls_loss,train/dfl_loss,metrics/precision(B),metrics/recall(B),metrics/mAP50(B),metrics/mAP50-95(B),val/box_loss,val/cls_loss,val/dfl_loss,lr/pg0,lr/pg1,lr/pg2
1,30.5,3.1,4.2,2.0,0.01,0.1,0.05,0.02,3.0,4.0,2.0,0.0007,0.0007,0.0007
2,62.0,2.5,3.0,1.8,0.5,0.6,0.55,0.3,2.4,2.9,1.7,0.0013,0.0013,0.0013
3,92.0,2.0,2.1,1.5,0.6,0.7,0.65,0.4,2.0,2.0,1.4,0.0012,0.0012,0.0012
"""
# older releases pad names and values with spaces and have no `time` column
PADDED_PEER_CSV = """                  epoch,         train/box_loss,   metrics/mAP50(B),metrics/mAP50-95(B)
                      1,                  3.1,               0.05,               0.02
                      2,                  2.5,                nan,                nan
"""
OURS_CSV = """epoch,box_loss,cls_loss,dfl_loss,lr,epoch_s,images_per_s,precision,recall,mAP50,mAP50-95,val_s
1,3.0,4.0,2.0,0.001,14.0,14.6,0.1,0.2,0.3,0.1,3.0
2,2.5,3.0,1.8,0.001,15.0,13.7,,,,,
3,2.0,2.0,1.5,0.001,16.0,12.8,0.6,0.7,0.62,0.41,5.0
"""


def _write(tmp_path, name, text):
    path = tmp_path / name
    path.write_text(text)
    return path


def test_peer_rows_take_train_and_val_apart_from_the_epoch_stamps(tmp_path):
    stamps = [{"event": "on_train_epoch_start", "epoch": 1, "time": 100.0},
              {"event": "on_train_epoch_end", "epoch": 1, "time": 120.0},
              {"event": "on_fit_epoch_end", "epoch": 1, "time": 126.0}]
    events = _write(tmp_path, "events.jsonl", "".join(json.dumps(s) + "\n" for s in stamps))
    rows = read_peer(_write(tmp_path, "results.csv", PEER_CSV), events)
    assert [r["epoch"] for r in rows] == [1, 2, 3]
    assert rows[0]["train_s"] == 20.0 and rows[0]["val_s"] == 6.0 and rows[0]["epoch_s"] == 26.0
    # no stamps for epoch 2: the whole epoch still comes from the cumulative `time` column
    assert rows[1]["train_s"] is None and rows[1]["epoch_s"] == pytest.approx(31.5)
    assert rows[2]["mAP50"] == 0.65 and rows[2]["mAP50-95"] == 0.4


def test_padded_peer_csv_without_time_reads_and_nan_is_missing(tmp_path):
    rows = read_peer(_write(tmp_path, "results.csv", PADDED_PEER_CSV))
    assert rows[0] == {"epoch": 1, "train_s": None, "val_s": None, "epoch_s": None, "mAP50": 0.05, "mAP50-95": 0.02}
    assert rows[1]["mAP50"] is None


def test_our_rows_leave_unvalidated_epochs_empty(tmp_path):
    rows = read_ours(_write(tmp_path, "results.csv", OURS_CSV))
    assert rows[0]["train_s"] == 14.0 and rows[0]["val_s"] == 3.0 and rows[0]["epoch_s"] == 17.0
    assert rows[1]["mAP50"] is None and rows[1]["epoch_s"] == 15.0


def test_summary_times_accuracy_from_when_the_row_appeared(tmp_path):
    rows = read_ours(_write(tmp_path, "results.csv", OURS_CSV))
    summary = summarize_run(rows, row_seen_s=[20.0, 38.0, 60.0], train_images=205, wall_s=70.0,
                            peak_rss_bytes=3 * 1024 ** 3, peak_pss_bytes=2 * 1024 ** 3)
    assert summary["train_epoch_s"] == 15.0 and summary["images_per_s"] == pytest.approx(205 / 15.0)
    assert summary["s_to_mAP50_0.5"] == 60.0 and summary["epoch_to_mAP50_0.5"] == 3
    assert summary["s_to_mAP50_0.6"] == 60.0
    assert summary["final_mAP50"] == 0.62 and summary["peak_pss_gib"] == 2.0
    never = summarize_run(rows[:2], [20.0, 38.0], 205, 40.0, 0, 0)
    assert never["s_to_mAP50_0.5"] is None and never["epoch_to_mAP50_0.5"] is None


def test_median_counts_a_missed_threshold_as_late():
    runs = [{"wall_s": 100.0, "s_to_mAP50_0.6": 50.0}, {"wall_s": 120.0, "s_to_mAP50_0.6": None},
            {"wall_s": 110.0, "s_to_mAP50_0.6": 70.0}]
    merged = median_over_repeats(runs)
    assert merged["wall_s"] == 110.0 and merged["s_to_mAP50_0.6"] == 70.0 and merged["repeats"] == 3
    assert median_over_repeats(runs[:2])["s_to_mAP50_0.6"] is None  # half the repeats never got there


def test_ratios_read_times_better_than_the_tuned_peer():
    tuned = {"images_per_s": 10.0, "train_epoch_s": 20.0, "wall_s": 600.0, "s_to_mAP50_0.6": 570.0,
             "peak_pss_gib": 3.0}
    ours = {"images_per_s": 14.0, "train_epoch_s": 14.5, "wall_s": 440.0, "s_to_mAP50_0.6": None,
            "peak_pss_gib": 2.0}
    ratios = ratios_against(ours, tuned)
    assert ratios["images_per_s"] == pytest.approx(1.4)
    assert ratios["train_epoch_s"] == pytest.approx(20.0 / 14.5)
    assert ratios["wall_s"] == pytest.approx(600 / 440)
    assert ratios["s_to_mAP50_0.6"] is None and ratios["peak_pss_gib"] == pytest.approx(2 / 3)
    table = markdown_table({"ours": ours, "tuned": tuned}, {"ours": ratios}, ["# title"])
    assert "| training images/s | 14.0 (1.40x) | 10.0 |" in table


def test_repeats_alternate_the_trainers():
    assert run_order(["ours", "stock", "tuned"], 2) == [("ours", 1), ("stock", 1), ("tuned", 1),
                                                       ("ours", 2), ("stock", 2), ("tuned", 2)]


def test_a_first_round_only_trainer_runs_once():
    assert run_order(["ours", "stock", "tuned"], 2, frozenset({"stock"})) == [
        ("ours", 1), ("stock", 1), ("tuned", 1), ("ours", 2), ("tuned", 2)]


def test_the_fp32_arm_is_our_default_command_at_amp_off(tmp_path):
    from types import SimpleNamespace

    from benchmarks.vs_ultralytics import command_for
    args = SimpleNamespace(epochs=3, fraction=1.0)
    data = {"ours": tmp_path / "data.yaml", "peer": tmp_path / "peer.yaml"}
    default = command_for("ours", args, data, tmp_path / "ours-1", None)
    fp32 = command_for("ours-fp32", args, data, tmp_path / "ours-fp32-1", None)
    assert "amp=off" in fp32 and "amp=off" not in default
    assert [a for a in fp32 if not a.startswith(("name=", "amp="))] == [a for a in default if not a.startswith("name=")]
