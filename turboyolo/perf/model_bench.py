"""`turboyolo bench model=n imgsz=640 batch=16`: one model's cost and speed on this machine.

Measures, in one run: parameters; inference GFLOPs and training GFLOPs per image; forward
(inference) and forward+backward time per batch, median of `bench_steps` after warm-up; training
images/s through the real trainer (`Trainer(cfg).fit()`, one epoch capped at `bench_steps`
optimizer steps, no validation); data-loader images/s alone; and the fraction of the device's
measured peak FLOP/s the training reaches.

Complexity (params, GFLOPs, forward timings) uses 80 classes, as published model tables do;
the training run uses the dataset's classes.
"""
from __future__ import annotations

import statistics
import tempfile
import time

import torch

from turboyolo.perf.flops import count_params, inference_flops_per_image, model_flops_utilization, train_flops_per_image
from turboyolo.perf.loss_share import measure_loss_share

PUBLISHED_CLASSES = 80
WARMUP_STEPS = 2


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def _median_seconds(fn, device: torch.device, steps: int) -> float:
    for _ in range(WARMUP_STEPS):
        fn()
    _sync(device)
    times = []
    for _ in range(steps):
        start = time.perf_counter()
        fn()
        _sync(device)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def synthetic_targets(batch: int, device: torch.device, classes: int, boxes_per_image: int) -> torch.Tensor:
    """(N, 6) [image_index, class, cx, cy, w, h] in 0..1 (like a real batch). Crowded images get
    smaller boxes (sides 0.05 .. 1/sqrt(boxes)): 55 per image is a BCCD mosaic's count and size."""
    generator = torch.Generator().manual_seed(0)
    size_span = min(0.3, boxes_per_image ** -0.5 - 0.05)
    rows = []
    for index in range(batch):
        for _ in range(boxes_per_image):
            cx, cy = (0.2 + 0.6 * torch.rand(2, generator=generator)).tolist()
            w, h = (0.05 + size_span * torch.rand(2, generator=generator)).tolist()
            rows.append([index, int(torch.randint(classes, (1,), generator=generator)), cx, cy, w, h])
    return torch.tensor(rows, dtype=torch.float32, device=device)


def time_model(model, loss_fn, cfg, device: torch.device, amp_dtype, steps: int) -> dict:
    """Forward (eval, no grad) and forward+backward (train, with loss) seconds per batch, medians;
    the loss's share of a training step and the model-only ceiling (perf/loss_share.py), with
    `bench_boxes` boxes per image."""
    from turboyolo.engine.amp import autocast

    memory_format = torch.channels_last if cfg.channels_last else torch.contiguous_format
    images = torch.rand(cfg.batch, 3, cfg.imgsz, cfg.imgsz, device=device).to(memory_format=memory_format)
    targets = synthetic_targets(cfg.batch, device, PUBLISHED_CLASSES, boxes_per_image=cfg.bench_boxes)

    def forward():
        with torch.no_grad(), autocast(device, amp_dtype):
            model(images)

    def forward_backward():
        with autocast(device, amp_dtype):
            raw = model(images)
        loss, _ = loss_fn(raw, targets)
        loss.backward()
        model.zero_grad(set_to_none=True)

    model.eval()
    forward_s = _median_seconds(forward, device, steps)
    model.train()
    forward_backward_s = _median_seconds(forward_backward, device, steps)
    share = measure_loss_share(model, loss_fn, images, targets, device, amp_dtype, steps)
    return {"forward_s_per_batch": forward_s, "forward_backward_s_per_batch": forward_backward_s,
            "loss_s_per_batch": share["loss_s"], "loss_share": share["loss_share"],
            "step_images_per_s": share["step_images_per_s"], "model_only_images_per_s": share["model_only_images_per_s"]}


def train_images_per_s(cfg) -> dict:
    """Short real training run: Trainer(cfg).fit() with epochs=1, max_steps=bench_steps, no val/plots."""
    return _trainer_run(cfg)


def _trainer_run(cfg) -> dict:
    from turboyolo.engine.trainer import Trainer

    run_cfg = type(cfg)(cfg)
    with tempfile.TemporaryDirectory(prefix="turboyolo-bench-") as project:  # its checkpoints are not wanted
        # accumulate=1: every batch is an optimizer step, so max_steps counts batches.
        run_cfg.update(epochs=1, max_steps=cfg.bench_steps, val=False, plots=False, verbose=False,
                       project=project, name="bench", exist_ok=True, accumulate=1, resume=False)
        summary = Trainer(run_cfg).fit()
    summary["train_source"] = "trainer (epochs=1, max_steps=bench_steps, val=False)"
    return summary


def random_input_steps(cfg) -> dict:
    """StepTimer summary of training steps (the trainer's TrainStep, plain SGD) on random images: the
    compute of one step without data loading, for `bench scaling predict`."""
    from turboyolo.distributed.env import DistEnv, select_device
    from turboyolo.distributed.strategy import Strategy
    from turboyolo.engine.train_step import DetectionTask, TrainStep
    from turboyolo.loss import DetectionLoss
    from turboyolo.model import build_model
    from turboyolo.perf.timing import StepTimer

    device = select_device(cfg.device)
    model = build_model(cfg.model, cfg.nc).to(device).train()
    strategy = Strategy(DistEnv(device=device))
    timer = StepTimer(device)
    runner = TrainStep(strategy, model, DetectionTask(DetectionLoss.from_config(model, cfg), device, None),
                       torch.optim.SGD(model.parameters(), lr=1e-3, momentum=0.9), timer=timer)
    images = torch.rand(cfg.batch, 3, cfg.imgsz, cfg.imgsz, device=device)
    targets = synthetic_targets(cfg.batch, device, cfg.nc, boxes_per_image=cfg.bench_boxes)
    for step in range(WARMUP_STEPS + cfg.bench_steps):
        if step == WARMUP_STEPS:
            timer.reset()
        timer.start_step()
        runner.micro(images, targets)
        runner.step(step + 1)
        timer.end_step(cfg.batch)
    return timer.summary()


def loader_images_per_s(cfg, batches: int) -> float | None:
    """Images/s of the training DataLoader alone (augmentation on, no model), after its first batch."""
    from turboyolo.data.formats import load_dataset
    from turboyolo.distributed.env import select_device
    from turboyolo.data import loader as loader_lib
    from turboyolo.data.image_cache import open_image_cache

    data = load_dataset(cfg.data, cfg.cache_dir, verbose=False)
    records = data.split("train")
    cache = open_image_cache(records, cfg)  # the training default (cache=ram) is what users get
    pin_memory = select_device(cfg.device).type == "cuda"  # as training pins its batches
    loader = loader_lib.build_dataloader(records, cfg, train=True, batch_size=cfg.batch, cache=cache, pin_memory=pin_memory)
    loader.set_epoch(0, 1)
    images, start = 0, None
    for epoch in range(1000):  # small datasets: go round again until enough batches
        if epoch:
            loader.set_epoch(epoch, 1000)
        for batch in loader:
            if start is None:  # the first batch pays for worker start-up
                start = time.perf_counter()
                continue
            images += batch["images"].shape[0]
            batches -= 1
            if batches <= 0:
                return images / (time.perf_counter() - start)
    return images / (time.perf_counter() - start) if start and images else None


def bench_model(cfg) -> dict:
    """All `bench model` figures as one dict (see the module docstring)."""
    from turboyolo.cores import threads_per_process
    from turboyolo.distributed.env import select_device
    from turboyolo.engine.amp import resolve_amp
    from turboyolo.loss import DetectionLoss
    from turboyolo.model import build_model
    from turboyolo.perf.hardware import get_peak

    torch.set_num_threads(threads_per_process(cfg.threads, 1))  # as a one-process training run sets them
    device = select_device(cfg.device)
    amp_dtype = resolve_amp(cfg.amp, device)
    model = build_model(cfg.model, PUBLISHED_CLASSES).to(device)
    if cfg.channels_last:
        model = model.to(memory_format=torch.channels_last)
    figures: dict = {
        "model": str(cfg.model), "imgsz": cfg.imgsz, "batch": cfg.batch, "device": str(device),
        "threads": torch.get_num_threads(), "amp": {None: "fp32", torch.bfloat16: "bf16", torch.float16: "fp16"}[amp_dtype],
        "bench_steps": cfg.bench_steps, "bench_boxes": cfg.bench_boxes,
    }
    figures["params"] = count_params(model)
    figures["gflops"] = inference_flops_per_image(model, cfg.imgsz) / 1e9
    figures["train_gflops_per_image"] = train_flops_per_image(model, cfg.imgsz, loss_fn=DetectionLoss) / 1e9
    figures.update(time_model(model, DetectionLoss.from_config(model, cfg), cfg, device, amp_dtype, cfg.bench_steps))
    figures["forward_images_per_s"] = cfg.batch / figures["forward_s_per_batch"]
    figures["forward_backward_images_per_s"] = cfg.batch / figures["forward_backward_s_per_batch"]
    del model

    training = train_images_per_s(cfg)
    figures["train_images_per_s"] = float(training.get("images_per_s", 0.0))
    figures["train_source"] = training.get("train_source", "")
    figures["train_breakdown"] = {k: v for k, v in training.items()
                                  if k.endswith("_s") or k.endswith("_share") or k in ("steps", "images")}
    try:
        figures["loader_images_per_s"] = loader_images_per_s(cfg, cfg.bench_steps)
    except Exception as err:  # the data pipeline is optional to the rest of the figures
        figures["loader_images_per_s"] = None
        figures["loader_error"] = f"{type(err).__name__}: {err}"

    peak = get_peak(device, amp_dtype or torch.float32, cfg.cache_dir)
    figures["peak_flops"] = peak
    achieved = figures["train_gflops_per_image"] * 1e9 * figures["train_images_per_s"]
    figures["achieved_train_flops"] = achieved
    figures["peak_fraction"] = (model_flops_utilization(figures["train_gflops_per_image"] * 1e9,
                                                        figures["train_images_per_s"], peak) if peak > 0 else None)
    return figures
