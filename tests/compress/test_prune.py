"""Structured pruning: a smaller dense detector with the same outputs, saved as a checkpoint that rebuilds,
fine-tunes (`train model=pruned.pt`) and validates like any other."""
from __future__ import annotations

import sys
from pathlib import Path

import pytest
import torch

from turboyolo.cli import main
from turboyolo.config import build_config
from turboyolo.engine.checkpoint import atomic_save, eval_model, load_checkpoint
from turboyolo.engine.finetune import build_start_model
from turboyolo.engine.trainer import Trainer
from turboyolo.model.build import build_model
from turboyolo.model.spec import load_spec
from turboyolo.perf.flops import count_params, inference_flops_per_image

pytest.importorskip("torch_pruning")

from turboyolo.compress.prune import prune_detector  # noqa: E402

NAMES = ["circle", "square", "triangle"]


def tiny_spec() -> dict:
    """yolo.yaml at half the width of scale n: the same 22 layers (C2f with and without shortcuts, SPPF,
    concatenations, both head towers), 4x cheaper."""
    spec = load_spec("n")
    spec["scales"] = {"t": [0.33, 0.125, 1024]}
    spec["scale"] = "t"
    return spec


def trained_looking_model(seed: int = 0):
    """A tiny detector whose BatchNorm scales and statistics differ per channel, as after training
    (fresh ones are all 1 and 0, which would make every channel equally important)."""
    torch.manual_seed(seed)
    model = build_model(tiny_spec(), len(NAMES))
    for module in model.modules():
        if isinstance(module, torch.nn.BatchNorm2d):
            module.weight.data.uniform_(0.05, 1.0)
            module.bias.data.uniform_(-0.2, 0.2)
            module.running_mean.uniform_(-0.1, 0.1)
            module.running_var.uniform_(0.5, 1.5)
    model.names = list(NAMES)
    return model.eval()


def synthetic_batches(count: int = 2, size: int = 64):
    generator = torch.Generator().manual_seed(1)
    for _ in range(count):
        images = torch.rand(4, 3, size, size, generator=generator)
        targets = torch.tensor([[i, i % 3, 0.5, 0.5, 0.3, 0.4] for i in range(4)], dtype=torch.float32)
        yield images, targets


@pytest.mark.parametrize("method", ["l1", "bn", "taylor"])
def test_pruned_model_is_smaller_and_keeps_the_output_shapes(method):
    from turboyolo.loss.detection_loss import DetectionLoss

    model = trained_looking_model()
    loss_fn = DetectionLoss(model)
    pruned = prune_detector(model, 0.3, method, imgsz=64, loss_batches=synthetic_batches(), loss_fn=loss_fn)

    assert count_params(pruned) < 0.65 * count_params(model)  # 30% of channels: about half the weights
    assert inference_flops_per_image(pruned, 64) < 0.65 * inference_flops_per_image(model, 64)
    images = torch.rand(2, 3, 96, 128)
    with torch.no_grad():
        assert pruned(images).shape == model(images).shape  # (B, A, 4 + nc): same anchors, same classes
        before, after = model.train().forward_raw(images), pruned.train().forward_raw(images)
    assert [m.shape for m in after] == [m.shape for m in before]
    assert pruned.names == NAMES and torch.equal(pruned.strides, model.strides)


def test_methods_choose_different_channels():
    model = trained_looking_model()
    pruned = {method: prune_detector(model, 0.5, method, imgsz=64) for method in ("l1", "bn")}
    assert pruned["l1"].spec["widths"] == pruned["bn"].spec["widths"]  # the same ratio gives the same shapes...
    l1, bn = pruned["l1"].state_dict(), pruned["bn"].state_dict()
    assert any(not torch.equal(l1[k], bn[k]) for k in l1 if k.endswith("bn.weight"))  # ...from other channels


def test_spec_records_the_widths_and_rebuilds_the_pruned_model():
    model = trained_looking_model()
    pruned = prune_detector(model, 0.5, "l1", imgsz=64)
    widths = pruned.spec["widths"]
    assert "widths" not in model.spec
    assert widths["layers.0.conv"][1] < model.layers[0].conv.out_channels
    assert any(name.startswith("head.") for name in widths)  # the head towers read narrower features
    rebuilt = build_model(pruned.spec)  # the spec alone says every shape
    rebuilt.load_state_dict(pruned.state_dict())
    images = torch.rand(1, 3, 64, 64)
    with torch.no_grad():
        assert torch.equal(rebuilt.eval()(images), pruned.eval()(images))
    # pruning a pruned model records its widths against the unpruned architecture
    twice = prune_detector(pruned, 0.3, "l1", imgsz=64)
    assert count_params(twice) < count_params(pruned) and twice.spec["widths"].keys() >= widths.keys()


def test_unpruned_predictions_are_kept_closely_at_a_small_ratio():
    """Removing the least important 5% of channels barely moves the class scores of a model."""
    model = trained_looking_model()
    pruned = prune_detector(model, 0.05, "l1", imgsz=64)
    images = torch.rand(2, 3, 64, 64)
    with torch.no_grad():
        before, after = model.eval()(images), pruned.eval()(images)
    assert (after[..., 4:] - before[..., 4:]).abs().mean() < 0.05


@pytest.fixture()
def source_checkpoint(tmp_path):
    """A best.pt as `turboyolo train` writes it."""
    model = trained_looking_model()
    path = tmp_path / "weights" / "best.pt"
    atomic_save({"format": 1, "model": model.state_dict(), "spec": model.spec, "names": NAMES,
                 "args": {"imgsz": 64, "data": "synthetic"}, "metrics": {"mAP50": 0.5}, "epoch": 7, "step": 500}, path)
    return path


def test_prune_cli_writes_a_checkpoint_that_val_and_finetuning_load_whole(source_checkpoint, tmp_path, capsys):
    out = tmp_path / "pruned.pt"
    assert main(["prune", f"weights={source_checkpoint}", "ratio=0.3", f"out={out}"]) == 0
    printed = capsys.readouterr().out
    assert "parameters" in printed and "GFLOPs/image at 64" in printed  # imgsz from the checkpoint

    ckpt = load_checkpoint(out)
    source = load_checkpoint(source_checkpoint)
    assert ckpt["names"] == NAMES and ckpt["metrics"] == {} and ckpt["pruned"]["ratio"] == 0.3
    assert ckpt["args"]["data"] == "synthetic"  # val weights=pruned.pt finds the dataset as for the source
    assert sum(t.numel() for t in ckpt["model"].values()) < 0.65 * sum(t.numel() for t in source["model"].values())
    images = torch.rand(1, 3, 64, 64)
    assert eval_model(ckpt)(images).shape == eval_model(source)(images).shape  # what val and predict build
    # fine-tuning takes every tensor of the pruned checkpoint: none is skipped for its shape
    start = build_start_model(str(out), NAMES, freeze=0, verbose=True)
    assert "0 skipped" in capsys.readouterr().out
    assert all(torch.equal(start.state_dict()[k], v) for k, v in ckpt["model"].items())
    # and to another class list: the class outputs follow the new classes, the pruned widths stay
    other = build_start_model(str(out), ["cat", "dog"], freeze=0, verbose=False)
    assert [conv.out_channels for conv in other.head.class_outputs()] == [2, 2, 2]
    assert other.train()(images)[0].shape[1] == 4 * 16 + 2
    assert other.layers[0].conv.out_channels == start.layers[0].conv.out_channels


@pytest.mark.slow
def test_pruned_checkpoint_fine_tunes_and_saves(source_checkpoint, tmp_path):
    from turboyolo.data.synth import generate_synthetic

    out = tmp_path / "pruned.pt"
    assert main(["prune", f"weights={source_checkpoint}", "ratio=0.5", f"out={out}", "verbose=false"]) == 0
    data = generate_synthetic(tmp_path / "synth", n_train=16, n_val=4, imgsz=64, nc=3, seed=3)
    cfg = build_config(dict(data=str(data), model=str(out), imgsz=64, batch=8, nbs=8, epochs=1, workers=0, cache="none", val=False,
                            project=str(tmp_path / "runs"), name="ft", verbose=False, plots=False, amp="off",
                            warmup_epochs=0))
    summary = Trainer(cfg).fit()
    assert summary["steps"] == 2
    last = load_checkpoint(tmp_path / "runs" / "ft" / "weights" / "last.pt")
    assert last["spec"]["widths"] == load_checkpoint(out)["spec"]["widths"]  # still the pruned architecture
    start = load_checkpoint(out)["model"]
    assert any(not torch.equal(last["model"][k], start[k]) for k in start if k.endswith("conv.weight"))
    assert eval_model(last)(torch.rand(1, 3, 64, 64)).shape[-1] == 4 + len(NAMES)
    # the commands a user runs next read the pruned checkpoints like any other
    for weights in (out, tmp_path / "runs" / "ft" / "weights" / "last.pt"):
        assert main(["val", f"weights={weights}", f"data={data}", "workers=0", "cache=none", "plots=false",
                     f"project={tmp_path / 'val'}", "verbose=false"]) == 0
    images = sorted((Path(data).parent).rglob("*.png")) + sorted((Path(data).parent).rglob("*.jpg"))
    assert main(["predict", f"weights={out}", f"source={images[0]}", f"project={tmp_path / 'pred'}",
                 "verbose=false"]) == 0


def test_out_must_not_be_the_source_or_an_existing_file(source_checkpoint, tmp_path, capsys):
    assert main(["prune", f"weights={source_checkpoint}", f"out={source_checkpoint}"]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "is the checkpoint being pruned" in err
    taken = tmp_path / "taken.pt"
    taken.write_bytes(b"user file")
    assert main(["prune", f"weights={source_checkpoint}", f"out={taken}"]) == 2
    assert "exist_ok=true" in capsys.readouterr().err and taken.read_bytes() == b"user file"


def test_default_out_is_beside_the_weights(source_checkpoint):
    assert main(["prune", f"weights={source_checkpoint}", "ratio=0.2", "verbose=false"]) == 0
    assert (source_checkpoint.parent / "best-pruned.pt").is_file()


def test_without_the_extra_prune_names_it_in_one_line(source_checkpoint, monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "torch_pruning", None)  # what `import torch_pruning` meets when not installed
    assert main(["prune", f"weights={source_checkpoint}"]) == 1
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "pip install 'turboyolo[prune]'" in err


def test_taylor_from_the_cli_scores_channels_on_the_checkpoints_training_data(tmp_path, capsys):
    from turboyolo.data.synth import generate_synthetic

    data = generate_synthetic(tmp_path / "synth", n_train=8, n_val=2, imgsz=64, nc=3, seed=3)
    model = trained_looking_model()
    weights = tmp_path / "best.pt"
    atomic_save({"format": 1, "model": model.state_dict(), "spec": model.spec, "names": NAMES,
                 "args": {"imgsz": 64, "data": str(data)}, "metrics": {}, "epoch": 3, "step": 30}, weights)
    assert main(["prune", f"weights={weights}", "method=taylor", f"out={tmp_path / 'taylor.pt'}"]) == 0
    printed = capsys.readouterr().out
    assert f"from the checkpoint: imgsz=64, data={data}" in printed
    assert load_checkpoint(tmp_path / "taylor.pt")["pruned"]["method"] == "taylor"
