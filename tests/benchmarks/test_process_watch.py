"""Watching a trainer from outside: rows stamped as they appear, memory of the whole process tree
(benchmarks/process_watch.py)."""
import sys
import textwrap

from benchmarks.process_watch import count_complete_rows, run_watched

# a parent that writes one row, then starts a child holding 200 MiB, then writes a second row
TRAINER = textwrap.dedent("""
    import subprocess, sys, time
    csv = sys.argv[1]
    open(csv, "w").write("epoch,mAP50\\n1,0.1\\n")
    time.sleep(0.6)
    child = subprocess.Popen([sys.executable, "-c",
                              "import time; b = bytearray(200 * 2**20); b[::4096] = b'x' * len(b[::4096]); time.sleep(1.2)"])
    child.wait()
    open(csv, "a").write("2,0.6\\n")
    time.sleep(0.6)
""")


def test_rows_are_stamped_when_they_appear_and_child_memory_counts(tmp_path):
    csv = tmp_path / "results.csv"
    run = run_watched([sys.executable, "-c", TRAINER, str(csv)], env={}, results_csv=csv,
                      log_path=tmp_path / "log.txt", poll_s=0.1)
    assert run.returncode == 0
    assert len(run.row_seen_s) == 2
    assert run.row_seen_s[0] < 1.5 < run.row_seen_s[1] <= run.wall_s
    assert run.peak_rss_bytes > 200 * 2 ** 20 and run.peak_pss_bytes > 200 * 2 ** 20


def test_a_row_being_written_is_not_counted_yet(tmp_path):
    csv = tmp_path / "results.csv"
    csv.write_text("epoch,time,mAP50\n1,30.0,0.1\n2,61.")
    assert count_complete_rows(csv) == 1
    assert count_complete_rows(tmp_path / "missing.csv") == 0
