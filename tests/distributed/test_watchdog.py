"""Hang detection names the rank that hung and the collective the others wait in."""
import time

import pytest
import torch.distributed as dist

from tests.distributed.toy import run_ranks
from turboyolo.distributed.watchdog import EXIT_CODE_HANG, Watchdog


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


def _rank1_hangs(cfg, env, strategy):
    from turboyolo.distributed.process_group import open_side_store

    strategy.watchdog.stop()  # swap in a short-timeout watchdog (dist_timeout's minimum is 10 s)
    strategy.watchdog = Watchdog(env.rank, env.world_size, 1.5, open_side_store(), interval_s=0.2).start()
    if env.rank == 1:
        time.sleep(60)  # stuck in "computation" (a dead data loader, an endless loop...)
    strategy.barrier()


@pytest.mark.dist
@pytest.mark.slow
def test_real_hang_stops_the_group_with_the_report(capfd):
    import torch.multiprocessing as mp

    started = time.time()
    with pytest.raises(mp.ProcessExitedException) as info:
        run_ranks(_rank1_hangs, 2)
    assert info.value.exit_code == EXIT_CODE_HANG and info.value.error_index == 0
    assert time.time() - started < 40
    err = capfd.readouterr().err
    assert "rank 0 waited" in err and "'barrier'" in err and "hung rank(s): 1" in err
