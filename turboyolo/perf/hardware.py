"""The device's ceilings, measured once per machine: matmul FLOP/s, memory copy bytes/s, allreduce.

The MFU figure divides achieved training FLOP/s by these *measured* ceilings, not by a datasheet:
a 2-core shared CPU and a datacenter GPU both get a meaningful percentage, and the figure is
reproducible on the machine that reports it.

Results are cached as JSON in ``cache_root()/hardware.json``, keyed by hostname, CPU model or GPU
name, torch version and torch thread count (a process with 1 thread has a different ceiling from
one with 8). ``get_peak`` measures on a cache miss (about 2 s on a CPU).
"""
from __future__ import annotations

import json
import os
import platform
import socket
import time
from pathlib import Path

import torch

from turboyolo.paths import cache_root

CACHE_FILE = "hardware.json"


def cpu_model() -> str:
    """The processor's name as the OS reports it (the 'model name' of /proc/cpuinfo on Linux)."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def describe_machine() -> str:
    """One line naming the machine a benchmark figure was measured on: processor, usable cores, the bf16
    instructions that decide amp=auto, torch version. Every benchmark writes this line with its results."""
    try:
        flags = Path("/proc/cpuinfo").read_text()
    except OSError:
        flags = ""
    extras = [flag for flag in ("avx512_bf16", "amx_bf16") if f" {flag}" in flags]
    from turboyolo.cores import usable_cores

    line = f"{cpu_model()}, {usable_cores()} usable cores"
    if extras:
        line += ", " + ", ".join(extras)
    if torch.cuda.is_available():
        line += f", {torch.cuda.get_device_name(0)}"
    return f"{line}; torch {torch.__version__}"


def machine_key(device: torch.device | str) -> str:
    """What the measured ceilings depend on: host, processor, torch version, thread count."""
    device = torch.device(device)
    if device.type == "cuda":
        chip = torch.cuda.get_device_name(device)
    else:
        chip = cpu_model()
    return f"{socket.gethostname()}|{device.type}|{chip}|torch {torch.__version__}|threads {torch.get_num_threads()}"


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def _best_seconds(fn, device: torch.device, budget_s: float, max_repeats: int = 20) -> float:
    """Fastest of several runs of fn (after one warm-up), within roughly budget_s seconds."""
    fn()
    _sync(device)
    best = float("inf")
    spent = 0.0
    for _ in range(max_repeats):
        start = time.perf_counter()
        fn()
        _sync(device)
        elapsed = time.perf_counter() - start
        best = min(best, elapsed)
        spent += elapsed
        if spent > budget_s:
            break
    return best


def measure_matmul_flops(device: torch.device, dtype: torch.dtype, size: int | None = None, budget_s: float = 0.5) -> float:
    """FLOP/s of a square (size x size) @ (size x size) matmul: 2 * size^3 FLOPs per product."""
    if size is None:
        size = 8192 if device.type == "cuda" else 1024
    a = torch.randn(size, size, device=device).to(dtype)
    b = torch.randn(size, size, device=device).to(dtype)
    seconds = _best_seconds(lambda: torch.mm(a, b), device, budget_s)
    return 2.0 * size**3 / seconds


def measure_copy_bandwidth(device: torch.device, megabytes: int | None = None, budget_s: float = 0.3) -> float:
    """Bytes/s moved by a large tensor copy, counting the read and the write (2 x size)."""
    if megabytes is None:
        megabytes = 1024 if device.type == "cuda" else 64
    source = torch.empty(megabytes * 2**20 // 4, dtype=torch.float32, device=device).fill_(1.0)
    target = torch.empty_like(source)
    seconds = _best_seconds(lambda: target.copy_(source), device, budget_s)
    return 2.0 * source.numel() * 4 / seconds


def measure_allreduce(device: torch.device, numel: int, budget_s: float = 1.0) -> dict:
    """Allreduce of a float32 tensor of `numel` elements in the current process group.

    Returns algorithm bandwidth (bytes / time) and bus bandwidth (x 2(N-1)/N, the bytes each link
    carries in a ring allreduce; comparable across world sizes, as in nccl-tests).
    """
    import torch.distributed as dist

    world = dist.get_world_size()
    tensor = torch.ones(numel, dtype=torch.float32, device=device)

    def reduce_once():
        dist.all_reduce(tensor)

    seconds = _best_seconds(reduce_once, device, budget_s, max_repeats=10)
    # Ranks finish at different times; the slowest decides what training sees.
    slowest = torch.tensor([seconds], dtype=torch.float64, device=device)
    dist.all_reduce(slowest, op=dist.ReduceOp.MAX)
    seconds = float(slowest.item())
    algorithm_bw = numel * 4 / seconds
    return {
        "allreduce_bytes": numel * 4,
        "allreduce_s": seconds,
        "allreduce_algbw_bytes_per_s": algorithm_bw,
        "allreduce_busbw_bytes_per_s": algorithm_bw * 2 * (world - 1) / world,
        "world_size": world,
        "backend": str(dist.get_backend()),
    }


def measure_peak(device: torch.device | str = "cpu", grad_numel: int = 3_200_000, quick: bool = True,
                 include_allreduce: bool = True) -> dict:
    """Measure the device's ceilings; quick=True keeps a CPU under ~3 s.

    Keys: matmul_fp32_flops, matmul_bf16_flops (and matmul_fp16_flops on CUDA) in FLOP/s,
    copy_bytes_per_s, and the allreduce_* keys when a process group is initialised and
    include_allreduce (a collective: every rank must call; grad_numel: gradient elements,
    default ~ the n model).
    """
    device = torch.device(device)
    budget = 0.4 if quick else 2.0
    result = {
        "key": machine_key(device),
        "device": str(device),
        "threads": torch.get_num_threads(),
        "tf32": bool(device.type == "cuda" and torch.backends.cuda.matmul.allow_tf32),
        "matmul_fp32_flops": measure_matmul_flops(device, torch.float32, budget_s=budget),
        "matmul_bf16_flops": measure_matmul_flops(device, torch.bfloat16, budget_s=budget),
        "copy_bytes_per_s": measure_copy_bandwidth(device, budget_s=budget),
        "measured_at": time.strftime("%Y-%m-%d %H:%M:%S"),
    }
    if device.type == "cuda":
        result["matmul_fp16_flops"] = measure_matmul_flops(device, torch.float16, budget_s=budget)
    import torch.distributed as dist

    if include_allreduce and dist.is_available() and dist.is_initialized():
        result.update(measure_allreduce(device, grad_numel, budget_s=budget))
    return result


def _load_cache(path: Path) -> dict:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return {}


def save_peak(figures: dict, cache_dir: str | None = None) -> Path:
    """Store one machine's figures in the cache (atomic replace; other keys kept)."""
    path = cache_root(cache_dir) / CACHE_FILE
    entries = _load_cache(path)
    entries[figures["key"]] = figures
    tmp = path.with_suffix(f".tmp{os.getpid()}")
    tmp.write_text(json.dumps(entries, indent=2, sort_keys=True))
    os.replace(tmp, path)
    return path


def cached_peak(device: torch.device | str = "cpu", cache_dir: str | None = None) -> dict | None:
    return _load_cache(cache_root(cache_dir) / CACHE_FILE).get(machine_key(device))


_DTYPE_KEY = {torch.float32: "matmul_fp32_flops", torch.bfloat16: "matmul_bf16_flops", torch.float16: "matmul_fp16_flops"}


def get_peak(device: torch.device | str = "cpu", dtype: torch.dtype = torch.float32, cache_dir: str | None = None) -> float:
    """Peak matmul FLOP/s of `device` in `dtype` (the MFU denominator); measured on a cache miss.

    A dtype not measured on this device (fp16 on a CPU) falls back to the fp32 figure.
    """
    figures = cached_peak(device, cache_dir)
    if figures is None:
        # No collective here: ranks can disagree on cache hits, and a one-sided allreduce hangs.
        figures = measure_peak(device, include_allreduce=False)
        save_peak(figures, cache_dir)
    return float(figures.get(_DTYPE_KEY.get(dtype, "matmul_fp32_flops")) or figures["matmul_fp32_flops"])
