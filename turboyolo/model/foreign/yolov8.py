"""Ultralytics YOLOv8 detection checkpoints (yolov8n.pt .. yolov8x.pt) onto our detector of the same scale.

Their layout (ultralytics/cfg/models/v8/yolov8.yaml) is our specs/yolo.yaml: `model.model` is a
Sequential whose layers 0..21 are ours one for one (Conv, C2f, SPPF, Upsample, Concat, same
inputs `f`, same widths and depths per scale), and whose layer 22, Detect, is our head. Inside a
layer the submodule names are ours too (conv/bn/act, cv1/cv2/m), except in the head:
  Detect.cv2.<level>      -> head.box_towers.<level>  (box distance logits, 4 * reg_max per cell)
  Detect.cv3.<level>      -> head.cls_towers.<level>  (class logits)
  Detect.dfl.conv.weight     the fixed bins 0 .. reg_max-1, which our head computes instead
So every tensor of ours has exactly one counterpart of the same shape (parameter counts: theirs =
ours + 16, the DFL bins). Files of other layouts (YOLO11's C3k2, fused or segmentation models) are
refused with a line that names the first layer or tensor that differs.
"""
from __future__ import annotations

from pathlib import Path

import torch

from turboyolo.errors import UserError
from turboyolo.model.build import build_model
from turboyolo.model.foreign.restricted_pickle import PickledObject, load_restricted, pickled_global_names
from turboyolo.model.spec import load_spec, plan_layers

FOREIGN_PACKAGE = "ultralytics."
HEAD_RENAMES = {"cv2.": "head.box_towers.", "cv3.": "head.cls_towers."}  # their Detect -> our head
DFL_BINS = "dfl.conv.weight"
COMPUTED_HERE = {"head.strides"}  # our buffers the file has no tensor for (strides follow from the spec)
IMPORTABLE = "only YOLOv8 detection checkpoints (yolov8n.pt .. yolov8x.pt and fine-tunes of them) import"


class ForeignCheckpointError(UserError, ValueError):
    """A foreign checkpoint whose layout is not one of ours; the message names what differs."""


def is_yolov8_checkpoint(path: str | Path) -> bool:
    """Does `path` pickle Ultralytics classes? Reads the names only, runs nothing."""
    return any(name.startswith(FOREIGN_PACKAGE) for name in pickled_global_names(path))


def import_yolov8_checkpoint(path: str | Path) -> dict:
    """The file's weights as a turboyolo checkpoint dict: {"model": our state_dict (fp32), "spec": our
    spec of the matching scale, "names": class names, "args": {"imgsz": as trained} when the file says,
    "imported": one-line summary}."""
    path = Path(path)
    raw = load_restricted(path)
    tree = _detection_model(raw, path)
    layers = _layers(tree, path)
    scale = _matching_scale(layers, path)
    spec = load_spec(scale)
    _check_layer_types(layers, spec, path)
    source = _translated_tensors(layers, path)
    num_classes = int(source["head.cls_towers.0.2.weight"].shape[0])
    expected = build_model(spec, num_classes).state_dict()
    state = _checked_state(source, expected, f"{path.name} (YOLOv8{scale})")
    names = _class_names(tree, num_classes)
    weights = len(expected) - len(COMPUTED_HERE)  # all of them matched: _checked_state raises otherwise
    summary = (f"imported {path.name} (Ultralytics YOLOv8{scale}{_version(raw)}, {num_classes} classes): "
               f"{weights}/{weights} of our weight tensors matched by layer and shape, from the file's "
               f"{len(source) + 1} (its DFL bins are the fixed 0..{spec['reg_max'] - 1} our head computes)")
    return {"model": state, "spec": spec, "names": names, "args": _trained_args(raw), "imported": summary}


def _trained_args(raw: dict) -> dict:
    """The run settings val/predict adopt (checkpoint_settings.py): the image size it was trained at."""
    train_args = raw.get("train_args")
    imgsz = train_args.get("imgsz") if isinstance(train_args, dict) else None
    return {"imgsz": imgsz} if isinstance(imgsz, int) and not isinstance(imgsz, bool) else {}


def _version(raw: dict) -> str:
    version = raw.get("version")
    return f" {version}" if isinstance(version, str) else ""


def _detection_model(raw, path: Path) -> PickledObject:
    """The file's DetectionModel (its EMA weights when the file kept them, as their own loader does)."""
    if not isinstance(raw, dict):
        raise ForeignCheckpointError(f"{path}: holds a {type(raw).__name__}, not a checkpoint dict; {IMPORTABLE}")
    tree = raw.get("ema") or raw.get("model")
    if not isinstance(tree, PickledObject):
        raise ForeignCheckpointError(f"{path}: no model object under 'model' or 'ema'; {IMPORTABLE}")
    if tree.class_name != "DetectionModel":
        raise ForeignCheckpointError(f"{path}: holds a {tree.class_name}, not a DetectionModel; {IMPORTABLE}")
    return tree


def _layers(tree: PickledObject, path: Path) -> list[PickledObject]:
    """Layers 0..22 of the DetectionModel: 0..21 backbone and neck, 22 the Detect head."""
    sequential = tree.children().get("model")
    if not isinstance(sequential, PickledObject):
        raise ForeignCheckpointError(f"{path}: its DetectionModel has no layer list; {IMPORTABLE}")
    layers = list(sequential.children().values())
    if not layers or not all(isinstance(layer, PickledObject) for layer in layers):
        raise ForeignCheckpointError(f"{path}: its layer list holds no layers; {IMPORTABLE}")
    return layers


def _conv_width(layer: PickledObject) -> int | None:
    weight = layer.named_tensors().get("conv.weight")
    return None if weight is None else int(weight.shape[0])


def _matching_scale(layers: list[PickledObject], path: Path) -> str:
    """Our scale whose stem width (layer 0) and C2f depth (layer 2) the file has."""
    stem = _conv_width(layers[0])
    bottlenecks = len(layers[2].children().get("m", PickledObject()).children()) if len(layers) > 2 else None
    scales = load_spec("n")["scales"]
    for scale in scales:
        plans = plan_layers(load_spec(scale))
        if plans[0].c_out == stem and plans[2].block == "C2f" and plans[2].args[2] == bottlenecks:
            return scale
    raise ForeignCheckpointError(
        f"{path}: its first conv has {stem} channels and layer 2 {bottlenecks} bottlenecks, which none of "
        f"our scales {', '.join(scales)} has; {IMPORTABLE}")


def _check_layer_types(layers: list[PickledObject], spec: dict, path: Path) -> None:
    """Same block and same inputs at every position; the last layer is the Detect head."""
    plans = plan_layers(spec)
    if len(layers) != len(plans) + 1:
        raise ForeignCheckpointError(f"{path}: {len(layers)} layers where the YOLOv8 layout has "
                                     f"{len(plans) + 1}; {IMPORTABLE}")
    for plan, layer in zip(plans, layers):
        if layer.class_name != plan.block or _inputs(layer, plan.index) not in (None, plan.sources):
            raise ForeignCheckpointError(
                f"{path}: layer {plan.index} is {layer.class_name} reading {_inputs(layer, plan.index)} where the "
                f"YOLOv8 layout has {plan.block} reading {plan.sources}; {IMPORTABLE}")
    head = layers[-1]
    if head.class_name != "Detect":
        raise ForeignCheckpointError(f"{path}: the last layer is {head.class_name}, not Detect "
                                     f"(a segmentation, pose or classification model?); {IMPORTABLE}")
    if _inputs(head, len(plans)) not in (None, list(spec["detect"])):
        raise ForeignCheckpointError(f"{path}: its Detect head reads layers {_inputs(head, len(plans))} where the "
                                     f"YOLOv8 layout has {list(spec['detect'])}; {IMPORTABLE}")


def _inputs(layer: PickledObject, index: int) -> list[int] | None:
    """Absolute indices of the layers `layer` reads (their `f` attribute; -1 = the previous one), None if unsaid."""
    sources = layer.state.get("f")
    if sources is None or index == 0:
        return None
    sources = [sources] if isinstance(sources, int) else list(sources)
    return [s if s >= 0 else index + s for s in sources]


def _translated_tensors(layers: list[PickledObject], path: Path) -> dict[str, torch.Tensor]:
    """The file's tensors under our state_dict names, fp32 (released files are fp16), DFL bins checked and left out."""
    translated = {}
    for index, layer in enumerate(layers[:-1]):
        for name, tensor in layer.named_tensors().items():
            translated[f"layers.{index}.{name}"] = tensor
    for name, tensor in layers[-1].named_tensors().items():
        if name == DFL_BINS:
            bins = torch.arange(tensor.numel(), dtype=torch.float32)
            if not torch.equal(tensor.detach().float().flatten(), bins):
                raise ForeignCheckpointError(f"{path}: its DFL bins are not 0..{tensor.numel() - 1}; "
                                             f"our head cannot reproduce them; {IMPORTABLE}")
            continue
        prefix = next((p for p in HEAD_RENAMES if name.startswith(p)), None)
        if prefix is None:
            raise ForeignCheckpointError(f"{path}: its Detect head has {name}, which ours does not; {IMPORTABLE}")
        translated[HEAD_RENAMES[prefix] + name[len(prefix):]] = tensor
    return {key: (t.detach().float() if t.is_floating_point() else t.detach()).clone()
            for key, t in translated.items()}


def _checked_state(source: dict[str, torch.Tensor], expected: dict[str, torch.Tensor], what: str) -> dict:
    """`source` (plus our computed buffers) when it has exactly our tensors, else the first difference as the error."""
    for key, tensor in expected.items():
        if key in COMPUTED_HERE:
            continue
        if key not in source:
            raise ForeignCheckpointError(f"{what}: has no tensor for our {key}; {IMPORTABLE}")
        if source[key].shape != tensor.shape:
            raise ForeignCheckpointError(f"{what}: its {key} is {tuple(source[key].shape)}, ours "
                                         f"{tuple(tensor.shape)} (a fused or modified model?); {IMPORTABLE}")
    extra = [key for key in source if key not in expected]
    if extra:
        raise ForeignCheckpointError(f"{what}: has tensors ours has not: {', '.join(extra[:3])}; {IMPORTABLE}")
    return {key: expected[key] if key in COMPUTED_HERE else source[key] for key in expected}


def _class_names(tree: PickledObject, num_classes: int) -> list[str]:
    """The file's class names (a {index: name} dict or a list on the model), class<i> where it has none."""
    names = tree.state.get("names")
    if isinstance(names, dict):
        names = [names.get(i, names.get(str(i))) for i in range(num_classes)]
    if not isinstance(names, (list, tuple)) or len(names) != num_classes or any(n is None for n in names):
        return [f"class{i}" for i in range(num_classes)]
    return [str(name) for name in names]
