"""Ultralytics (YOLOv8 / YOLOv5) spellings, read as ours where they mean the same thing: one table.

`translate` rewrites a dict of raw key=value settings (command line or cfg file) into our keys
before validation; a key with no equivalent here gets a pointer to what to use instead in the
unknown-key error (`ELSEWHERE`). Values are compared in lower case ("True", true and "true" alike).
"""
from __future__ import annotations

# their key -> (our key, {their value: our value}); None keeps the value as given (it means the same)
RENAMED: dict[str, tuple[str, dict[str, str] | None]] = {
    "cos_lr": ("lr_schedule", {"true": "cosine", "false": "linear"}),
    "half": ("amp", {"true": "fp16", "false": "off"}),
    "batch_size": ("batch", None),  # YOLOv5 --batch-size: the total batch over all GPUs, as our batch
    "img_size": ("imgsz", None),
    "img": ("imgsz", None),
}

# our key -> {their value: our value}: Ultralytics booleans for keys that take a word here
VALUES: dict[str, dict[str, str]] = {
    "cache": {"true": "ram", "false": "none"},
    "amp": {"true": "auto", "false": "off"},
}

# their keys with no equivalent: what to use instead
ELSEWHERE: dict[str, str] = {
    "save_period": "use save_period_steps=N (it counts optimizer steps, not epochs)",
    "rect": "use rect_val=true (validation batched by shape; training batches are always square)",
    "lr": "use lr0=",
    "hyp": "use cfg=FILE.yaml (any keys, hyperparameters included)",
    "single_cls": "not supported: relabel the dataset to one class",
    "multi_scale": "not supported: training uses one imgsz",
    "copy_paste": "not supported (augmentations: mosaic, mixup, affine, hsv, flips)",
    "label_smoothing": "not supported",
    "dropout": "not supported",
}

# every spelling `translate` reads (pretrained= maps onto model= or is refused, see _pretrained)
ALIAS_KEYS = frozenset(RENAMED) | {"pretrained"}

# where start weights come from (nothing is ever downloaded); turboyolo/model/foreign imports YOLOv8 files
WHERE_TO_GET_WEIGHTS = ("nothing is downloaded here: give the best.pt of an earlier run, or a YOLOv8 detection "
                        "checkpoint (yolov8n.pt .. yolov8x.pt from https://github.com/ultralytics/assets/releases) "
                        "copied to this machine")
PRETRAINED_HINT = ("turboyolo ships no pretrained weights: start from a checkpoint with model=PATH.pt "
                   f"({WHERE_TO_GET_WEIGHTS}), or leave pretrained= out to train from scratch")


class AliasError(ValueError):
    """An alias used with a value it has no equivalent for, or contradicting our own key."""


def _text(value: object) -> str:
    return str(value).strip().lower()


def translate(values: dict[str, object], model: object = None) -> dict[str, object]:
    """`values` with every Ultralytics spelling replaced by ours; raises AliasError (the caller adds where).

    model: the model= value set so far (defaults, cfg file), which `pretrained=` is read against.
    """
    out: dict[str, object] = {}
    renamed_from: dict[str, str] = {}
    for key, value in values.items():
        if key == "pretrained":
            continue  # depends on model=, below
        ours = key
        if key in RENAMED:
            ours, mapping = RENAMED[key]
            if mapping is not None:
                if _text(value) not in mapping:
                    raise AliasError(f"{key}={value!r}: expected {' or '.join(mapping)} "
                                     f"({key} is Ultralytics' spelling of {ours}=)")
                value = mapping[_text(value)]
        if ours in VALUES and _text(value) in VALUES[ours]:
            value = VALUES[ours][_text(value)]
        if ours in out and _text(out[ours]) != _text(value):
            first = renamed_from.get(ours, ours)
            raise AliasError(f"{first}={values[first]!r} and {key}={values[key]!r} both set {ours}; keep one")
        out[ours] = value
        renamed_from.setdefault(ours, key)
    if "pretrained" in values:
        _pretrained(values["pretrained"], out, model)
    return out


def _pretrained(value: object, out: dict[str, object], model: object) -> None:
    """pretrained=PATH.pt -> model=PATH.pt; true/false only where they already hold (model= a .pt or not)."""
    model = str(out.get("model", model))
    starts_from_checkpoint = model.endswith((".pt", ".pth"))
    text = _text(value)
    if text in ("true", "1", "yes"):
        if not starts_from_checkpoint:
            raise AliasError(f"pretrained={value!r}: {PRETRAINED_HINT}")
    elif text in ("false", "0", "no"):
        if starts_from_checkpoint:
            raise AliasError(f"pretrained={value!r} with model={model}: a checkpoint always brings its weights; "
                             "for the same architecture from scratch give its scale or YAML (e.g. model=n)")
    elif text.endswith((".pt", ".pth")):
        if "model" in out and model != str(value):
            raise AliasError(f"pretrained={value} and model={model}: turboyolo takes the architecture and the "
                             f"weights from one checkpoint; give model={value} alone")
        out["model"] = str(value)
    else:
        raise AliasError(f"pretrained={value!r}: expected true, false or a checkpoint PATH.pt; {PRETRAINED_HINT}")
