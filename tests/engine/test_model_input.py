"""The one batch -> model input conversion that training, validation and prediction share."""
import torch

from turboyolo.engine.model_input import to_model_input


def test_uint8_batch_becomes_float_in_unit_range_in_the_memory_format():
    images = torch.arange(2 * 3 * 4 * 5, dtype=torch.int64).remainder(256).to(torch.uint8).reshape(2, 3, 4, 5)
    out = to_model_input(images, torch.device("cpu"), torch.channels_last)
    assert out.dtype == torch.float32 and out.shape == (2, 3, 4, 5)
    assert out.is_contiguous(memory_format=torch.channels_last)
    torch.testing.assert_close(out, images.float() / 255, rtol=0, atol=0)
    assert images.dtype == torch.uint8  # the loader's batch is left as it was
