"""Model specs: load a model YAML (or dict) and resolve it into a concrete plan of layers.

A spec is plain data (see turboyolo/model/specs/yolo.yaml for the format), so it can be stored in
a checkpoint and a model rebuilt from it. `load_spec` returns the normalised dict that ends up in
`DetectionModel.spec`; `plan_layers` turns it into LayerPlan entries with absolute source indices,
scaled channels and repeats, and the stride of every layer (no dummy forward pass needed).
"""
from __future__ import annotations

import copy
import math
from dataclasses import dataclass
from pathlib import Path

import yaml

from turboyolo.errors import UserError
from turboyolo.model.blocks import BLOCKS

SPECS_DIR = Path(__file__).parent / "specs"
DEFAULT_FAMILY = "yolo.yaml"

# blocks whose first arg is an output channel count (scaled by width); others keep channels
CHANNEL_SETTING_BLOCKS = {"Conv", "Bottleneck", "C2f", "SPPF"}
# blocks that take `repeats` as their own argument instead of being stacked
INTERNAL_REPEAT_BLOCKS = {"C2f"}


class SpecError(UserError, ValueError):
    """A model spec is malformed or missing; the message says which layer or file and why."""


@dataclass
class LayerPlan:
    """One resolved layer: build `BLOCKS[block](*args)` (repeated `copies` times) fed by `sources`."""

    index: int
    sources: list[int]  # absolute indices of input layers; -1 only for layer 0 = the image
    block: str
    args: list  # full constructor args, starting with c_in, c_out
    copies: int  # stacked copies (1 for blocks with internal repeats)
    c_out: int
    stride: int  # total downsampling of this layer's output w.r.t. the input image


def load_spec(spec: str | Path | dict) -> dict:
    """Spec name ("n".."x"), path to a model YAML, or dict -> normalised spec dict (a deep copy).

    A scale letter selects that scale of the packaged yolo.yaml. A YAML with a `scales:` table must
    also say which one to use with `scale:`, unless it is passed as "path.yaml" with a `scale` key
    already inside; a spec without `scales` is used at depth = width = 1.
    """
    if isinstance(spec, dict):
        data, where = copy.deepcopy(spec), "model spec"
    else:
        text, where = str(spec), f"model={spec}"
        default_family = yaml.safe_load((SPECS_DIR / DEFAULT_FAMILY).read_text())
        if text in default_family["scales"]:
            data = default_family
            data["scale"] = text
        else:
            data = _read_spec_file(text, where, default_family["scales"])
    for key in ("layers", "detect"):
        if key not in data:
            raise SpecError(f"{where} lacks the {key!r} key (see turboyolo/model/specs/{DEFAULT_FAMILY} for the format)")
    data.setdefault("reg_max", 16)
    scales = data.get("scales")
    if scales:
        if data.get("scale") not in scales:
            raise SpecError(f"{where} has scales {list(scales)} but scale={data.get('scale')!r}; pick one")
    return data


def _read_spec_file(text: str, where: str, scales) -> dict:
    """A model YAML given by path (or by name inside the packaged specs folder) -> its mapping."""
    fix = f"give a scale ({', '.join(scales)}) or a model YAML path (format: turboyolo/model/specs/{DEFAULT_FAMILY})"
    path = Path(text)
    if not path.is_file() and (SPECS_DIR / text).is_file():
        path = SPECS_DIR / text
    if not path.is_file():
        what = "no such file" if path.suffix in (".yaml", ".yml") else "neither a scale nor a model YAML file"
        raise SpecError(f"{where}: {what}; {fix}")
    if path.suffix in (".pt", ".pth"):
        raise SpecError(f"{where} is a checkpoint, not a model spec: load it with load_checkpoint and pass its 'spec'")
    try:
        data = yaml.safe_load(path.read_text())
    except (yaml.YAMLError, UnicodeDecodeError):
        raise SpecError(f"{where}: not a readable YAML file; fix it or {fix}") from None
    if not isinstance(data, dict):
        raise SpecError(f"{where}: expected a mapping of layers, detect, ... at the top level; {fix}")
    return data


def scale_factors(spec: dict) -> tuple[float, float, float]:
    """-> (depth, width, max_channels) of the selected scale; (1, 1, inf) without a scales table."""
    scales = spec.get("scales")
    if not scales:
        return 1.0, 1.0, math.inf
    depth, width, max_channels = scales[spec["scale"]]
    return float(depth), float(width), float(max_channels)


def scaled_channels(channels: int, width: float, max_channels: float) -> int:
    """Width-scale a channel count: cap at max_channels, multiply, round up to a multiple of 8."""
    return int(math.ceil(min(channels, max_channels) * width / 8) * 8)


def scaled_repeats(repeats: int, depth: float) -> int:
    return max(round(repeats * depth), 1) if repeats > 1 else repeats


def plan_layers(spec: dict, in_channels: int = 3) -> list[LayerPlan]:
    """Resolve every layer of a normalised spec into a LayerPlan (see module docstring)."""
    depth, width, max_channels = scale_factors(spec)
    plans: list[LayerPlan] = []
    for index, line in enumerate(spec["layers"]):
        where = f"layer {index} {line!r}"
        if not (isinstance(line, (list, tuple)) and len(line) == 4):
            raise SpecError(f"{where}: expected [from, repeats, block, args]")
        source, repeats, block, args = line
        if block not in BLOCKS:
            raise SpecError(f"{where}: unknown block {block!r} (known: {', '.join(BLOCKS)})")
        sources = [source] if isinstance(source, int) else list(source)
        sources = [s if s >= 0 else index + s for s in sources]
        if index == 0:
            if sources != [-1]:
                raise SpecError(f"{where}: the first layer must read the image (from = -1)")
            c_ins, strides = [in_channels], [1]
        else:
            if any(not 0 <= s < index for s in sources):
                raise SpecError(f"{where}: `from` must point to earlier layers")
            c_ins = [plans[s].c_out for s in sources]
            strides = [plans[s].stride for s in sources]
        args = list(args or [])
        copies = 1 if block in INTERNAL_REPEAT_BLOCKS else scaled_repeats(int(repeats), depth)

        if block == "Concat":
            if len(set(strides)) != 1:
                raise SpecError(f"{where}: inputs have different strides {strides}")
            c_in, c_out, stride = sum(c_ins), sum(c_ins), strides[0]
            full_args = [c_in, c_out]
        else:
            if len(sources) != 1:
                raise SpecError(f"{where}: {block} takes one input")
            c_in, stride = c_ins[0], strides[0]
            if block == "Upsample":
                factor = int(args[0]) if args else 2
                if stride % factor:
                    raise SpecError(f"{where}: cannot upsample stride {stride} by {factor}")
                c_out, stride = c_in, stride // factor
                full_args = [c_in, c_out, factor]
            elif block in CHANNEL_SETTING_BLOCKS:
                if not args:
                    raise SpecError(f"{where}: first arg must be the output channels")
                c_out = scaled_channels(int(args[0]), width, max_channels)
                rest = args[1:]
                if block in INTERNAL_REPEAT_BLOCKS:
                    rest = [scaled_repeats(int(repeats), depth), *rest]
                if block == "Conv":  # every stacked copy applies the stride
                    stride *= (int(rest[1]) if len(rest) > 1 else 1) ** copies
                full_args = [c_in, c_out, *rest]
            else:
                c_out = c_in
                full_args = [c_in, c_out, *args]
        plans.append(LayerPlan(index, sources, block, full_args, copies, c_out, stride))

    for d in spec["detect"]:
        if not 0 <= d < len(plans):
            raise SpecError(f"detect layer {d} does not exist")
    return plans
