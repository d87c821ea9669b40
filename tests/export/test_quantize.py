"""int8 quantisation pieces: which nodes stay float, and how calibration images reach the graph."""
from __future__ import annotations

import numpy as np
from onnx import TensorProto, helper

from turboyolo.engine.predictor import letterbox_batch
from turboyolo.export.quantize import LetterboxCalibration, float_tail


def test_float_tail_is_the_head_output_back_to_its_last_convs():
    """x -> conv_a -> sigmoid -> conv_b -> (conv_box, conv_cls) -> concat -> softmax -> out."""
    nodes = [
        helper.make_node("Conv", ["x", "wa"], ["a"], name="conv_a"),
        helper.make_node("Sigmoid", ["a"], ["s"], name="sigmoid"),
        helper.make_node("Conv", ["s", "wb"], ["b"], name="conv_b"),
        helper.make_node("Conv", ["b", "wbox"], ["box"], name="conv_box"),
        helper.make_node("Conv", ["b", "wcls"], ["cls"], name="conv_cls"),
        helper.make_node("Concat", ["box", "cls"], ["cat"], name="concat", axis=1),
        helper.make_node("Softmax", ["cat"], ["out"], name="softmax"),
    ]
    graph = helper.make_graph(nodes, "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 3, 8, 8])],
                              [helper.make_tensor_value_info("out", TensorProto.FLOAT, None)])
    assert float_tail(graph) == ["concat", "conv_box", "conv_cls", "softmax"]


def test_calibration_batches_are_the_letterboxed_images_in_the_graphs_batch():
    rng = np.random.default_rng(0)
    images = [rng.integers(0, 255, (h, w, 3), dtype=np.uint8) for h, w in ((40, 64), (64, 48), (32, 32))]
    reader = LetterboxCalibration("images", images, imgsz=64, stride=32, batch=2)
    first, second = reader.get_next()["images"], reader.get_next()["images"]
    assert reader.get_next() is None
    expected = letterbox_batch(images + images[:1], 64, 32)[0].float().numpy() / 255  # the last batch filled up
    np.testing.assert_allclose(np.concatenate([first, second]), expected, atol=1e-7)
    assert first.dtype == np.float32 and first.shape == (2, 3, 64, 64)
    reader.rewind()
    np.testing.assert_array_equal(reader.get_next()["images"], first)
