"""Training set-up follows the shared rules: torch threads from turboyolo/cores.py, MFU from perf/flops.py
with the peak `bench hw` saved in the run's cache_dir."""
import pytest
import torch

from turboyolo.config import build_config
from turboyolo.data.synth import generate_synthetic
from turboyolo.engine.trainer import Trainer
from turboyolo.model.build import build_model
from turboyolo.perf.flops import model_flops_utilization, train_flops_per_image
from turboyolo.perf.hardware import machine_key, save_peak

PEAK = 1e15  # FLOP/s: far above what the CPU achieves, so the run keeps it (no re-measurement)


def test_training_uses_the_affinity_threads_and_the_saved_peak(tmp_path, monkeypatch):
    # this process may run on one core of a 64-core machine (taskset, a Slurm cpuset)
    monkeypatch.setattr("os.sched_getaffinity", lambda pid: {0})
    monkeypatch.setattr("os.cpu_count", lambda: 64)
    monkeypatch.setattr("turboyolo.cores.CGROUP_ROOT", tmp_path / "no-cgroup")
    data = generate_synthetic(tmp_path / "synth", n_train=8, n_val=2, imgsz=64, nc=2, seed=0)
    cache_dir = tmp_path / "cache"
    before = torch.get_num_threads()
    torch.set_num_threads(1)  # the figures are keyed by the thread count training will use
    save_peak({"key": machine_key("cpu"), "matmul_fp32_flops": PEAK, "matmul_bf16_flops": PEAK}, str(cache_dir))
    seen = {}
    cfg = build_config(dict(data=str(data), model="n", imgsz=64, batch=4, epochs=1, max_steps=1, workers=0,
                            cache="none", val=False, plots=False, verbose=False, amp="off", device="cpu",
                            project=str(tmp_path / "runs"), name="run", cache_dir=str(cache_dir)))
    try:
        summary = Trainer(cfg, {"on_train_start": [lambda trainer: seen.update(threads=torch.get_num_threads())]}).fit()
    finally:
        torch.set_num_threads(before)
    assert seen["threads"] == 1  # not os.cpu_count()
    flops = train_flops_per_image(build_model("n", 2), 64)
    assert summary["mfu"] == pytest.approx(model_flops_utilization(flops, summary["images_per_s_per_rank"], PEAK))
