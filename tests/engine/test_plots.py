"""train_batch0.png shows what the first epoch trains on: no mosaic when close_mosaic covers the whole run."""
import torch

from tests.data.loader_fixtures import write_records
from turboyolo.data.augment.params import AugmentParams
from turboyolo.data.dataset import DetectionDataset
from turboyolo.data.loader import collate_detection
from turboyolo.engine import plots


def grid_batch(tmp_path, monkeypatch, epochs: int) -> tuple[dict, DetectionDataset]:
    records = write_records(tmp_path / f"images{epochs}", 4, height=60, width=80, boxes_per_image=1)
    dataset = DetectionDataset(records, imgsz=64, train=True, params=AugmentParams(mosaic=1.0), close_mosaic=3)
    shown = []
    monkeypatch.setattr("turboyolo.plots.boxes_grid.save_batch_grid", lambda path, batch, names: shown.append(batch))
    plots.write_data_plots(tmp_path, records, ["a"], dataset, epoch=0, epochs=epochs, samples=4)
    return shown[0], dataset


def samples(dataset: DetectionDataset, mosaic_epochs: int) -> torch.Tensor:
    dataset.set_epoch(0, mosaic_epochs)
    return collate_detection([dataset[i] for i in range(len(dataset))])["images"]


def test_grid_without_mosaic_when_mosaic_is_closed_for_the_whole_run(tmp_path, monkeypatch):
    shown, dataset = grid_batch(tmp_path, monkeypatch, epochs=2)  # close_mosaic=3 >= epochs: never a mosaic
    assert torch.equal(shown["images"], samples(dataset, 2))
    assert not torch.equal(shown["images"], samples(dataset, 100))  # the mosaic samples differ


def test_grid_with_mosaic_when_the_first_epoch_uses_it(tmp_path, monkeypatch):
    shown, dataset = grid_batch(tmp_path, monkeypatch, epochs=10)
    assert torch.equal(shown["images"], samples(dataset, 10))
