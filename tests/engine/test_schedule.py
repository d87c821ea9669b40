from turboyolo.config import build_config
from turboyolo.engine.schedule import MIN_WARMUP_ITERS, Schedule


def make(**kw):
    cfg = build_config({"epochs": 10, **kw})
    return Schedule.from_config(cfg, lr0=0.01, micro_steps_per_step=4, batches_per_epoch=50)


def test_warmup_ramps_lr_momentum_and_accumulation():
    s = make()
    start, end = s.at(0, 0), s.at(0, s.warmup_iters)
    assert start["lr"][0] == 0 and start["lr"][2] == 0.1  # weights from 0, bias from warmup_bias_lr
    assert start["micro_steps_per_step"] == 1 and end["micro_steps_per_step"] == 4
    assert start["momentum"] == 0.8 and end["momentum"] == 0.937
    mid = s.at(0, s.warmup_iters // 2)
    assert 0 < mid["lr"][0] < end["lr"][0]


def test_short_runs_get_minimum_warmup():
    s = Schedule.from_config(build_config({"epochs": 5}), 0.01, 4, batches_per_epoch=10)
    assert s.warmup_iters == MIN_WARMUP_ITERS
    assert Schedule.from_config(build_config({"warmup_epochs": 0}), 0.01, 4, 10).warmup_iters == 0


def test_decay_reaches_lrf_at_last_epoch():
    for kind in ("linear", "cosine"):
        s = make(lr_schedule=kind, warmup_epochs=0)
        assert abs(s.at(0, 0)["lr"][0] - 0.01) < 1e-12
        assert abs(s.at(9, 10**6)["lr"][0] - 0.01 * 0.01) < 1e-12
        lrs = [s.at(e, 10**6)["lr"][0] for e in range(10)]
        assert all(a >= b for a, b in zip(lrs, lrs[1:]))
