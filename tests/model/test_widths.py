"""Spec `widths`: a pruned model's narrowed convs, rebuilt from the spec alone."""
import pytest
import torch

from turboyolo.model.build import build_model
from turboyolo.model.spec import SpecError
from turboyolo.model.widths import changed_widths, conv_widths


def test_widths_in_the_spec_narrow_those_convs_and_their_batchnorm():
    reference = build_model("n", 2)
    spec = dict(reference.spec, widths={"layers.0.conv": [3, 8], "layers.1.conv": [8, 32],
                                        "head.cls_towers.0.2": [64, 2]})
    model = build_model(spec)
    assert model.layers[0].conv.out_channels == 8 and model.layers[0].bn.num_features == 8
    assert model.layers[1].conv.in_channels == 8 and model.layers[1].conv.out_channels == 32
    assert changed_widths(model, reference) == {"layers.0.conv": [3, 8], "layers.1.conv": [8, 32]}  # head unchanged
    assert model.train()(torch.rand(1, 3, 64, 64))[0].shape == (1, 64 + 2, 8, 8)
    assert conv_widths(build_model(model.spec)) == conv_widths(model)


@pytest.mark.parametrize("widths, message", [
    ({"layers.0.bn": [3, 8]}, "not a convolution"),
    ({"layers.99.conv": [3, 8]}, "not a convolution"),
    ({"layers.0.conv": [3]}, "expected [in_channels, out_channels]"),
    ({"layers.0.conv": [3, 0]}, "expected [in_channels, out_channels]"),
    (["layers.0.conv"], "must map conv paths"),
])
def test_bad_widths_are_spec_errors(widths, message):
    spec = dict(build_model("n", 2).spec, widths=widths)
    with pytest.raises(SpecError, match=message.replace("[", r"\[").replace("]", r"\]")):
        build_model(spec)
