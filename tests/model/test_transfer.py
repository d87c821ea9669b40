"""Weights carried from one detector to another for fine-tuning: by name and shape, class rows by class name."""
from __future__ import annotations

import torch

from turboyolo.model.build import build_model
from turboyolo.model.transfer import class_output_keys, transfer_weights


def _source(num_classes: int, seed: int = 0):
    torch.manual_seed(seed)
    model = build_model("n", num_classes)
    with torch.no_grad():  # weights unlike any fresh initialisation, so a copy is recognisable
        for tensor in model.state_dict().values():
            if tensor.dtype.is_floating_point:
                tensor.normal_()
    return model.state_dict()


def test_three_class_checkpoint_onto_two_classes_reinitialises_only_the_class_outputs():
    source = _source(3)
    model = build_model("n", 2)
    fresh = {k: v.clone() for k, v in model.state_dict().items()}
    report = transfer_weights(model, source, ["circle", "square", "triangle"], ["cat", "dog"])

    class_keys = class_output_keys(model)
    assert len(class_keys) == 6  # weight and bias of the last class conv at each of the 3 levels
    assert sorted(report.reinitialised) == sorted(class_keys)
    assert report.skipped == []
    assert len(report.loaded) == len(fresh) - 6
    assert report.describe().startswith(f"{len(fresh) - 6} tensors loaded, 6 re-initialised (class outputs), 0 skipped")
    state = model.state_dict()
    for key in report.loaded:
        assert torch.equal(state[key], source[key]), key
    for key in class_keys:
        assert torch.equal(state[key], fresh[key]), key  # class-prior bias and fresh weights, not noise


def test_same_number_of_other_classes_is_reinitialised_although_the_shapes_match():
    source = _source(3)
    model = build_model("n", 3)
    report = transfer_weights(model, source, ["circle", "square", "triangle"], ["cat", "dog", "bird"])
    assert sorted(report.reinitialised) == sorted(class_output_keys(model))


def test_same_classes_in_another_order_get_their_rows_reordered():
    source = _source(3)
    model = build_model("n", 3)
    report = transfer_weights(model, source, ["circle", "square", "triangle"], ["triangle", "circle", "square"])
    assert report.remapped_classes and not report.reinitialised and not report.skipped
    assert "reordered" in report.describe()
    state = model.state_dict()
    for key in class_output_keys(model):
        assert torch.equal(state[key], source[key][[2, 0, 1]]), key


def test_tensors_of_another_shape_are_skipped_and_keep_their_initialisation():
    # 80 classes widen the class towers (width >= number of classes): those tensors cannot be copied
    source = _source(80)
    model = build_model("n", 2)
    fresh = {k: v.clone() for k, v in model.state_dict().items()}
    report = transfer_weights(model, source, [f"c{i}" for i in range(80)], ["cat", "dog"])
    assert report.skipped and all(key.startswith("head.cls_towers.") for key in report.skipped)
    state = model.state_dict()
    for key in report.skipped:
        assert torch.equal(state[key], fresh[key]), key
    for key in report.loaded:
        assert torch.equal(state[key], source[key]), key
    assert f"{len(report.skipped)} skipped" in report.describe()
