"""A checkpoint -> an ONNX file of the fused detector, ending with the decoded head output.

The graph ends where DetectionModel's eval output does: (B, A, 4 + nc) boxes xyxy in input pixels,
then class scores. NMS stays outside the graph, in ops/nms.py, which `val` and `predict` run for
both PyTorch and onnxruntime, so the two cannot differ in it. BatchNorm is folded into the convs
(eval_model), as val and predict run the checkpoint.

torch.onnx's exporter (torch.export based) writes the graph; onnxslim (simplify=true, when
installed) folds what the exporter leaves; metadata.py makes the file self-describing.
"""
from __future__ import annotations

import contextlib
import logging
import os
import warnings
from pathlib import Path

import torch

from turboyolo.data.letterbox import padded_shape
from turboyolo.engine.checkpoint import eval_model
from turboyolo.engine.checkpoint_settings import carried_args
from turboyolo.errors import disk_full_error, is_disk_full
from turboyolo.export.extra import available, require
from turboyolo.export.metadata import write_metadata

INPUT_NAME, OUTPUT_NAME = "images", "detections"


def model_input_side(imgsz: int, stride: int) -> int:
    """The square input side a letterbox at `imgsz` produces (imgsz rounded up to the stride)."""
    return padded_shape(imgsz, imgsz, imgsz, stride)[0]


def exported_args(ckpt: dict, imgsz: int, dynamic: bool, weights: str | Path) -> dict:
    """The run config the .onnx file carries for `val`/`predict` to adopt: the checkpoint's, as the graph runs.

    amp=off: autocast does not reach onnxruntime, and the .pt it is compared with must then run fp32 too.
    A fixed-size graph takes only square letterboxes (rect_val=false). data is made absolute when it can
    be found, so the file validates from anywhere.
    """
    changes = {"imgsz": imgsz, "amp": "off"} if dynamic else {"imgsz": imgsz, "amp": "off", "rect_val": False}
    return carried_args(ckpt, weights, **changes)


@contextlib.contextmanager
def _quiet_exporter():
    """The exporter logs a warning for every optional torchvision op it skips, and torch.export warns about
    its own deprecated pytree internals; neither is the user's to act on."""
    logger = logging.getLogger("torch.onnx")
    level = logger.level
    logger.setLevel(logging.ERROR)
    try:
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", category=FutureWarning, module="copyreg")
            warnings.filterwarnings("ignore", message=".*LeafSpec.*", category=FutureWarning)
            yield
    finally:
        logger.setLevel(level)


def export_onnx(ckpt: dict, path: str | Path, imgsz: int, batch: int, dynamic: bool, simplify: bool, opset: int,
                weights: str | Path) -> dict:
    """Write ckpt's model to `path`; returns a summary: path, input shape (ints, or names where dynamic),
    opset, simplified (whether onnxslim ran).

    imgsz: the letterbox size (input side = imgsz rounded up to the stride). batch: the fixed batch
    (dynamic=true leaves batch, height and width to run time). opset: 0 = the exporter's default.
    """
    onnx = require("onnx", "turboyolo export")
    require("onnxscript", "turboyolo export")  # torch.onnx's exporter translates through it
    model = eval_model(ckpt, "cpu")
    stride = int(max(model.strides))
    side = model_input_side(imgsz, stride)
    example = torch.zeros(batch, 3, side, side)
    dims = {0: torch.export.Dim.DYNAMIC, 2: torch.export.Dim.DYNAMIC, 3: torch.export.Dim.DYNAMIC}
    with _quiet_exporter():
        program = torch.onnx.export(model, (example,), dynamo=True, verbose=False, input_names=[INPUT_NAME],
                                    output_names=[OUTPUT_NAME], opset_version=opset or None,
                                    dynamic_shapes=(dims,) if dynamic else None)
    proto = program.model_proto
    simplified = simplify and available("onnxslim")
    if simplified:
        import onnxslim

        proto = onnxslim.slim(proto)
    write_metadata(proto, {
        "names": list(ckpt["names"]), "imgsz": imgsz, "stride": stride,
        "strides": [int(s) for s in model.strides.tolist()], "spec": ckpt["spec"],
        "args": exported_args(ckpt, imgsz, dynamic, weights), "precision": "fp32", "source": Path(weights).name,
    })
    save_onnx(onnx, proto, path)
    opset_used = next(o.version for o in proto.opset_import if o.domain in ("", "ai.onnx"))
    shape = ["batch", 3, "height", "width"] if dynamic else [batch, 3, side, side]
    return {"path": Path(path), "input_shape": shape, "opset": opset_used, "simplified": simplified}


def save_onnx(onnx, proto, path: str | Path) -> None:
    """Write through a temp file and a rename: an interrupted export never leaves a half file under the name."""
    path = Path(path)
    tmp = path.with_name(f".{path.name}.tmp")
    try:
        onnx.save(proto, str(tmp))
        os.replace(tmp, path)
    except OSError as err:
        tmp.unlink(missing_ok=True)
        if is_disk_full(err):
            raise disk_full_error(err, path) from None
        raise
