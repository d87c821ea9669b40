"""Hang detection names the rank that hung and the collective the others wait in (in one process;
test_watchdog_integration.py hangs a real group)."""
import time

import torch.distributed as dist

from turboyolo.distributed.watchdog import Watchdog



def test_report_names_the_collective_and_the_rank_outside_it():
    store = dist.HashStore()
    reports = []
    other = Watchdog(1, 2, timeout_s=60, store=store)
    other.step = 7
    other._post()  # rank 1 is computing, not in the collective
    watchdog = Watchdog(0, 2, timeout_s=0.3, store=store, interval_s=0.05, on_hang=reports.append).start()
    with watchdog.collective("all_reduce(sum)"):
        deadline = time.time() + 5
        while not reports and time.time() < deadline:
            other._post()
            time.sleep(0.05)
    watchdog.stop()
    assert reports, "watchdog did not fire"
    report = reports[0]
    assert "rank 0 waited" in report and "'all_reduce(sum)'" in report
    assert "rank 1: in 'computing" in report and "step 7" in report
    assert "hung rank(s): 1" in report


def test_no_report_while_collectives_finish_in_time():
    reports = []
    watchdog = Watchdog(0, 1, timeout_s=0.5, store=dist.HashStore(), interval_s=0.05, on_hang=reports.append).start()
    for _ in range(5):
        with watchdog.collective("barrier"):
            time.sleep(0.05)
        time.sleep(0.1)
    watchdog.stop()
    assert reports == []
