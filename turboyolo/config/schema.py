"""The schema of the run configuration, read from the comments of ``default.yaml``.

Keeping the documentation, the default and the accepted range on one line means they cannot drift
apart: the file a user reads is the file the validator enforces.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources

import yaml

_KEY_LINE = re.compile(r"^(?P<key>[a-z_][a-z0-9_]*):\s*(?P<value>[^#]*?)\s*#\s*(?P<comment>.*)$")
_RANGE = re.compile(r"^\[\s*(?P<lo>[-+0-9.eE]+)\s*,\s*(?P<hi>[-+0-9.eE]+)\s*\]\s*(?P<text>.*)$")
_CHOICES = re.compile(r"^\{(?P<choices>[^}]*)\}\s*(?P<text>.*)$")


@dataclass(frozen=True)
class KeySpec:
    """One configuration key: its default, accepted type and range, and its help line."""

    name: str
    default: object
    kind: type | None  # bool, int, float, str, list (of ints); None when the default is null (free string)
    help: str
    low: float | None = None
    high: float | None = None
    choices: tuple[str, ...] | None = None
    section: str = ""

    def describe(self) -> str:
        if self.kind is list:
            within = f" in [{_fmt(self.low)}, {_fmt(self.high)}]" if self.low is not None else ""
            return f"comma list of int{within} (e.g. 0,2)"
        if self.choices:
            accepted = "one of " + ", ".join(self.choices)
        elif self.low is not None:
            accepted = f"{self.kind.__name__} in [{_fmt(self.low)}, {_fmt(self.high)}]"
        elif self.kind is None:
            accepted = "string or null"
        else:
            accepted = self.kind.__name__
        return accepted


def _fmt(x: float) -> str:
    return str(int(x)) if float(x).is_integer() else str(x)


def default_yaml_text() -> str:
    return resources.files("turboyolo.config").joinpath("default.yaml").read_text()


@lru_cache(maxsize=1)
def load_schema() -> dict[str, KeySpec]:
    """Parse default.yaml into {key: KeySpec}, in file order."""
    text = default_yaml_text()
    defaults = yaml.safe_load(text)
    specs: dict[str, KeySpec] = {}
    section = ""
    for line in text.splitlines():
        if line.startswith("# ---"):
            section = line.strip("# -").strip()
            continue
        match = _KEY_LINE.match(line)
        if not match:
            continue
        key, comment = match["key"], match["comment"].strip()
        default = defaults[key]
        kind = None if default is None else type(default)
        low = high = None
        choices = None
        if m := _RANGE.match(comment):
            low, high, comment = float(m["lo"]), float(m["hi"]), m["text"]
        elif m := _CHOICES.match(comment):
            choices = tuple(c.strip() for c in m["choices"].split(","))
            comment = m["text"]
        if kind is None and low is not None:  # a null default with a range is an optional number
            kind = float
        specs[key] = KeySpec(key, default, kind, comment, low, high, choices, section)
    missing = set(defaults) - set(specs)
    if missing:  # a key without a comment is a bug in default.yaml, not in user input
        raise RuntimeError(f"default.yaml keys without a documented line: {sorted(missing)}")
    return specs


def default_of(key: str):
    """The documented default of one key, for a component argument that has a default of its own.

    A component built without the config then behaves as the command line does by default: the
    value is read from default.yaml, never restated (tests/config/test_no_shadow_defaults.py).
    """
    specs = load_schema()
    if key not in specs:
        raise KeyError(f"{key!r} is not a key of turboyolo/config/default.yaml")
    return specs[key].default
