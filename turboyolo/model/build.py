"""build_model: the one entry point the engine uses to create a detector."""
from __future__ import annotations

from pathlib import Path

from turboyolo.model.detector import DetectionModel
from turboyolo.model.spec import SpecError, load_spec


def build_model(spec: str | Path | dict, num_classes: int | None = None) -> DetectionModel:
    """Scale name ("n", "s", "m", "l", "x"), model YAML path, or spec dict -> DetectionModel.

    A spec dict taken from `model.spec` (e.g. out of a checkpoint) carries its own num_classes,
    so `num_classes` may be omitted then; when given it wins (fine-tuning to a new class set).
    Weights are freshly initialised; loading a state_dict is the caller's job.
    """
    data = load_spec(spec)
    if num_classes is None:
        num_classes = data.get("num_classes")
        if num_classes is None:
            raise SpecError("num_classes is required: the spec does not say it")
    if int(num_classes) < 1:
        raise SpecError(f"num_classes must be >= 1, got {num_classes}")
    return DetectionModel(data, int(num_classes))
