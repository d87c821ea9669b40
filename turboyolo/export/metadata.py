"""What makes an exported ONNX file self-describing: the checkpoint's names, spec and run config.

Written as ONNX metadata_props (string key -> string value; JSON for the structured ones), so tools
like Netron show them and `val`/`predict` read an .onnx file as they read a checkpoint:
  names: class names (JSON list), imgsz: the input size it was exported at, stride: the largest
  stride, strides: every level's (JSON list), spec: the model spec (JSON), args: the run config
  val/predict adopt (JSON, see checkpoint_settings.py), precision: fp32 | int8, source: the
  checkpoint it came from.
"""
from __future__ import annotations

import json
from pathlib import Path

from turboyolo.engine.checkpoint import CheckpointError
from turboyolo.export.extra import require

FORMAT_KEY = "turboyolo_format"
FORMAT_VERSION = "1"
_JSON_KEYS = ("names", "strides", "spec", "args")


def write_metadata(model, entries: dict) -> None:
    """Set `entries` (plain values; dicts and lists go in as JSON) on an onnx.ModelProto, replacing any
    earlier turboyolo entries and keeping other tools' ones."""
    _set_props(model, {FORMAT_KEY: FORMAT_VERSION, **{key: _encode(key, v) for key, v in entries.items()}})


def copy_metadata(source, target, **changes) -> None:
    """Give onnx.ModelProto `target` the entries of `source`, with `changes` (plain values) applied."""
    _set_props(target, {**{p.key: p.value for p in source.metadata_props},
                        **{key: _encode(key, v) for key, v in changes.items()}})


def _encode(key: str, value) -> str:
    return json.dumps(value) if key in _JSON_KEYS else str(value)


def _set_props(model, values: dict[str, str]) -> None:
    kept = [(p.key, p.value) for p in model.metadata_props if p.key not in values]
    del model.metadata_props[:]
    for key, value in [*kept, *values.items()]:
        prop = model.metadata_props.add()
        prop.key, prop.value = key, value


def read_metadata(path: str | Path) -> dict:
    """An exported .onnx file -> a checkpoint-like dict: names, strides, spec, args, imgsz, stride, precision,
    source, onnx (its path).

    Raises FileNotFoundError, or a one-line CheckpointError for a file that is not an ONNX model
    turboyolo exported (the runtime needs its names, strides and input size).
    """
    onnx = require("onnx", f"weights={path}")
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"ONNX model not found: {path}")
    try:
        model = onnx.load(str(path), load_external_data=False)
    except Exception as err:  # protobuf raises several types on a damaged or foreign file
        raise CheckpointError(f"{path} cannot be read as an ONNX model ({type(err).__name__}): truncated, or "
                              f"not an ONNX file?") from None
    props = {p.key: p.value for p in model.metadata_props}
    if props.get(FORMAT_KEY) != FORMAT_VERSION:
        raise CheckpointError(f"{path} is an ONNX model without turboyolo's metadata (names, imgsz, strides); "
                              f"give a file that `turboyolo export weights=best.pt` wrote")
    meta = {key: json.loads(props[key]) for key in _JSON_KEYS}
    meta.update(imgsz=int(props["imgsz"]), stride=int(props["stride"]), precision=props["precision"],
                source=props.get("source", ""), onnx=str(path))
    return meta
