import numpy as np
import pytest

from turboyolo.data.augment.params import AugmentParams
from turboyolo.data.dataset import DetectionDataset
from tests.data.loader_fixtures import bright_mask, mask_bbox, write_records


@pytest.fixture
def records(tmp_path):
    return write_records(tmp_path / "images", 6, height=60, width=80, boxes_per_image=1)


def test_val_sample_maps_boxes_with_scale_pad(records):
    dataset = DetectionDataset(records, imgsz=64, train=False)
    sample = dataset[2]
    assert sample["image"].shape == (3, 64, 64) and sample["image"].dtype == np.uint8
    scale, pad_x, pad_y = sample["scale_pad"]
    mapped = records[2].boxes * scale + np.array([pad_x, pad_y, pad_x, pad_y])
    assert np.abs(mapped - sample["boxes"]).max() < 0.5
    painted = mask_bbox(bright_mask(sample["image"].transpose(1, 2, 0)))
    assert np.abs(painted - sample["boxes"][0]).max() <= 1
    assert sample["orig_shape"] == (60, 80) and sample["index"] == 2


def test_train_sample_reproducible_per_epoch_and_index(records):
    dataset = DetectionDataset(records, imgsz=64, train=True, params=AugmentParams(mixup=0.5), seed=3)
    first = dataset[1]
    assert np.array_equal(dataset[1]["image"], first["image"])
    dataset.set_epoch(1)
    assert not np.array_equal(dataset[1]["image"], first["image"])


def test_close_mosaic_turns_mosaic_off_for_last_epochs(records):
    dataset = DetectionDataset(records, imgsz=64, train=True, params=AugmentParams(mosaic=1.0, scale=0, translate=0),
                               close_mosaic=2)
    dataset.set_epoch(7, total_epochs=10)
    assert dataset.mosaic_enabled
    dataset.set_epoch(8, total_epochs=10)
    assert not dataset.mosaic_enabled
    assert all(len(dataset[i]["boxes"]) <= 1 for i in range(len(dataset)))  # one image, one box each


def test_image_is_rgb(tmp_path):
    import cv2

    from turboyolo.data.records import ImageRecord

    path = tmp_path / "red.png"
    cv2.imwrite(str(path), np.dstack([np.zeros((32, 32)), np.zeros((32, 32)), np.full((32, 32), 255)]).astype(np.uint8))
    sample = DetectionDataset([ImageRecord(str(path), 32, 32, np.zeros((0, 4)), [])], imgsz=32, train=False)[0]
    assert sample["image"][0].min() == 255 and sample["image"][2].max() == 0  # channel 0 = red


def test_validation_letterbox_is_the_documented_one_however_the_dataset_is_built(tmp_path):
    """rect_val=true in default.yaml; from_config used to fall back to square when a config lacked the key."""
    from turboyolo.cli import parse_command
    from turboyolo.config import build_config

    wide = write_records(tmp_path / "wide", 3, height=60, width=120, boxes_per_image=1)
    _, cli_cfg = parse_command("val", ["imgsz=64"])
    built = {
        "command line": DetectionDataset.from_config(wide, cli_cfg, train=False),
        "build_config()": DetectionDataset.from_config(wide, build_config({"imgsz": 64}), train=False),
        "constructor defaults": DetectionDataset(wide, imgsz=64, train=False),
    }
    for how, dataset in built.items():
        assert dataset[0]["image"].shape == (3, 32, 64), how  # padded to the stride only, not to 64 x 64
        assert dataset.input_shapes().tolist() == [[32, 64]] * 3, how
    square = DetectionDataset.from_config(wide, build_config({"imgsz": 64, "rect_val": False}), train=False)
    assert square[0]["image"].shape == (3, 64, 64)


@pytest.mark.parametrize("missing", ["rect_val", "close_mosaic", "mosaic", "max_box_aspect"])
def test_a_config_without_a_dataset_key_is_an_error_not_another_default(records, missing):
    from turboyolo.config import Config, build_config

    partial = Config({k: v for k, v in build_config().items() if k != missing})
    with pytest.raises((KeyError, AttributeError), match=missing):
        DetectionDataset.from_config(records, partial, train=False)
