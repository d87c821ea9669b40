"""In-process spawn: each rank knows who it is, and one rank's error stops them all with its message."""
import os
import time

import pytest
import torch.multiprocessing as mp

from tests.distributed.toy import run_ranks



def _report_identity(cfg, env, strategy):
    return {"rank": env.rank, "world": env.world_size, "env_rank": os.environ["RANK"], "strategy": strategy.name,
            "ranks_seen": strategy.gather_objects(env.rank), "from_rank0": strategy.broadcast_object(f"hi {env.rank}")}


def _rank1_fails(cfg, env, strategy):
    if env.rank == 1:
        raise ValueError("boom on rank 1")
    strategy.barrier()  # rank 0 would wait forever without the launcher stopping it


@pytest.mark.dist
@pytest.mark.slow
def test_spawned_ranks_know_who_they_are():
    results = run_ranks(_report_identity, 2)
    assert [r["rank"] for r in results] == [0, 1]
    assert results[1]["env_rank"] == "1" and results[1]["world"] == 2 and results[0]["strategy"] == "ddp"
    assert results[0]["ranks_seen"] == [0, 1] and results[1]["ranks_seen"] is None
    assert results[1]["from_rank0"] == "hi 0"


@pytest.mark.dist
@pytest.mark.slow
def test_an_error_on_one_rank_stops_the_group_with_its_message():
    started = time.time()
    with pytest.raises(mp.ProcessRaisedException, match="boom on rank 1"):
        run_ranks(_rank1_fails, 2)
    assert time.time() - started < 30


@pytest.mark.slow
@pytest.mark.dist
def test_a_spawned_ranks_user_error_is_one_line(capsys):
    from turboyolo.cli import main

    code = main(["train", "nproc=2", "threads=1", "model=q", "epochs=1", "verbose=false"])
    err = capsys.readouterr().err.strip()
    assert code == 1 and len(err.splitlines()) == 1 and "Traceback" not in err
    assert err.startswith("turboyolo train: rank ") and "model=q" in err
