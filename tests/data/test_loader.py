import pytest
import torch

from turboyolo.config import build_config
from turboyolo.data.image_cache import SharedImageCache
from turboyolo.data.loader import build_dataloader
from tests.data.loader_fixtures import write_records


@pytest.fixture
def records(tmp_path):
    return write_records(tmp_path / "images", 10, height=48, width=64, boxes_per_image=2)


def _cfg(**overrides):
    return build_config({"imgsz": 64, "batch": 4, "workers": 0, "cache": "none", **overrides})


def _batches(loader, epoch=0, total=None):
    loader.set_epoch(epoch, total)
    return list(loader)


def test_batch_format(records):
    loader = build_dataloader(records, _cfg(), train=True)
    batch = next(iter(loader))
    assert batch["images"].shape == (4, 3, 64, 64) and batch["images"].dtype == torch.uint8
    targets = batch["targets"]
    assert targets.dtype == torch.float32 and targets.shape[1] == 6
    assert set(targets[:, 0].long().tolist()) <= set(range(4))
    assert ((targets[:, 2:] >= 0) & (targets[:, 2:] <= 1)).all()
    assert batch["orig_shapes"].dtype == torch.int64 and batch["orig_shapes"].tolist()[0] == [48, 64]
    assert batch["scale_pad"].shape == (4, 3) and batch["indices"].dtype == torch.int64
    assert len(batch["paths"]) == 4
    assert len(loader) == 3  # 10 images, batch 4, last batch short


def test_val_batch_targets_match_records(records):
    loader = build_dataloader(records, _cfg(), train=False)
    batch = next(iter(loader))
    scale, pad_x, pad_y = batch["scale_pad"][0].tolist()
    rows = batch["targets"][batch["targets"][:, 0] == 0]
    x1 = (rows[:, 2] - rows[:, 4] / 2) * 64
    expected = torch.from_numpy(records[0].boxes[:, 0]) * scale + pad_x
    assert torch.allclose(x1, expected, atol=0.5)
    assert batch["indices"].tolist() == [0, 1, 2, 3]


def test_reproducible_and_independent_of_worker_count(records, tmp_path):
    cache = SharedImageCache.open(records, 64, "disk", cache_dir=str(tmp_path / "cache"))
    cfg = _cfg(mixup=0.5, close_mosaic=1)
    serial = build_dataloader(records, cfg, train=True, cache=cache, workers=0)
    parallel = build_dataloader(records, cfg, train=True, cache=cache, workers=2)
    for epoch, total in [(0, 10), (9, 10)]:  # epoch 9 is past close_mosaic: the switch must reach the workers
        a, b = _batches(serial, epoch, total), _batches(parallel, epoch, total)
        for x, y in zip(a, b):
            assert torch.equal(x["images"], y["images"]) and torch.equal(x["targets"], y["targets"])
    assert not torch.equal(_batches(serial, 0, 10)[0]["images"], _batches(serial, 1, 10)[0]["images"])


def test_ranks_split_the_global_batch(records):
    loaders = [build_dataloader(records, _cfg(batch=4), train=True, rank=r, world_size=2) for r in range(2)]
    batches = [next(iter(loader)) for loader in loaders]
    assert all(len(b["images"]) == 2 for b in batches)
    assert not set(batches[0]["indices"].tolist()) & set(batches[1]["indices"].tolist())


def test_fraction_keeps_a_subset(records):
    loader = build_dataloader(records, _cfg(fraction=0.5), train=True)
    assert len(loader.dataset) == 5


def test_workers_follow_the_cores_of_the_ranks_on_this_machine(records, monkeypatch, tmp_path):
    monkeypatch.setattr("os.sched_getaffinity", lambda pid: set(range(8)))
    monkeypatch.setattr("turboyolo.cores.CGROUP_ROOT", tmp_path)  # no container quota
    cfg = _cfg(workers=16, batch=8)
    # 8 ranks on two machines: 4 share these 8 cores, 2 each, one of them kept for the rank itself
    assert build_dataloader(records, cfg, train=True, world_size=8, local_world_size=4).num_workers == 1
    assert build_dataloader(records, cfg, train=True, world_size=2).num_workers == 3


def test_rect_val_pads_each_image_only_to_the_stride_and_maps_boxes_back(tmp_path):
    # at imgsz 64 a 32x64 image needs a 32x64 input (square: 64x64); 100x40 -> 64x26 -> padded 64x32
    records = write_records(tmp_path / "wide", 3, height=32, width=64) + write_records(
        tmp_path / "tall", 2, height=100, width=40, seed=1)
    for i, record in enumerate(records):
        record.image_id = i
    loader = build_dataloader(records, _cfg(rect_val=True, batch=4), train=False)
    batches = list(loader)
    assert len(loader) == len(batches) == 2
    assert sorted(tuple(b["images"].shape) for b in batches) == [(2, 3, 64, 32), (3, 3, 32, 64)]
    assert sorted(i for b in batches for i in b["indices"].tolist()) == list(range(5))
    for batch in batches:
        height, width = batch["images"].shape[2:]
        for k, index in enumerate(batch["indices"].tolist()):
            scale, pad_x, pad_y = batch["scale_pad"][k].tolist()
            rows = batch["targets"][batch["targets"][:, 0] == k]
            x1 = (rows[:, 2] - rows[:, 4] / 2) * width
            y1 = (rows[:, 3] - rows[:, 5] / 2) * height
            assert torch.allclose(x1, torch.from_numpy(records[index].boxes[:, 0]) * scale + pad_x, atol=0.5)
            assert torch.allclose(y1, torch.from_numpy(records[index].boxes[:, 1]) * scale + pad_y, atol=0.5)
