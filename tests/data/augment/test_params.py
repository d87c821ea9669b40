"""AugmentParams: every field is the config key of its name, with default.yaml's default."""
from dataclasses import fields

import pytest

from turboyolo.config import build_config, load_schema
from turboyolo.data.augment.params import AugmentParams


def test_the_defaults_are_the_documented_ones():
    schema = load_schema()
    assert AugmentParams() == AugmentParams.from_config(build_config())
    assert all(getattr(AugmentParams(), f.name) == schema[f.name].default for f in fields(AugmentParams))


def test_the_users_values_reach_the_recipe():
    from turboyolo.cli import parse_command

    _, cli_cfg = parse_command("train", ["mosaic=0.25", "fliplr=0"])
    assert AugmentParams.from_config(cli_cfg) == AugmentParams(mosaic=0.25, fliplr=0.0)


def test_a_config_without_a_key_is_an_error_not_the_dataclass_default():
    partial = {k: v for k, v in build_config().items() if k != "hsv_s"}
    with pytest.raises(KeyError, match="hsv_s"):
        AugmentParams.from_config(partial)
