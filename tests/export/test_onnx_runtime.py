"""OnnxDetector: any batch through a fixed-batch graph, and a one-line error for a size it cannot take."""
from __future__ import annotations

import numpy as np
import onnx
import pytest
import torch

from tests.export.onnx_graphs import reshaping_detector
from turboyolo.config import ConfigError
from turboyolo.export.onnx_runtime import OnnxDetector


def detector(tmp_path, batch) -> OnnxDetector:
    onnx.save(reshaping_detector(batch), str(tmp_path / "m.onnx"))
    return OnnxDetector(tmp_path / "m.onnx", [8, 16, 32], torch.device("cpu"), threads=1)


@pytest.mark.parametrize("graph_batch", [2, "batch"])
def test_any_number_of_images_runs_through_a_fixed_or_dynamic_batch(tmp_path, graph_batch):
    model = detector(tmp_path, graph_batch)
    images = torch.rand(5, 3, 4, 4).to(memory_format=torch.channels_last)  # as val feeds it
    out = model(images)
    assert out.shape == (5, 8, 6) and out.dtype == torch.float32
    assert torch.equal(out, images.contiguous().reshape(5, 8, 6))  # each image's own output, none padded in
    assert model.eval() is model and not model.training and model.strides.tolist() == [8, 16, 32]


def test_a_fixed_size_graph_refuses_another_size_in_one_line(tmp_path):
    model = detector(tmp_path, 1)
    with pytest.raises(ConfigError) as err:
        model(torch.rand(1, 3, 8, 4))
    message = str(err.value)
    assert "takes only 4x4 images" in message and "got 8x4" in message and "imgsz=4" in message
    assert "dynamic=true" in message and "\n" not in message
    np.testing.assert_array_equal(model.run(np.zeros((1, 3, 4, 4), np.float32)), 0)
