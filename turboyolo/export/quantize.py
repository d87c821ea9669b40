"""Post-training static int8 quantisation of an exported model with onnxruntime.quantization.

QDQ format (QuantizeLinear/DequantizeLinear pairs that onnxruntime fuses into int8 kernels),
per-channel symmetric int8 weights, uint8 activations whose ranges are calibrated on training
images put through the model's own letterbox (predictor.letterbox_batch, as `predict` feeds it).
The head's last convs and the box decoding after them stay float: the output holds pixel
coordinates (0 .. imgsz) beside probabilities (0 .. 1), which no single int8 scale holds, and
the raw DFL/class logits feed a softmax and a sigmoid that magnify rounding.
"""
from __future__ import annotations

import tempfile
from pathlib import Path

import numpy as np

from turboyolo.engine.model_input import cpu_model_input
from turboyolo.engine.predictor import letterbox_batch
from turboyolo.export.extra import require

CALIBRATION_METHODS = {"minmax": "MinMax", "percentile": "Percentile", "entropy": "Entropy"}


def float_tail(graph) -> list[str]:
    """Names of the nodes that stay float: every node on a path from a graph output back to the
    convs that end the head (those convs included). graph: an onnx GraphProto with named nodes."""
    producer = {out: node for node in graph.node for out in node.output}
    keep, stack = {}, [producer[o.name] for o in graph.output if o.name in producer]
    while stack:
        node = stack.pop()
        if node.name in keep:
            continue
        keep[node.name] = node
        if node.op_type == "Conv":
            continue  # the head's last convs: the quantised network ends at their inputs
        stack.extend(producer[i] for i in node.input if i in producer)
    return sorted(keep)


class LetterboxCalibration:
    """onnxruntime CalibrationDataReader: the calibration images letterboxed, in batches of `batch`."""

    def __init__(self, input_name: str, images: list[np.ndarray], imgsz: int, stride: int, batch: int):
        self.input_name, self.images, self.imgsz, self.stride, self.batch = input_name, images, imgsz, stride, batch
        self.position = 0

    def get_next(self) -> dict | None:
        if self.position >= len(self.images):
            return None
        chunk = self.images[self.position : self.position + self.batch]
        self.position += self.batch
        if len(chunk) < self.batch:  # a fixed-batch graph takes only full batches: repeat from the start
            chunk = chunk + self.images[: self.batch - len(chunk)]
        pixels, _ = letterbox_batch(chunk, self.imgsz, self.stride)
        return {self.input_name: cpu_model_input(pixels).numpy()}

    def rewind(self) -> None:
        self.position = 0


def quantize_int8(fp32_path: str | Path, int8_path: str | Path, images: list[np.ndarray], imgsz: int, stride: int,
                  method: str) -> list[str]:
    """Write the int8 QDQ model of `fp32_path` to `int8_path`, calibrated on `images` (BGR uint8);
    returns the names of the nodes left float. method: a key of CALIBRATION_METHODS."""
    onnx = require("onnx", "int8=true")
    quantization = require("onnxruntime.quantization", "int8=true")
    from onnxruntime.quantization.shape_inference import quant_pre_process

    with tempfile.TemporaryDirectory(prefix="turboyolo-int8-") as work:
        prepared = Path(work) / "prepared.onnx"
        batch_dim = onnx.load(str(fp32_path)).graph.input[0].type.tensor_type.shape.dim[0]
        fixed = batch_dim.HasField("dim_value")
        # shape inference and graph clean-up, as ORT advises; its symbolic pass gives up on a dynamic-size graph
        quant_pre_process(str(fp32_path), str(prepared), skip_symbolic_shape=not fixed)
        model = onnx.load(str(prepared))
        for index, node in enumerate(model.graph.node):
            node.name = node.name or f"{node.op_type}_{index}"  # nodes_to_exclude names nodes
        graph_input = model.graph.input[0]
        batch = batch_dim.dim_value if fixed else 1
        excluded = float_tail(model.graph)
        onnx.save(model, str(prepared))
        reader = LetterboxCalibration(graph_input.name, images, imgsz, stride, batch)
        quantization.quantize_static(
            str(prepared), str(int8_path), reader, quant_format=quantization.QuantFormat.QDQ, per_channel=True,
            activation_type=quantization.QuantType.QUInt8, weight_type=quantization.QuantType.QInt8,
            calibrate_method=getattr(quantization.CalibrationMethod, CALIBRATION_METHODS[method]),
            nodes_to_exclude=excluded, extra_options={"CalibTensorRangeSymmetric": False},
        )
    return excluded
