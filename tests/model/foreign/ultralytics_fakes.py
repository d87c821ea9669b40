"""Test-only stand-ins for Ultralytics' YOLOv8 module classes, pickled under their real names.

Written here from the public description of the layout (ultralytics/cfg/models/v8/yolov8.yaml and
the module attribute names its .pt files carry), not copied. `write_checkpoint` builds a model of
one scale with recognisable random weights, registers these classes as `ultralytics.nn.*` just
long enough for torch.save to pickle them by those names, and saves a dict shaped like a released
yolov8n.pt (fp16 model, train_args, version, ...). After it returns, no `ultralytics` module is
importable, as on a user's machine with turboyolo only.
"""
from __future__ import annotations

import contextlib
import math
import sys
import types

import numpy as np
import torch
from torch import nn

# yolov8.yaml: [from, repeats, module, args]; layer 22 is Detect([15, 18, 21])
LAYOUT = [
    [-1, 1, "Conv", [64, 3, 2]], [-1, 1, "Conv", [128, 3, 2]], [-1, 3, "C2f", [128, True]],
    [-1, 1, "Conv", [256, 3, 2]], [-1, 6, "C2f", [256, True]], [-1, 1, "Conv", [512, 3, 2]],
    [-1, 6, "C2f", [512, True]], [-1, 1, "Conv", [1024, 3, 2]], [-1, 3, "C2f", [1024, True]],
    [-1, 1, "SPPF", [1024, 5]],
    [-1, 1, "Upsample", [None, 2, "nearest"]], [[-1, 6], 1, "Concat", [1]], [-1, 3, "C2f", [512]],
    [-1, 1, "Upsample", [None, 2, "nearest"]], [[-1, 4], 1, "Concat", [1]], [-1, 3, "C2f", [256]],
    [-1, 1, "Conv", [256, 3, 2]], [[-1, 12], 1, "Concat", [1]], [-1, 3, "C2f", [512]],
    [-1, 1, "Conv", [512, 3, 2]], [[-1, 9], 1, "Concat", [1]], [-1, 3, "C2f", [1024]],
]
DETECT_FROM = [15, 18, 21]
SCALES = {"n": (0.33, 0.25, 1024), "s": (0.33, 0.50, 1024), "m": (0.67, 0.75, 768),
          "l": (1.00, 1.00, 512), "x": (1.00, 1.25, 512)}
COCO_LIKE_NAMES = {i: f"coco{i}" for i in range(80)} | {0: "person", 1: "bicycle", 2: "car"}

CONV, BLOCK, HEAD, TASKS = ("ultralytics.nn.modules.conv", "ultralytics.nn.modules.block",
                            "ultralytics.nn.modules.head", "ultralytics.nn.tasks")


class Conv(nn.Module):
    default_act = nn.SiLU()  # one instance shared by every Conv, as in theirs

    def __init__(self, c1, c2, k=1, s=1):
        super().__init__()
        self.conv = nn.Conv2d(c1, c2, k, s, k // 2, bias=False)
        self.bn = nn.BatchNorm2d(c2, eps=0.001, momentum=0.03)
        self.act = self.default_act

    def forward(self, x):
        return self.act(self.bn(self.conv(x)))


class Concat(nn.Module):
    def __init__(self, dimension=1):
        super().__init__()
        self.d = dimension

    def forward(self, xs):
        return torch.cat(xs, self.d)


class Bottleneck(nn.Module):
    def __init__(self, c1, c2, shortcut=True):
        super().__init__()
        self.cv1, self.cv2 = Conv(c1, c2, 3), Conv(c2, c2, 3)
        self.add = shortcut and c1 == c2

    def forward(self, x):
        y = self.cv2(self.cv1(x))
        return x + y if self.add else y


class C2f(nn.Module):
    def __init__(self, c1, c2, n=1, shortcut=False):
        super().__init__()
        self.c = c2 // 2
        self.cv1 = Conv(c1, 2 * self.c)
        self.cv2 = Conv((2 + n) * self.c, c2)
        self.m = nn.ModuleList(Bottleneck(self.c, self.c, shortcut) for _ in range(n))

    def forward(self, x):
        parts = list(self.cv1(x).chunk(2, 1))
        for block in self.m:
            parts.append(block(parts[-1]))
        return self.cv2(torch.cat(parts, 1))


class C3k2(C2f):
    """A YOLO11 block name: a file with it is another architecture."""


class SPPF(nn.Module):
    def __init__(self, c1, c2, k=5):
        super().__init__()
        self.cv1, self.cv2 = Conv(c1, c1 // 2), Conv(c1 // 2 * 4, c2)
        self.m = nn.MaxPool2d(k, 1, k // 2)

    def forward(self, x):
        ys = [self.cv1(x)]
        for _ in range(3):
            ys.append(self.m(ys[-1]))
        return self.cv2(torch.cat(ys, 1))


class DFL(nn.Module):
    def __init__(self, c1=16):
        super().__init__()
        self.conv = nn.Conv2d(c1, 1, 1, bias=False).requires_grad_(False)
        self.conv.weight.data[:] = torch.arange(c1, dtype=torch.float).view(1, c1, 1, 1)
        self.c1 = c1


class Detect(nn.Module):
    def __init__(self, nc, ch):
        super().__init__()
        self.nc, self.nl, self.reg_max = nc, len(ch), 16
        self.no = nc + 4 * self.reg_max
        self.stride = torch.tensor([8.0, 16.0, 32.0])  # a plain attribute in theirs, not a buffer
        c2, c3 = max(16, ch[0] // 4, 4 * self.reg_max), max(ch[0], min(nc, 100))
        self.cv2 = nn.ModuleList(nn.Sequential(Conv(c, c2, 3), Conv(c2, c2, 3), nn.Conv2d(c2, 4 * self.reg_max, 1)) for c in ch)
        self.cv3 = nn.ModuleList(nn.Sequential(Conv(c, c3, 3), Conv(c3, c3, 3), nn.Conv2d(c3, nc, 1)) for c in ch)
        self.dfl = DFL(self.reg_max)

    def forward(self, xs):
        return [torch.cat((box(x), cls(x)), 1) for x, box, cls in zip(xs, self.cv2, self.cv3)]


class DetectionModel(nn.Module):
    def __init__(self, layers, names, scale):
        super().__init__()
        self.model = nn.Sequential(*layers)
        self.save = sorted({f for layer in layers for f in ([layer.f] if isinstance(layer.f, int) else layer.f) if f != -1})
        self.names, self.yaml, self.inplace = names, {"nc": len(names), "scale": scale, "backbone": LAYOUT[:10]}, True
        self.stride = torch.tensor([8.0, 16.0, 32.0])
        self.args = {"imgsz": 640, "task": "detect"}

    def forward(self, x):
        """Raw maps of the Detect layer, (B, 64 + nc, H/s, W/s) per stride."""
        outputs = []
        for layer in self.model:
            if layer.f != -1:
                x = outputs[layer.f] if isinstance(layer.f, int) else [x if j == -1 else outputs[j] for j in layer.f]
            x = layer(x)
            outputs.append(x)
        return x


for cls, module in ((Conv, CONV), (Concat, CONV), (Bottleneck, BLOCK), (C2f, BLOCK), (C3k2, BLOCK), (SPPF, BLOCK),
                    (DFL, BLOCK), (Detect, HEAD), (DetectionModel, TASKS)):
    cls.__module__ = module


def build_fake(scale: str = "n", nc: int = 80, seed: int = 0, layer2: type = C2f) -> DetectionModel:
    """A YOLOv8 detection model of `scale` with random (recognisable) weights and BN statistics."""
    depth, width, max_channels = SCALES[scale]
    torch.manual_seed(seed)
    channels, layers = [], []  # output channels of each layer
    for index, (source, repeats, kind, args) in enumerate(LAYOUT):
        n = max(round(repeats * depth), 1) if repeats > 1 else repeats
        if index == 0:
            c_in = 3
        else:
            c_in = channels[source] if isinstance(source, int) else sum(channels[s] for s in source)
        c_out = math.ceil(min(args[0], max_channels) * width / 8) * 8 if kind in ("Conv", "C2f", "SPPF") else c_in
        if kind == "Conv":
            layer = Conv(c_in, c_out, args[1], args[2])
        elif kind == "C2f":
            layer = (layer2 if index == 2 else C2f)(c_in, c_out, n, *args[1:])
        elif kind == "SPPF":
            layer = SPPF(c_in, c_out, args[1])
        elif kind == "Upsample":
            layer = nn.Upsample(None, 2, "nearest")
        else:
            layer = Concat(1)
        layer.i, layer.f, layer.type = index, source, f"{type(layer).__module__}.{type(layer).__name__}"
        layers.append(layer)
        channels.append(c_out)
    head = Detect(nc, [channels[i] for i in DETECT_FROM])
    head.i, head.f, head.type = len(LAYOUT), DETECT_FROM, f"{HEAD}.Detect"
    names = {i: COCO_LIKE_NAMES[i] for i in range(nc)}
    model = DetectionModel([*layers, head], names, scale)
    with torch.no_grad():
        for name, tensor in model.state_dict().items():
            if name.endswith("running_var"):
                tensor.uniform_(0.5, 2.0)
            elif tensor.is_floating_point() and "dfl" not in name:
                tensor.normal_(0, 0.1)
    return model.eval()


@contextlib.contextmanager
def registered_as_ultralytics():
    """`ultralytics.nn.*` importable (holding the fakes) inside the block, and gone again after it."""
    names = ["ultralytics", "ultralytics.nn", "ultralytics.nn.modules", CONV, BLOCK, HEAD, TASKS]
    fakes = {name: types.ModuleType(name) for name in names}
    for cls in (Conv, Concat, Bottleneck, C2f, C3k2, SPPF, DFL, Detect, DetectionModel):
        setattr(fakes[cls.__module__], cls.__name__, cls)
    sys.modules.update(fakes)
    try:
        yield
    finally:
        for name in names:
            sys.modules.pop(name, None)


def write_checkpoint(path, model: DetectionModel, **extra) -> None:
    """Save `model` as a released checkpoint is saved: fp16 model, no EMA or optimizer, run metadata."""
    ckpt = {"epoch": -1, "best_fitness": None, "model": model.half(), "ema": None, "updates": None,
            "optimizer": None, "train_args": {"model": "yolov8n.yaml", "data": "coco.yaml", "epochs": 500, "imgsz": 640},
            "train_metrics": {"metrics/mAP50-95(B)": np.float64(0.373)}, "date": "2023-11-12T19:02:26",
            "version": "8.0.0", "license": "AGPL-3.0", **extra}
    try:
        with registered_as_ultralytics():
            torch.save(ckpt, path)
    finally:
        model.float()
