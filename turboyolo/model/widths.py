"""Per-conv channel widths that differ from what a spec's scale gives: how a pruned model is described.

Structured pruning (turboyolo/compress/prune.py) removes whole channels, so some convolutions of a
pruned model are narrower than the spec's width scale makes them. The spec records those convs under
`widths`, as {module path: [in_channels, out_channels]} for every nn.Conv2d whose shape differs
from the unpruned build, e.g. {"layers.2.cv1.conv": [16, 24], "head.box_towers.0.0.conv": [24, 64]}.
`DetectionModel` builds the unpruned layers and then narrows the listed convs (and the BatchNorm
after each) with `narrow_convs`, so a pruned checkpoint rebuilds from its spec like any other.
"""
from __future__ import annotations

from torch import nn

from turboyolo.model.blocks import ConvBnSiLU
from turboyolo.model.spec import SpecError


def conv_widths(model: nn.Module) -> dict[str, list[int]]:
    """{module path: [in_channels, out_channels]} of every nn.Conv2d in `model`."""
    return {name: [m.in_channels, m.out_channels] for name, m in model.named_modules() if isinstance(m, nn.Conv2d)}


def changed_widths(model: nn.Module, reference: nn.Module) -> dict[str, list[int]]:
    """The conv widths of `model` that differ from `reference` (the same spec, unpruned)."""
    before = conv_widths(reference)
    return {name: shape for name, shape in conv_widths(model).items() if before.get(name) != shape}


def narrow_convs(model: nn.Module, widths: dict) -> None:
    """Replace each conv named in `widths` by a freshly initialised one of that [in, out] shape, in place,
    together with the BatchNorm of its ConvBnSiLU; kernel, stride, padding and bias are kept. The head's
    output convs take only the input width: their outputs follow the model's classes and reg_max."""
    if not isinstance(widths, dict):
        raise SpecError(f"spec widths must map conv paths to [in, out] channels, got {type(widths).__name__}")
    modules = dict(model.named_modules())
    head_outputs = _head_output_convs(model)
    for name, shape in widths.items():
        conv = modules.get(name)
        if not isinstance(conv, nn.Conv2d):
            raise SpecError(f"spec widths names {name!r}, which is not a convolution of this model")
        if not (isinstance(shape, (list, tuple)) and len(shape) == 2 and all(isinstance(c, int) and c >= 1 for c in shape)):
            raise SpecError(f"spec widths[{name!r}] = {shape!r}: expected [in_channels, out_channels], both >= 1")
        c_in, c_out = shape
        if id(conv) in head_outputs:  # outputs set by num_classes / reg_max (fine-tuning may change the classes)
            c_out = conv.out_channels
        parent_name, _, attr = name.rpartition(".")
        parent = modules[parent_name]
        setattr(parent, attr, nn.Conv2d(c_in, c_out, conv.kernel_size, conv.stride, conv.padding,
                                        dilation=conv.dilation, groups=conv.groups, bias=conv.bias is not None))
        if isinstance(parent, ConvBnSiLU) and attr == "conv" and isinstance(parent.bn, nn.BatchNorm2d):
            parent.bn = nn.BatchNorm2d(c_out, eps=parent.bn.eps, momentum=parent.bn.momentum)


def _head_output_convs(model: nn.Module) -> set[int]:
    """ids of the head's last convs: their outputs are the class scores and box bins, never pruned."""
    head = getattr(model, "head", None)
    if head is None:
        return set()
    return {id(conv) for conv in head.class_outputs()} | {id(tower[-1]) for tower in head.box_towers}
