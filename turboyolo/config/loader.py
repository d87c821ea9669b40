"""Build a validated run configuration: defaults < cfg=FILE.yaml < key=value overrides."""
from __future__ import annotations

import difflib
from pathlib import Path

import yaml

from turboyolo.config import aliases
from turboyolo.config.schema import KeySpec, load_schema
from turboyolo.errors import UserError


class ConfigError(UserError, ValueError):
    """A configuration value a user gave is unknown, mistyped or out of range."""

    exit_code = 2  # a usage error, like an unknown mode


class Config(dict):
    """A plain, picklable dict with attribute access (so it crosses process spawns intact).

    `given` holds the keys a user set (cfg file or command line): a checkpoint's saved values fill
    every other key for val, predict and resume (see `adopt_saved`).
    """

    given: frozenset = frozenset()

    def __getattr__(self, key):
        try:
            return self[key]
        except KeyError:
            raise AttributeError(key) from None

    def __setattr__(self, key, value):
        self[key] = value

    def __getstate__(self):
        return {"items": dict(self), "given": sorted(self.given)}

    def __setstate__(self, state):
        if "items" in state and "given" in state:
            self.update(state["items"])
            object.__setattr__(self, "given", frozenset(state["given"]))
        else:  # an older pickle: items only
            self.update(state)

    def mark_given(self, keys) -> None:
        object.__setattr__(self, "given", frozenset(self.given) | frozenset(keys))


_TRUE = {"true", "1", "yes", "on"}
_FALSE = {"false", "0", "no", "off"}
_NULL = {"null", "none", "~", ""}


def _parse_scalar(spec: KeySpec, raw: object, origin: str):
    """Convert one raw value (a CLI string or a YAML scalar) to the key's type and check it."""
    if isinstance(raw, str):
        text = raw.strip()
        if text.lower() in _NULL and (spec.kind is not str or spec.default is None):
            return None if spec.default is None else _bad(spec, raw, origin)
        if spec.kind is bool:
            if text.lower() in _TRUE:
                return True
            if text.lower() in _FALSE:
                return False
            return _bad(spec, raw, origin)
        if spec.kind in (int, float):
            try:
                value = float(text) if spec.kind is float else int(float(text))
                if spec.kind is int and float(text) != int(float(text)):
                    return _bad(spec, raw, origin)
            except ValueError:
                return _bad(spec, raw, origin)
        else:
            value = text
    else:
        value = raw
        if value is None:
            if spec.default is None:
                return None
            return _bad(spec, raw, origin)
        if spec.kind is float and isinstance(value, int) and not isinstance(value, bool):
            value = float(value)
        if spec.kind is not None and not isinstance(value, spec.kind):
            return _bad(spec, raw, origin)
        if spec.kind in (int, float) and isinstance(value, bool):
            return _bad(spec, raw, origin)
        if spec.kind is None:
            value = str(value)
    if spec.low is not None and not (spec.low <= value <= spec.high):
        return _bad(spec, raw, origin)
    if spec.choices and str(value) not in spec.choices:
        if str(value).lower() not in spec.choices:  # optimizer=SGD, amp=BF16 mean ours
            return _bad(spec, raw, origin)
        value = str(value).lower()
    return value


def _bad(spec: KeySpec, raw: object, origin: str):
    raise ConfigError(f"{origin}: {spec.name}={raw!r} is not valid: expected {spec.describe()} ({spec.help})")


def _parse_int_list(spec: KeySpec, raw: object, origin: str) -> list[int]:
    """A list key (default a list): `0,2`, `[0, 2]`, a YAML list, one int, or empty/null for []."""
    if raw is None:
        return []
    if isinstance(raw, str):
        items = [item for item in raw.strip().strip("[]").split(",") if item.strip()]
    elif isinstance(raw, (list, tuple)):
        items = list(raw)
    else:
        items = [raw]
    item_spec = KeySpec(spec.name, 0, int, spec.help, spec.low, spec.high)
    try:
        return [_parse_scalar(item_spec, item, origin) for item in items]
    except ConfigError:
        return _bad(spec, raw, origin)


def parse_value(spec: KeySpec, raw: object, origin: str = "argument", sweep: bool = False):
    """One checked value; with `sweep` a numeric key also takes a comma list (``nproc=1,2``), each item checked."""
    if spec.kind is list:
        return _parse_int_list(spec, raw, origin)
    is_list = isinstance(raw, (list, tuple)) or (isinstance(raw, str) and "," in raw and spec.kind in (int, float))
    if not is_list:
        return _parse_scalar(spec, raw, origin)
    if not (sweep and spec.kind in (int, float)):
        raise ConfigError(f"{origin}: {spec.name}={raw!r} is a list, but {spec.name} takes one value "
                          f"({spec.describe()}); comma lists are only for sweeps such as `bench scaling nproc=1,2`")
    items = raw.split(",") if isinstance(raw, str) else raw
    return [_parse_scalar(spec, item, origin) for item in items if str(item).strip()]


def unknown_key_error(key: str, origin: str) -> ConfigError:
    if key in aliases.ELSEWHERE:
        return ConfigError(f"{origin}: unknown key '{key}': {aliases.ELSEWHERE[key]}")
    close = difflib.get_close_matches(key, load_schema().keys(), n=3, cutoff=0.5)
    hint = f"; did you mean {', '.join(close)}?" if close else "; see `turboyolo help` for all keys"
    return ConfigError(f"{origin}: unknown key '{key}'{hint}")


def key_of(word: str) -> str:
    """The key a user meant by a word: `--cos-lr` and `cos_lr` are both cos_lr."""
    return word.strip().lstrip("-").replace("-", "_")


def split_overrides(args: list[str]) -> tuple[list[str], dict[str, str]]:
    """Split CLI words into positional words and key=value pairs."""
    positional, pairs = [], {}
    for word in args:
        if "=" in word:
            key, value = word.split("=", 1)
            pairs[key_of(key)] = value
        else:
            positional.append(word)
    return positional, pairs


def _read_cfg_file(cfg_file: object) -> dict:
    """The `key: value` mapping of a cfg= YAML file; a one-line ConfigError when it cannot be one."""
    path = Path(str(cfg_file))
    if not path.is_file():
        raise ConfigError(f"cfg={cfg_file}: file not found")
    try:
        file_values = yaml.safe_load(path.read_text()) or {}
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(err, "problem", None) or str(err).splitlines()[0]
        raise ConfigError(f"cfg={cfg_file}: not valid YAML{where} ({problem}); fix the file "
                          "(one `key: value` per line)") from None
    except UnicodeDecodeError:
        raise ConfigError(f"cfg={cfg_file}: not a text file; give a YAML file of `key: value` lines") from None
    if not isinstance(file_values, dict):
        raise ConfigError(f"cfg={cfg_file}: expected a mapping of `key: value` lines")
    return file_values


def _apply(cfg: Config, values: dict, origin: str, sweeps: frozenset) -> set[str]:
    """Validate `values` (Ultralytics spellings read as ours) into `cfg`; returns the keys set."""
    schema = load_schema()
    try:
        values = aliases.translate(values, cfg["model"])
    except aliases.AliasError as err:
        raise ConfigError(f"{origin}: {err}") from None
    for key, value in values.items():
        if key not in schema:
            raise unknown_key_error(key, origin)
        cfg[key] = parse_value(schema[key], value, origin, sweep=key in sweeps)
    return set(values)


def build_config(overrides: dict[str, object] | None = None, *, sweeps: frozenset | set = frozenset(),
                 **kwargs) -> Config:
    """Defaults, then ``cfg=`` file, then overrides; every value validated once, here.

    sweeps: the keys that may take a comma list of values (a mode that sweeps them, e.g.
    `bench scaling nproc=1,2`); every other key takes one value.
    """
    schema = load_schema()
    overrides = dict(overrides or {}, **kwargs)
    cfg = Config({k: list(s.default) if s.kind is list else s.default for k, s in schema.items()})
    sweeps = frozenset(sweeps)
    given: set[str] = set()
    cfg_file = overrides.pop("cfg", None)
    if cfg_file:
        given |= _apply(cfg, _read_cfg_file(cfg_file), str(cfg_file), sweeps)
    given |= _apply(cfg, overrides, "argument", sweeps)
    cfg.mark_given(given)
    return cfg


def adopt_saved(cfg: Config, saved: dict, keys=None, origin: str = "checkpoint") -> dict[str, tuple]:
    """Fill `keys` (default: every schema key) from a checkpoint's saved config where the user gave none.

    Saved values go through the same validation as the command line (a key the schema no longer knows is
    skipped). Returns {key: (saved value, user's value)} for the keys the user set to something else.
    """
    schema = load_schema()
    overridden = {}
    for key in (schema if keys is None else keys):
        if key not in saved or key not in schema:
            continue
        value = parse_value(schema[key], saved[key], origin)
        if key in cfg.given:
            if cfg[key] != value:
                overridden[key] = (value, cfg[key])
        else:
            cfg[key] = value
    return overridden


def save_config(cfg: Config, path: str | Path) -> None:
    Path(path).write_text(yaml.safe_dump(dict(cfg), sort_keys=False))
