"""Device ceilings: measured figures are positive, cached per machine, reused by get_peak."""
import torch

from turboyolo.perf import hardware


def test_small_measurements_are_positive():
    device = torch.device("cpu")
    assert hardware.measure_matmul_flops(device, torch.float32, size=128, budget_s=0.05) > 1e8
    assert hardware.measure_copy_bandwidth(device, megabytes=4, budget_s=0.05) > 1e8


def test_get_peak_measures_once_then_reads_cache(monkeypatch, tmp_path):
    calls = []

    def fake_measure(device, include_allreduce=True, **_):
        calls.append(include_allreduce)
        return {"key": hardware.machine_key(device), "matmul_fp32_flops": 5e10, "matmul_bf16_flops": 2e10,
                "copy_bytes_per_s": 1e10}

    monkeypatch.setattr(hardware, "measure_peak", fake_measure)
    assert hardware.get_peak("cpu", torch.float32, cache_dir=str(tmp_path)) == 5e10
    assert hardware.get_peak("cpu", torch.bfloat16, cache_dir=str(tmp_path)) == 2e10
    assert hardware.get_peak("cpu", torch.float16, cache_dir=str(tmp_path)) == 5e10  # not measured: fp32
    assert calls == [False]  # measured once, and without a collective
    assert (tmp_path / hardware.CACHE_FILE).is_file()


def test_machine_key_depends_on_threads():
    before = torch.get_num_threads()
    key_one = hardware.machine_key("cpu")
    torch.set_num_threads(before + 1)
    try:
        assert hardware.machine_key("cpu") != key_one
    finally:
        torch.set_num_threads(before)


def test_describe_machine_names_processor_cores_and_torch(monkeypatch):
    import torch
    monkeypatch.setattr(hardware, "cpu_model", lambda: "Test CPU 9000")
    line = hardware.describe_machine()
    assert line.startswith("Test CPU 9000, ")
    from turboyolo.cores import usable_cores
    assert f"{usable_cores()} usable cores" in line
    assert line.endswith(f"torch {torch.__version__}")
