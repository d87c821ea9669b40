"""`turboyolo bench [model|hw|scaling [predict]] key=value ...`: measure what training costs here.

    turboyolo bench model=n imgsz=640 batch=16          # params, GFLOPs, fwd/bwd time, images/s, MFU
    turboyolo bench hw                                   # matmul FLOP/s, copy bytes/s (+ allreduce under torchrun)
    turboyolo bench scaling nproc=1,2                    # the same short training with 1 and 2 processes
    turboyolo bench scaling predict gpus=8 nodes=4 link_gbps=100

Every command prints a table; `out=FILE.json` also writes the same figures as JSON.
"""
from __future__ import annotations

import os

import torch

from turboyolo.config import ConfigError
from turboyolo.perf.report import print_figures, write_json

MODEL_LABELS = {
    "params": "parameters", "gflops": "GFLOPs / image (inference)", "train_gflops_per_image": "training GFLOPs / image",
    "forward_s_per_batch": "forward s / batch (median)", "forward_backward_s_per_batch": "forward+backward s / batch (median)",
    "forward_images_per_s": "forward images/s", "forward_backward_images_per_s": "forward+backward images/s",
    "loss_s_per_batch": "loss s / batch (forward+backward)", "loss_share": "loss share of a training step",
    "model_only_images_per_s": "model-only step images/s (ceiling)", "step_images_per_s": "training step images/s (random input)",
    "train_images_per_s": "training images/s", "loader_images_per_s": "loader images/s (alone)",
    "peak_flops": "device peak FLOP/s (measured)", "achieved_train_flops": "achieved training FLOP/s",
    "peak_fraction": "fraction of peak (MFU)",
}
HW_LABELS = {
    "matmul_fp32_flops": "matmul fp32 FLOP/s", "matmul_bf16_flops": "matmul bf16 FLOP/s",
    "matmul_fp16_flops": "matmul fp16 FLOP/s", "copy_bytes_per_s": "memory copy bytes/s (read+write)",
    "allreduce_bytes": "allreduce tensor bytes", "allreduce_s": "allreduce seconds",
    "allreduce_algbw_bytes_per_s": "allreduce algorithm bytes/s", "allreduce_busbw_bytes_per_s": "allreduce bus bytes/s",
}


def run(cfg, positional: list[str]) -> int:
    command = positional[0] if positional else "model"
    if command == "model":
        figures = bench_model_command(cfg)
    elif command == "hw":
        figures = bench_hw_command(cfg)
    elif command == "scaling":
        from turboyolo.perf import scaling_bench

        figures = scaling_bench.run_predict(cfg) if positional[1:2] == ["predict"] else scaling_bench.run_measured(cfg)
    elif command == "train_once":  # internal: one rank of a `bench scaling` run, launched by torchrun
        return train_once(cfg)
    else:
        raise ConfigError(f"bench: unknown command '{command}'; use model, hw, scaling or scaling predict")
    from turboyolo.perf.hardware import describe_machine

    figures["machine"] = describe_machine()  # every figure says where it was measured
    print(f"machine: {figures['machine']}")
    if cfg.out:
        print(f"wrote {write_json(cfg.out, figures)}")
    return 0


def bench_model_command(cfg) -> dict:
    from turboyolo.perf.diagnosis import diagnose, format_breakdown
    from turboyolo.perf.model_bench import bench_model

    figures = bench_model(cfg)
    print_figures(f"bench model={figures['model']} imgsz={figures['imgsz']} batch={figures['batch']} on "
                  f"{figures['device']} ({figures['threads']} threads, amp {figures['amp']}, "
                  f"median of {figures['bench_steps']} steps, {figures['bench_boxes']} boxes/image; timings and complexity at 80 classes)", figures, MODEL_LABELS)
    print(f"training images/s from: {figures['train_source']}")
    if figures.get("loader_error"):
        print(f"loader not measured: {figures['loader_error']}")
    breakdown = figures.get("train_breakdown") or {}
    if breakdown:
        print("training step: " + format_breakdown({**breakdown, "images_per_s": figures["train_images_per_s"]}))
        for line in diagnose(breakdown, figures.get("peak_fraction"), settings=cfg):
            print(f"diagnosis: {line}")
    return figures


def bench_hw_command(cfg) -> dict:
    """Measure the ceilings (allreduce too when launched by torchrun), cache them, print them."""
    import torch.distributed as dist

    from turboyolo.cores import threads_per_process
    from turboyolo.distributed.env import read_env
    from turboyolo.perf.hardware import measure_peak, save_peak

    env = read_env(cfg.device)
    # the threads training will use: the cached figures are keyed by the thread count
    torch.set_num_threads(threads_per_process(cfg.threads, env.local_world_size))
    started_group = False
    if env.world_size > 1 and not dist.is_initialized():
        if env.device.type == "cuda":
            torch.cuda.set_device(env.device)
        dist.init_process_group("nccl" if env.device.type == "cuda" else "gloo")
        started_group = True
    try:
        figures = measure_peak(env.device, grad_numel=_model_params(cfg.model), quick=False)
        save_peak(figures, cfg.cache_dir)
    finally:
        if started_group:
            dist.destroy_process_group()
    if env.is_main:
        print_figures(f"bench hw: {figures['key']}", figures, HW_LABELS)
    elif cfg.out:  # one file, from rank 0
        cfg.out = None
    return figures


def _model_params(model_key: str) -> int:
    """Gradient elements of the configured model (fallback: the n model's ~3.2 M)."""
    try:
        from turboyolo.model import build_model
        from turboyolo.perf.flops import count_params

        return count_params(build_model(model_key, 80))
    except Exception:
        return 3_200_000


def train_once(cfg) -> int:
    """One process of a scaling run: a short training; rank 0 writes the trainer's summary to out=."""
    from turboyolo.perf.model_bench import train_images_per_s

    summary = train_images_per_s(cfg)  # a scaling run must be the real trainer
    summary["world_size"] = int(os.environ.get("WORLD_SIZE", "1"))
    if cfg.out and int(os.environ.get("RANK", "0")) == 0:
        write_json(cfg.out, summary)
    return 0


