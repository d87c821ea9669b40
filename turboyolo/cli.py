"""`turboyolo MODE key=value ...`: the command line, in the style YOLO users know.

Each mode is a function ``run(cfg, positional) -> exit code`` in its own module, imported only
when used so that `turboyolo help` stays instant. A mode declares the positional words it takes;
any other word is refused, so a mistyped option never leaves a run on the defaults.
"""
from __future__ import annotations

import difflib
import importlib
import sys
from dataclasses import dataclass, field

from turboyolo.config import ConfigError, build_config, load_schema, split_overrides
from turboyolo.config import aliases
from turboyolo.config.loader import key_of
from turboyolo.config.mode_keys import mode_keys
from turboyolo.data.records import DatasetError
from turboyolo.errors import UserError, disk_full_error, is_disk_full

PATH = "PATH"  # in a mode's forms: any one word naming a file or folder


@dataclass(frozen=True)
class Mode:
    entry: str  # "module:function"
    help: str
    # the positional words the mode accepts -> the keys that form takes a comma list for (a sweep)
    forms: dict[tuple[str, ...], tuple[str, ...]] = field(default_factory=lambda: {(): ()})
    raw_keys: bool = False  # takes its own free-form keys instead of the run configuration


MODES: dict[str, Mode] = {
    "train": Mode("turboyolo.engine.train_cli:run", "train a detector (torchrun-aware; device=0,1 or nproc=N spawns workers)"),
    "val": Mode("turboyolo.engine.val_cli:run", "validate a checkpoint: weights=... data=... split=val"),
    "predict": Mode("turboyolo.engine.predict_cli:run", "detect objects: weights=... source=IMAGE|VIDEO|DIR|GLOB|CAMERA|URL"),
    "export": Mode("turboyolo.export.export_cli:run",
                   "format={format} (int8=true: also int8) beside the weights, checked against PyTorch: weights=best.pt"),
    "synth": Mode("turboyolo.data.synth:run", "generate the synthetic dataset: out=DIR n=... imgsz=... nc=..."),
    "check": Mode("turboyolo.data.check:run", "dataset health report: data=... (or a PATH); exit 1 if it cannot be trained on",
                  {(): (), (PATH,): ()}),
    "convert": Mode("turboyolo.data.convert:run", "convert a dataset: data=SRC (or a PATH) to={to} out=DIR",
                    {(): (), (PATH,): ()}),
    "show": Mode("turboyolo.data.show:run", "PNG grid of augmented training samples (`show val`: validation): data=... n=16 out=FILE.png",
                 {(): (), ("val",): ()}),
    "eval-coco": Mode("turboyolo.metrics.eval_coco_cli:run", "COCO metrics table: gt=GT.json pred=DETS.json [--json] [out=FILE.json] (= pycocotools)",
                      {(): (), ("--json",): ()}, raw_keys=True),
    "prune": Mode("turboyolo.compress.prune_cli:run",
                  "remove channels (then fine-tune): weights=best.pt ratio=0.3 method={method} out=pruned.pt"),
    "tune": Mode("turboyolo.tune.tune_cli:run",
                 "hyperparameter search (Optuna): data=... model=n trials=20 epochs=10 [time=HOURS] [space=FILE.yaml]"),
    "bench": Mode("turboyolo.perf.bench_cli:run", "measure: bench [model|hw|scaling [predict]] model=n imgsz=640 batch=16",
                  {(): (), ("model",): (), ("hw",): (), ("scaling",): ("nproc",), ("scaling", "predict"): (),
                   ("train_once",): ()}),  # train_once: one rank of `bench scaling`, started by torchrun
}


def print_help(mode: str | None = None) -> None:
    schema = load_schema()
    if mode is None:
        print("usage: turboyolo MODE key=value ...\n\nmodes:")
        for name in MODES:
            print(f"  {name:<10} {mode_line(name)}")
        print("\n`turboyolo MODE --help` lists the keys MODE reads; `turboyolo help` below lists every key. Keys come from")
        print("turboyolo/config/default.yaml; cfg=FILE.yaml overrides the defaults and key=value overrides both.")
        print(f"Ultralytics spellings are read as ours: {', '.join(aliases.RENAMED)}, pretrained=PATH.pt, "
              "cache=True/False, amp=True/False.")
        keys = list(schema)
    else:
        print(f"usage: turboyolo {mode} key=value ...   ({mode_line(mode)})")
        if MODES[mode].raw_keys:
            module_name = MODES[mode].entry.split(":")[0]
            print_columns(importlib.import_module(module_name).KEY_HELP)
            return
        keys = mode_keys(mode)
    width = max(len(f"{key}={typed(schema[key].default)}") for key in keys)  # one key column for all sections
    section = None
    for key in keys:
        spec = schema[key]
        if spec.section != section:
            section = spec.section
            print(f"\n[{section}]")
        print_columns([(f"{spec.name}={typed(spec.default)}", f"{spec.help}  ({spec.describe()})")], width)


def typed(value) -> str:
    """A default as a user types it on the command line: null, true, false."""
    return "null" if value is None else str(value).lower() if isinstance(value, bool) else str(value)


def print_columns(rows, width: int | None = None) -> None:
    """Two aligned columns; a first column wider than `width` takes its own line, the text under the column."""
    width = width or max(len(left) for left, _ in rows)
    for left, text in rows:
        if len(left) > width:
            print(f"  {left}\n  {'':<{width}}  {text}")
        else:
            print(f"  {left:<{width}}  {text}")


def mode_line(mode: str) -> str:
    """A mode's one-line help; {key} in it is that key's choices from default.yaml (to={to} -> to=yolo|coco|voc)."""
    choices = {key: "|".join(spec.choices) for key, spec in load_schema().items() if spec.choices}
    return MODES[mode].help.format_map(choices)


def match_form(mode: str, words: list[str]) -> tuple[str, ...]:
    """The form of `mode` the positional `words` fill, or a ConfigError saying what was meant."""
    for form in MODES[mode].forms:
        if len(form) == len(words) and all(f == w or (f == PATH and not w.startswith("-")) for f, w in zip(form, words)):
            return form
    raise ConfigError(stray_words_message(mode, words))


def stray_words_message(mode: str, words: list[str]) -> str:
    """`--epochs 3` -> 'did you mean epochs=3?'; other words -> what the mode takes."""
    schema = load_schema()
    keys = set(schema) | aliases.ALIAS_KEYS
    mode_words = {w for form in MODES[mode].forms for w in form}
    for i, word in enumerate(words):
        key = key_of(word)
        if not (word.startswith("-") or (key in keys and word not in mode_words)):
            continue
        value = words[i + 1] if i + 1 < len(words) and not words[i + 1].startswith("-") else None
        if key not in keys:
            close = difflib.get_close_matches(key, keys, n=1, cutoff=0.5)
            if not close:
                return f"'{word}': options are key=value words; see `turboyolo {mode} --help` for the keys"
            key = close[0]
        ours, values = aliases.RENAMED.get(key, (key, None))
        if values is None:
            key = ours  # --img 640 -> imgsz=640: show our spelling when the value means the same
        is_flag = (key in schema and schema[key].kind is bool) or "true" in (values or {})
        shown = value if value is not None else ("true" if is_flag else "VALUE")
        typed = word if value is None else f"{word} {value}"
        return f"'{typed}' is not a key=value word; did you mean {key}={shown}?"
    accepted = [" ".join(form) for form in MODES[mode].forms if form]
    takes = f"takes {' or '.join(accepted)} before its key=value words" if accepted else "takes only key=value words"
    return f"unexpected word{'s' if len(words) > 1 else ''} {' '.join(words)!r}: `turboyolo {mode}` {takes}"


def parse_command(mode: str, rest: list[str]):
    """(positional words, config) for `mode`; ConfigError for stray words, unknown keys and bad values."""
    positional, pairs = split_overrides(rest)
    form = match_form(mode, positional)
    if MODES[mode].raw_keys:
        return positional, pairs
    return positional, build_config(pairs, sweeps=MODES[mode].forms[form])


def user_error_exit(mode: str, err: BaseException) -> int | None:
    """Print an error the user can fix as one line and return the exit code; None for a bug (traceback)."""
    if is_disk_full(err) and not isinstance(err, UserError):
        err = disk_full_error(err, None)  # a write other than a checkpoint: the OS error may name the file
    if not isinstance(err, (UserError, DatasetError, FileNotFoundError)):
        return None
    print(f"turboyolo {mode}: {' '.join(str(err).split())}", file=sys.stderr)  # one line whatever the message
    return getattr(err, "exit_code", 1)


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0] in {"help", "-h", "--help"}:
        print_help(argv[1] if len(argv) > 1 and argv[1] in MODES else None)
        return 0
    mode, rest = argv[0], argv[1:]
    if mode not in MODES:
        close = difflib.get_close_matches(mode, MODES, n=2)
        hint = f" (did you mean {' or '.join(close)}?)" if close else ""
        print(f"turboyolo: unknown mode '{mode}'{hint}; modes: {', '.join(MODES)}", file=sys.stderr)
        return 2
    if any(word in {"-h", "--help", "help"} for word in rest):
        print_help(mode)
        return 0
    try:
        positional, cfg = parse_command(mode, rest)
        module_name, func_name = MODES[mode].entry.split(":")
        func = getattr(importlib.import_module(module_name), func_name)
        return int(func(cfg, positional) or 0)
    except KeyboardInterrupt:
        print(f"turboyolo {mode}: interrupted", file=sys.stderr)
        return 130
    except Exception as err:
        code = user_error_exit(mode, err)
        if code is None:
            raise
        return code


if __name__ == "__main__":
    sys.exit(main())
