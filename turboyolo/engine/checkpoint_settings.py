"""What `val` and `predict` take from a checkpoint's saved run config when the user does not set it.

A model is only scored as it was trained when it sees images shaped the same way: the size, the
dataset, the rect/square letterbox, the precision and memory format it ran in, and the NMS settings
of its in-training validation. These come from the checkpoint's `args` unless given on the command
line (or a cfg file); one line says what was taken.
"""
from __future__ import annotations

from pathlib import Path

from turboyolo.config import Config, ConfigError, adopt_saved, build_config

# `val weights=best.pt` alone reproduces the checkpoint's in-training validation with these.
VAL_KEYS = ("data", "imgsz", "rect_val", "difficult", "amp", "channels_last", "conf", "iou", "max_det", "agnostic_nms")
# predict keeps its own thresholds (conf defaults to 0.25 there); the input is shaped as in training.
PREDICT_KEYS = ("imgsz", "amp", "channels_last")
# export: the graph's input size, and the dataset its check and int8 calibration images come from.
EXPORT_KEYS = ("data", "imgsz", "difficult")
# Keys that name files or folders: a checkpoint saves them absolute, so its config means the same
# from any working folder (`val weights=...` anywhere). Older checkpoints' relative data is resolved
# by resolve_saved_data.
PATH_KEYS = ("data", "model", "project", "cache_dir", "teacher", "weights", "source", "out", "resume")


def absolute_paths(args: dict) -> dict:
    """`args` with each PATH_KEYS value that names an existing file or folder from here made absolute
    (data=synthetic, model=n and the like stay as they are)."""
    out = dict(args)
    for key in PATH_KEYS:
        value = out.get(key)
        path = Path(value).expanduser() if isinstance(value, str) and value else None
        if path is not None and not path.is_absolute() and path.exists():
            out[key] = str(path.absolute())
    return out


def training_folder(weights: str | Path, saved_project: str | None) -> Path | None:
    """The working folder the training ran in, read off <cwd>/<project>/<name>/weights/<file>.pt;
    None when the checkpoint no longer sits where training wrote it (or project was absolute)."""
    weights = Path(weights).absolute()
    if not saved_project or Path(saved_project).is_absolute() or weights.parent.name != "weights":
        return None
    project_parts = [p for p in Path(saved_project).parts if p != "."]
    project_dir = weights.parent.parent.parent
    if ".." in project_parts or list(project_dir.parts[len(project_dir.parts) - len(project_parts):]) != project_parts:
        return None
    return Path(*project_dir.parts[: len(project_dir.parts) - len(project_parts)])


def resolve_saved_data(saved_data: str, weights: str | Path, saved_project: str | None) -> str:
    """A data path from a checkpoint, made usable from here.

    A relative path was relative to the folder training ran in: try that folder first, then the
    current one. Raises ConfigError when neither holds it (the user then passes data=).
    """
    path = Path(saved_data).expanduser()
    if saved_data == "synthetic" or path.is_absolute():
        return saved_data
    trained_in = training_folder(weights, saved_project)
    for base in ([trained_in] if trained_in else []) + [Path.cwd()]:
        if (base / path).exists():
            return str((base / path).absolute())
    where = f"{trained_in} (where training ran) or here" if trained_in else "here"
    raise ConfigError(f"data={saved_data} (from the checkpoint {weights}) is not found from {where}; "
                      f"pass data=PATH")


def trained_settings(ckpt: dict, keys: tuple[str, ...], origin: str = "checkpoint") -> Config:
    """A Config holding `keys` as the checkpoint's training ran them (validated as the command line
    is); keys missing from an older checkpoint's args hold their documented default."""
    trained_cfg = build_config()
    adopt_saved(trained_cfg, dict(ckpt.get("args") or {}), keys=keys, origin=origin)
    return trained_cfg


def carried_args(ckpt: dict, weights: str | Path, **changes) -> dict:
    """The saved run config a model derived from this checkpoint carries (a pruned checkpoint, an
    exported file), with `changes` applied. data is made absolute when it can be found, so the derived
    file validates from anywhere; when it cannot, it stays as saved and `val` asks for data=."""
    args = dict(ckpt.get("args") or {})
    args.update(changes)
    if args.get("data"):
        try:
            args["data"] = resolve_saved_data(str(args["data"]), weights, args.get("project"))
        except ConfigError:
            pass
    return args


def adopt_checkpoint_settings(cfg, ckpt: dict, keys: tuple[str, ...], weights: str | Path) -> str:
    """Fill `keys` the user did not set from ckpt["args"]; returns the line that reports it.

    The line names the keys whose value the checkpoint changed, and the user's keys that differ from
    the checkpoint's. Keys missing from an older checkpoint's args keep their default.
    """
    saved = dict(ckpt.get("args") or {})
    if "data" in keys and "data" in saved and "data" not in cfg.given:
        saved["data"] = resolve_saved_data(str(saved["data"]), weights, saved.get("project"))
    before = {key: cfg[key] for key in keys}
    overridden = adopt_saved(cfg, saved, keys=keys, origin=f"checkpoint {weights}")
    changed = [f"{key}={cfg[key]}" for key in keys if cfg[key] != before[key]]
    line = f"from the checkpoint: {', '.join(changed) or 'nothing (its settings are the defaults)'}"
    if overridden:
        line += "; yours: " + ", ".join(f"{key}={user} (trained with {saved_value})"
                                        for key, (saved_value, user) in overridden.items())
    return line
