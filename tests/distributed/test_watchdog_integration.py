"""A real hang on 2 gloo ranks stops the group with the watchdog's report."""
import time

import pytest

from tests.distributed.toy import run_ranks
from turboyolo.distributed.watchdog import EXIT_CODE_HANG, Watchdog



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
