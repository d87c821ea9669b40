import pytest

from turboyolo.config import ConfigError, build_config
from turboyolo.config.derived import derive


def test_global_batch_same_optimisation_at_any_world_size():
    cfg = build_config({"batch": 16, "nbs": 64})
    one, two = derive(cfg, 1), derive(cfg, 2)
    assert (one.per_rank_batch, two.per_rank_batch) == (16, 8)
    assert one.micro_steps_per_step == two.micro_steps_per_step == 4
    assert one.effective_batch == two.effective_batch == 64
    assert one.lr0 == two.lr0 and one.weight_decay == two.weight_decay


def test_lr_scaling_rules():
    assert derive(build_config({"batch": 128, "nbs": 64, "lr_scaling": "linear", "lr0": 0.01}), 1).lr0 == pytest.approx(0.02)
    assert derive(build_config({"batch": 256, "nbs": 64, "lr_scaling": "sqrt", "lr0": 0.01}), 1).lr0 == pytest.approx(0.02)
    assert derive(build_config({"batch": 128, "nbs": 64, "lr_scaling": "none", "lr0": 0.01}), 1).lr0 == pytest.approx(0.01)


def test_weight_decay_scaled_to_effective_batch():
    d = derive(build_config({"batch": 16, "nbs": 64, "accumulate": 2, "weight_decay": 0.0005}), 1)
    assert d.effective_batch == 32 and d.weight_decay == pytest.approx(0.00025)


def test_indivisible_batch_is_a_clear_error():
    with pytest.raises(ConfigError, match="batch=10.*world size 3"):
        derive(build_config({"batch": 10}), 3)
