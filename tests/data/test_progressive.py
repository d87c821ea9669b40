"""Progressive resizing: the per-epoch training size, and samples made at that size with the same augmentation."""
import numpy as np
import pytest

from turboyolo.data.augment.params import AugmentParams
from turboyolo.data.dataset import DetectionDataset
from turboyolo.data.progressive import ProgressiveResize
from tests.data.loader_fixtures import write_records


def test_sizes_grow_in_stride_steps_to_imgsz_before_close_mosaic():
    ramp = ProgressiveResize(share=0.5, start=0.5)
    sizes = [ramp.size_at(e, 20, 416, 32, close_mosaic=4) for e in range(20)]
    assert sizes[0] == 224  # 0.5 x 416 = 208 -> nearest stride multiple
    assert all(s % 32 == 0 for s in sizes)
    assert sizes == sorted(sizes)  # never shrinks
    assert sizes[10:] == [416] * 10  # the ramp covers the first half
    assert len(set(sizes[:10])) > 3  # a ramp, not one jump


def test_ramp_ends_before_close_mosaic_epochs():
    ramp = ProgressiveResize(share=1.0, start=0.25)
    sizes = [ramp.size_at(e, 10, 640, 32, close_mosaic=3) for e in range(10)]
    assert sizes[7:] == [640] * 3 and sizes[6] < 640


def test_off_is_always_full_size():
    assert {ProgressiveResize(0.0, 0.5).size_at(e, 10, 416, 32) for e in range(10)} == {416}


@pytest.fixture
def records(tmp_path):
    return write_records(tmp_path / "images", 6, height=60, width=80, boxes_per_image=2)


@pytest.mark.parametrize("mosaic", [0.0, 1.0])
def test_samples_are_the_full_size_sample_scaled_down(records, mosaic):
    """Same random draws at every size: the small sample is the big one at a lower resolution."""
    params = AugmentParams(mosaic=mosaic, mixup=0.0, hsv_h=0, hsv_s=0, hsv_v=0, min_box_px=0)
    full = DetectionDataset(records, imgsz=128, train=True, params=params, seed=5, close_mosaic=2)
    small = DetectionDataset(records, imgsz=128, train=True, params=params, seed=5, close_mosaic=2,
                             progressive=ProgressiveResize(share=0.5, start=0.5))
    full.set_epoch(0, total_epochs=10)
    small.set_epoch(0, total_epochs=10)
    assert small.train_input_size == 64 and full.train_input_size == 128
    for i in range(len(records)):
        a, b = full[i], small[i]
        assert b["image"].shape == (3, 64, 64)
        assert len(a["boxes"]) == len(b["boxes"])
        np.testing.assert_allclose(b["boxes"] * 2, a["boxes"], atol=2.5)
    small.set_epoch(5, total_epochs=10)  # past the ramp: full size again
    assert small[0]["image"].shape == (3, 128, 128)


def test_validation_samples_stay_at_imgsz(records):
    val = DetectionDataset(records, imgsz=128, train=False, rect=False, progressive=ProgressiveResize(1.0, 0.5))
    val.set_epoch(0, total_epochs=10)
    assert val[0]["image"].shape == (3, 128, 128)
