"""`turboyolo bench`: well-formed JSON with positive, consistent figures (tiny sizes to stay fast)."""
import json
import sys

import pytest

from turboyolo.config import build_config
from turboyolo.perf import bench_cli
from turboyolo.perf.scaling_bench import forwarded_overrides, torchrun_command

REQUIRED = ("params", "gflops", "train_gflops_per_image", "train_images_per_s", "loader_images_per_s", "peak_fraction")


def _bench(tmp_path, *words):
    out = tmp_path / "bench.json"
    pairs = dict(w.split("=", 1) for w in words)
    cfg = build_config({"model": "n", "imgsz": "32", "batch": "2", "bench_steps": "1", "workers": "0",
                        "threads": "1", "out": str(out), **pairs})
    assert bench_cli.run(cfg, ["model"]) == 0
    return json.loads(out.read_text())


def _fake_peak(device, **_):
    from turboyolo.perf.hardware import machine_key

    return {"key": machine_key(device), "matmul_fp32_flops": 1e11, "matmul_bf16_flops": 5e10, "copy_bytes_per_s": 1e10}


def test_bench_model_json_is_positive_and_consistent(tmp_path, monkeypatch):
    from turboyolo.perf import hardware

    from turboyolo.perf import model_bench

    # fast path: a stand-in for the short trainer run (the real one is the slow test below)
    monkeypatch.setattr(model_bench, "_trainer_run", lambda cfg: {"images_per_s": 7.5, "train_source": "stand-in"})
    monkeypatch.setattr(hardware, "measure_peak", _fake_peak)  # bench hw is tested on its own
    figures = _bench(tmp_path, "data=synthetic")
    assert all(key in figures for key in REQUIRED)
    for key in ("params", "gflops", "train_gflops_per_image", "train_images_per_s", "peak_fraction", "loader_images_per_s",
                "forward_s_per_batch", "forward_backward_s_per_batch"):
        assert figures[key] > 0, key
    # backward costs about twice the forward: training FLOPs ~ 3x inference, within 20%
    assert 0.8 * 3 <= figures["train_gflops_per_image"] / figures["gflops"] <= 1.2 * 3
    assert figures["forward_backward_s_per_batch"] > figures["forward_s_per_batch"]
    assert figures["peak_fraction"] == pytest.approx(
        figures["train_gflops_per_image"] * 1e9 * figures["train_images_per_s"] / figures["peak_flops"])
    assert figures["train_source"] == "stand-in" and figures["train_images_per_s"] == 7.5
    # the loss's share of a step and the model-only ceiling (issue 13), with crowded images
    assert figures["bench_boxes"] == 55 and figures["loss_s_per_batch"] > 0
    assert 0 <= figures["loss_share"] < 1
    assert figures["model_only_images_per_s"] > 0 and figures["step_images_per_s"] > 0


@pytest.fixture
def private_tempdir(tmp_path, monkeypatch):
    """tempfile's folder for this test, to check that a bench removes what it wrote there."""
    import tempfile

    folder = tmp_path / "tempdir"
    folder.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(folder))
    return folder


def _ours(folder):
    return [p.name for p in folder.iterdir() if p.name.startswith("turboyolo")]  # torch keeps its own caches there


@pytest.mark.slow
def test_bench_model_with_real_trainer_and_loader(tmp_path, private_tempdir):
    figures = _bench(tmp_path, "data=synthetic")
    assert figures["train_images_per_s"] > 0 and figures["train_source"].startswith("trainer")
    assert figures["train_breakdown"]["forward_s"] > 0
    assert _ours(private_tempdir) == []  # the trainer's throw-away run folder is gone


def test_bench_hw_json(tmp_path, monkeypatch):
    from turboyolo.perf import hardware

    monkeypatch.setattr(hardware, "measure_matmul_flops", lambda device, dtype, **_: 1e11)
    monkeypatch.setattr(hardware, "measure_copy_bandwidth", lambda device, **_: 1e10)
    out = tmp_path / "hw.json"
    assert bench_cli.run(build_config({"out": str(out)}), ["hw"]) == 0
    figures = json.loads(out.read_text())
    assert figures["matmul_fp32_flops"] == 1e11 and figures["copy_bytes_per_s"] == 1e10


def test_bench_hw_figures_are_found_by_training_on_the_same_machine(tmp_path, monkeypatch):
    import torch

    from turboyolo.cores import threads_per_process
    from turboyolo.perf import hardware

    monkeypatch.setattr(hardware, "measure_matmul_flops", lambda device, dtype, **_: 1e11)
    monkeypatch.setattr(hardware, "measure_copy_bandwidth", lambda device, **_: 1e10)
    monkeypatch.setattr("os.sched_getaffinity", lambda pid: {0, 1, 2, 3})
    monkeypatch.setattr("turboyolo.cores.CGROUP_ROOT", tmp_path / "no-cgroup")
    before = torch.get_num_threads()
    try:
        assert bench_cli.run(build_config({"cache_dir": str(tmp_path)}), ["hw"]) == 0
        torch.set_num_threads(threads_per_process(0, 1))  # what a one-process training run sets
        assert hardware.cached_peak("cpu", str(tmp_path))["matmul_fp32_flops"] == 1e11
    finally:
        torch.set_num_threads(before)


def test_bench_scaling_predict_json(tmp_path):
    out = tmp_path / "predict.json"
    cfg = build_config({"gpus": "8", "nodes": "4", "link_gbps": "100", "step_s": "0.2", "out": str(out)})
    assert bench_cli.run(cfg, ["scaling", "predict"]) == 0
    figures = json.loads(out.read_text())
    assert [r["devices"] for r in figures["table"]] == [1, 2, 4, 8]
    assert all(0 < r["efficiency"] <= 1 for r in figures["table"])
    assert len(figures["yolov5l_validation"]["rows"]) == 3


def test_scaling_runs_forward_only_changed_keys_and_use_no_shell():
    cfg = build_config({"model": "s", "imgsz": "320", "nproc": "1,2", "amp": "off", "name": "x"}, sweeps={"nproc"})
    words = forwarded_overrides(cfg)
    assert "model=s" in words and "imgsz=320" in words and "amp=off" in words
    assert not any(w.startswith(("nproc=", "name=", "batch=")) for w in words)
    command = torchrun_command(2, ["bench", "train_once"] + words)
    assert command[:3] == [sys.executable, "-m", "torch.distributed.run"] and "2" in command


def test_unknown_bench_command_is_a_config_error():
    from turboyolo.config import ConfigError

    with pytest.raises(ConfigError):
        bench_cli.run(build_config({}), ["bogus"])
