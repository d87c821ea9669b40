"""The search space of `turboyolo tune`: which training keys a trial samples, and from what range.

A parameter is a training key of default.yaml with either a range (`low`, `high`, optional `log`)
or a list of `choices`. The default space covers what matters for short YOLO schedules; a YAML file
(`space=FILE.yaml`) changes it:

    base: default          # or `empty`: only the parameters below
    params:
      lr0: {low: 0.0005, high: 0.005, log: true}
      batch: {choices: [8, 16, 32]}
      mixup: null          # not tuned (keeps its configured value)

Every entry is checked against the training schema (the key exists, the range lies inside the
key's own range, each choice is a valid value), so a typo is a one-line error, not a wasted study.
"""
from __future__ import annotations

import difflib
from dataclasses import dataclass
from pathlib import Path

import yaml

from turboyolo.config import ConfigError, load_schema
from turboyolo.config.loader import parse_value


@dataclass(frozen=True)
class Param:
    """One tuned key: a float/int range (log-uniform when `log`) or a set of choices."""

    key: str
    low: float | None = None
    high: float | None = None
    log: bool = False
    choices: tuple | None = None

    def describe(self) -> str:
        if self.choices is not None:
            return f"{self.key} in {list(self.choices)}"
        return f"{self.key} in [{self.low:g}, {self.high:g}]{' (log)' if self.log else ''}"


# Ranges around the defaults that short schedules reward trying; the box/cls/dfl gains on a log scale
# as they act multiplicatively on the loss terms.
DEFAULT_SPACE = {
    "lr0": {"low": 2e-4, "high": 2e-2, "log": True},
    "lrf": {"low": 0.01, "high": 0.5, "log": True},
    "momentum": {"low": 0.7, "high": 0.98},
    "weight_decay": {"low": 1e-5, "high": 1e-3, "log": True},
    "warmup_epochs": {"low": 0.0, "high": 5.0},
    "box": {"low": 2.0, "high": 15.0, "log": True},
    "cls": {"low": 0.2, "high": 4.0, "log": True},
    "dfl": {"low": 0.5, "high": 3.0, "log": True},
    "mosaic": {"low": 0.0, "high": 1.0},
    "mixup": {"low": 0.0, "high": 0.5},
    "scale": {"low": 0.0, "high": 0.9},
    "translate": {"low": 0.0, "high": 0.3},
    "hsv_h": {"low": 0.0, "high": 0.05},
    "hsv_s": {"low": 0.0, "high": 0.9},
    "hsv_v": {"low": 0.0, "high": 0.9},
    "fliplr": {"low": 0.0, "high": 1.0},
}


def _param(key: str, entry: object, origin: str) -> Param:
    schema = load_schema()
    if key not in schema:
        close = difflib.get_close_matches(key, schema, n=1)
        hint = f" (did you mean {close[0]}?)" if close else ""
        raise ConfigError(f"{origin}: {key} is not a training key{hint}")
    spec = schema[key]
    if not isinstance(entry, dict) or not ({"choices"} <= set(entry) or {"low", "high"} <= set(entry)):
        raise ConfigError(f"{origin}: {key} needs {{low: .., high: ..}} (optional log: true) or {{choices: [..]}}")
    unknown = set(entry) - {"low", "high", "log", "choices"}
    if unknown:
        raise ConfigError(f"{origin}: {key} has unknown field(s) {sorted(unknown)}; use low, high, log or choices")
    if "choices" in entry:
        choices = entry["choices"]
        if not isinstance(choices, list) or not choices:
            raise ConfigError(f"{origin}: {key}.choices must be a non-empty list")
        return Param(key, choices=tuple(parse_value(spec, c, f"{origin} ({key}.choices)") for c in choices))
    if spec.kind not in (int, float):
        raise ConfigError(f"{origin}: {key} is not numeric; give it choices: [..] instead of low/high")
    low, high = (parse_value(spec, entry[b], f"{origin} ({key}.{b})") for b in ("low", "high"))
    log = bool(entry.get("log", False))
    if not low < high:
        raise ConfigError(f"{origin}: {key}: low ({low}) must be below high ({high})")
    if log and low <= 0:
        raise ConfigError(f"{origin}: {key}: a log range needs low > 0 (got {low})")
    return Param(key, float(low) if spec.kind is float else int(low), float(high) if spec.kind is float else int(high), log)


def load_space(space: str) -> list[Param]:
    """`space`: "default", or a YAML file as described above -> the tuned parameters, validated."""
    if space == "default":
        return [_param(k, v, "default space") for k, v in DEFAULT_SPACE.items()]
    path = Path(space)
    if not path.is_file():
        raise ConfigError(f"space={space}: file not found; give `default` or a YAML file (see `turboyolo tune --help`)")
    try:
        doc = yaml.safe_load(path.read_text())
    except yaml.YAMLError as err:
        raise ConfigError(f"space={space}: not valid YAML ({str(err).splitlines()[0]})") from None
    if not isinstance(doc, dict) or not set(doc) <= {"base", "params"}:
        raise ConfigError(f"space={space}: expected `base: default|empty` and `params:` (a mapping of key: range)")
    base = doc.get("base", "default")
    if base not in ("default", "empty"):
        raise ConfigError(f"space={space}: base must be default or empty (got {base!r})")
    entries = dict(DEFAULT_SPACE) if base == "default" else {}
    params = doc.get("params") or {}
    if not isinstance(params, dict):
        raise ConfigError(f"space={space}: params must be a mapping of key: {{low, high}} or {{choices}}")
    for key, entry in params.items():
        if entry is None:
            if key not in entries:
                raise ConfigError(f"space={space}: {key}: null removes a key of the default space, "
                                  f"and {key} is not in it")
            entries.pop(key)
        else:
            entries[key] = entry
    if not entries:
        raise ConfigError(f"space={space}: no parameter left to tune")
    return [_param(k, v, f"space={space}") for k, v in entries.items()]


def suggest(trial, params: list[Param]) -> dict:
    """Draw one value per parameter from an Optuna trial -> {key: value}."""
    values = {}
    for p in params:
        if p.choices is not None:
            values[p.key] = trial.suggest_categorical(p.key, list(p.choices))
        elif isinstance(p.low, int) and isinstance(p.high, int):
            values[p.key] = trial.suggest_int(p.key, p.low, p.high, log=p.log)
        else:
            values[p.key] = trial.suggest_float(p.key, p.low, p.high, log=p.log)
    return values


def configured_values(params: list[Param], cfg, resolved: dict | None = None) -> dict:
    """The values `cfg` (defaults, cfg= file, command line) gives the tuned keys, each clamped into its range;
    `resolved` holds values the trainer would pick itself (optimizer=auto's lr0). A key whose value is not one
    of its choices is left out (the sampler draws it). The study's first trial trains these, so every study
    measures how far tuning moved from the configuration it started at."""
    values = {}
    for p in params:
        value = (resolved or {}).get(p.key, cfg[p.key])
        if p.choices is not None:
            if value in p.choices:
                values[p.key] = value
        else:
            values[p.key] = min(max(value, p.low), p.high)
    return values
