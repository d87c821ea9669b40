"""optimizer=auto picks the optimizer by run length; a learning rate the user typed is kept."""
from turboyolo.engine.optim import AUTO_SGD_MIN_STEPS, resolve_optimizer


def test_auto_picks_its_own_lr_when_none_was_given():
    assert resolve_optimizer("auto", 100, 3, 0.01) == ("adamw", round(0.01 / 7, 6))
    assert resolve_optimizer("auto", AUTO_SGD_MIN_STEPS, 3, 0.01) == ("sgd", 0.01)


def test_auto_keeps_a_given_lr0():
    assert resolve_optimizer("auto", 100, 3, 0.0025, lr0_given=True) == ("adamw", 0.0025)
    assert resolve_optimizer("auto", AUTO_SGD_MIN_STEPS, 3, 0.05, lr0_given=True) == ("sgd", 0.05)
    assert resolve_optimizer("sgd", 100, 3, 0.05) == ("sgd", 0.05)


def test_planned_optimizer_is_what_auto_picks_for_the_run_length():
    from turboyolo.config import build_config
    from turboyolo.engine.optim import planned_optimizer

    short = build_config({"epochs": 25, "batch": 16})  # 200 images: 13 batches/epoch, 4 per step -> 75 steps
    assert planned_optimizer(short, 200, 3) == ("adamw", round(0.01 / 7, 6))
    assert planned_optimizer(build_config({"epochs": 25, "batch": 16, "lr0": 0.003}), 200, 3) == ("adamw", 0.003)
    assert planned_optimizer(build_config({"epochs": 300, "batch": 64}), 200_000, 80)[0] == "sgd"
