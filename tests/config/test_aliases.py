"""Ultralytics spellings: read as ours where the meaning is the same, pointed to ours where not."""
import pytest

from turboyolo.config import ConfigError, build_config


@pytest.mark.parametrize("given, key, expected", [
    ({"cos_lr": "True"}, "lr_schedule", "cosine"),
    ({"cos_lr": "false"}, "lr_schedule", "linear"),
    ({"cache": "True"}, "cache", "ram"),
    ({"cache": "False"}, "cache", "none"),
    ({"cache": "disk"}, "cache", "disk"),
    ({"half": "True"}, "amp", "fp16"),
    ({"half": "False"}, "amp", "off"),
    ({"amp": "False"}, "amp", "off"),
    ({"amp": "True"}, "amp", "auto"),
    ({"optimizer": "SGD"}, "optimizer", "sgd"),
    ({"optimizer": "AdamW"}, "optimizer", "adamw"),
    ({"batch_size": "32"}, "batch", 32),
    ({"img_size": "320"}, "imgsz", 320),
    ({"pretrained": "runs/train/exp/weights/best.pt"}, "model", "runs/train/exp/weights/best.pt"),
    ({"pretrained": "False"}, "model", "n"),  # from scratch: what model=n already does
    ({"model": "a.pt", "pretrained": "true"}, "model", "a.pt"),  # a checkpoint brings its weights
])
def test_same_meaning_is_read_as_ours(given, key, expected):
    assert build_config(given)[key] == expected


def test_aliases_in_a_cfg_file(tmp_path):
    path = tmp_path / "ultra.yaml"
    path.write_text("cos_lr: true\ncache: false\nhalf: false\n")
    cfg = build_config({"cfg": str(path)})
    assert (cfg.lr_schedule, cfg.cache, cfg.amp) == ("cosine", "none", "off")
    assert {"lr_schedule", "cache", "amp"} <= cfg.given


@pytest.mark.parametrize("given, message", [
    ({"pretrained": "true"}, "ships no pretrained weights: start from a checkpoint with model=PATH.pt"),
    ({"model": "a.pt", "pretrained": "false"}, "a checkpoint always brings its weights"),
    ({"model": "s", "pretrained": "b.pt"}, "give model=b.pt alone"),
    ({"cos_lr": "True", "lr_schedule": "linear"}, "both set lr_schedule; keep one"),
    ({"cos_lr": "maybe"}, "cos_lr='maybe': expected true or false"),
    ({"save_period": "5"}, "unknown key 'save_period': use save_period_steps=N"),
    ({"rect": "True"}, "rect_val=true"),
])
def test_no_equivalent_points_to_ours(given, message):
    with pytest.raises(ConfigError, match=message.replace("(", r"\(").replace(")", r"\)")):
        build_config(given)
