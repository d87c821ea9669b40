"""Tiny hand-built ONNX graphs for the export tests that need no exporter run."""
from __future__ import annotations

from onnx import TensorProto, helper


def reshaping_detector(batch, side: int = 4, anchors: int = 8):
    """images (batch, 3, side, side) -> detections (batch, anchors, 3 * side * side / anchors): the pixels
    themselves, reshaped; batch an int (fixed) or a name (dynamic)."""
    width = 3 * side * side // anchors
    images = helper.make_tensor_value_info("images", TensorProto.FLOAT, [batch, 3, side, side])
    out = helper.make_tensor_value_info("detections", TensorProto.FLOAT, [batch, anchors, width])
    shape = helper.make_tensor("shape", TensorProto.INT64, [3], [-1, anchors, width])
    node = helper.make_node("Reshape", ["images", "shape"], ["detections"], name="reshape")
    graph = helper.make_graph([node], "reshaper", [images], [out], initializer=[shape])
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
