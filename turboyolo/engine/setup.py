"""Wiring for a training run: process group, data, model, optimizer, EMA, resume, run folder.

Everything the loop needs is built here once and held in a `TrainingSetup`; the loop itself
(trainer.py) only reads it.
"""
from __future__ import annotations

import os
import random
from dataclasses import dataclass, field

import numpy as np
import torch

from turboyolo.config.derived import Derived, derive
from turboyolo.engine import amp as amp_lib
from turboyolo.engine.checkpoint import sweep_temp_files
from turboyolo.engine.ema import ModelEMA
from turboyolo.engine.optim import build_optimizer, planned_optimizer
from turboyolo.engine.progress import describe_processes
from turboyolo.engine.resume import (ELASTIC_MARK, elastic_run_dir, load_resume_checkpoint, resolve_resume_path,
                                     restore_train_state)
from turboyolo.engine.run_dir import RunDir, next_run_dir
from turboyolo.engine.run_logger import RunLogger
from turboyolo.engine.schedule import Schedule
from turboyolo.engine.train_state import TrainState
from turboyolo.engine.validator import validation_batch_per_rank


@dataclass
class TrainingSetup:
    """The fixed parts of a run, built once; what changes as the run goes on is `state` (a TrainState)."""

    cfg: object
    env: object
    strategy: object
    derived: Derived
    names: list
    model: torch.nn.Module
    wrapped: torch.nn.Module
    optimizer: torch.optim.Optimizer
    scaler: torch.amp.GradScaler | None
    ema: ModelEMA | None
    loss_fn: object
    schedule: Schedule
    timer: object
    train_loader: object
    val_loader: object
    val_records: list
    amp_dtype: torch.dtype | None
    memory_format: torch.memory_format
    run_dir: RunDir | None
    state: TrainState = field(default_factory=TrainState)
    logger: RunLogger | None = None  # rank 0 only
    train_flops_per_image: float = 0.0
    peak_flops: float = 0.0
    mfu: float | None = None
    category_ids: list | None = None  # COCO data: the dataset's category id of each class (save_json)
    extra: dict = field(default_factory=dict)

    def mfu_from(self, images_per_s_per_rank: float) -> float:
        """Model FLOPs utilisation: achieved training FLOP/s per rank over the device's measured peak."""
        from turboyolo.perf.flops import model_flops_utilization

        self.mfu = model_flops_utilization(self.train_flops_per_image, images_per_s_per_rank, self.peak_flops)
        if self.mfu > 1.0 and not self.extra.get("peak_remeasured"):
            self._remeasure_peak()  # a cached peak taken on a busy machine is too low: measure again
            self.mfu = model_flops_utilization(self.train_flops_per_image, images_per_s_per_rank, self.peak_flops)
        return self.mfu

    def _remeasure_peak(self) -> None:
        from turboyolo.perf.hardware import get_peak, measure_peak, save_peak

        self.extra["peak_remeasured"] = True
        figures = measure_peak(self.env.device, quick=False, include_allreduce=False)
        old = self.peak_flops
        save_peak(figures, self.cfg.cache_dir)
        self.peak_flops = max(get_peak(self.env.device, self.amp_dtype or torch.float32, self.cfg.cache_dir), old)
        if self.env.is_main and self.cfg.verbose:
            print(f"turboyolo: cached peak {old / 1e9:.0f} GFLOP/s was below the achieved rate; "
                  f"re-measured {self.peak_flops / 1e9:.0f} GFLOP/s")


def _seed_everything(seed: int, deterministic: bool) -> None:
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)
    if deterministic:
        torch.use_deterministic_algorithms(True, warn_only=True)
        os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")


def build_training_setup(cfg) -> TrainingSetup:
    from turboyolo.data.formats import load_dataset
    from turboyolo.data.image_cache import open_image_cache
    from turboyolo.data.loader import build_dataloader
    from turboyolo.distributed.factory import setup_distributed
    from turboyolo.engine.finetune import build_start_model
    from turboyolo.loss.detection_loss import DetectionLoss
    from turboyolo.perf.timing import StepTimer

    resume_path = resolve_resume_path(cfg)
    # resume continues the saved run with its own config (RunFinished when there is nothing left to do)
    ckpt = load_resume_checkpoint(cfg, resume_path, verbose=cfg.verbose) if resume_path else None

    env, strategy = setup_distributed(cfg)  # also sets this rank's torch threads (turboyolo/cores.py)
    _seed_everything(cfg.seed, cfg.deterministic)

    # rank 0 reads (and builds the label index cache) first, the others then read the cache
    if env.is_main:
        data = load_dataset(cfg.data, cfg.cache_dir, verbose=cfg.verbose, difficult=cfg.difficult)
    strategy.barrier()
    if not env.is_main:
        data = load_dataset(cfg.data, cfg.cache_dir, verbose=False, difficult=cfg.difficult)
    names = list(data.names)
    train_records = data.split("train")  # cfg.fraction is applied by the loader
    val_records = data.splits.get("val") or []

    # model=best.pt starts a fresh run from those weights; a resumed run rebuilds its saved spec
    model = build_start_model(cfg.model if ckpt is None else ckpt["spec"], names, cfg.freeze,
                              verbose=env.is_main and cfg.verbose)
    if cfg.qat:  # fake-quant modules before anything loads into the model or copies it (resume, EMA, DDP)
        from turboyolo.compress.qat import prepare_qat

        replaced = prepare_qat(model)
        if env.is_main and cfg.verbose:
            print(f"qat: {replaced} conv blocks fine-tune through int8 fake quantisation (BatchNorm folded and frozen)")
    memory_format = torch.channels_last if cfg.channels_last else torch.contiguous_format
    model = model.to(env.device, memory_format=memory_format)

    opt_name, base_lr = planned_optimizer(cfg, len(train_records), len(names), env.world_size)
    derived = derive(cfg, env.world_size, base_lr)

    if ckpt is not None:
        model.load_state_dict(ckpt["train_state"]["model"])
    loss_fn = DetectionLoss.from_config(model, cfg)
    # FLOPs and the EMA copy need a plain module: FSDP refuses deepcopy once it has sharded one
    complexity = _count_complexity(model, cfg.imgsz)
    if cfg.ema and not strategy.supports_ema:
        cfg.ema = False
        if env.is_main:
            print(f"turboyolo: ema disabled under sync={strategy.name} (its weights are sharded); validating the live weights")
    ema = ModelEMA(model, cfg.ema_decay, cfg.ema_tau) if cfg.ema else None
    compiled = torch.compile(model) if cfg.compile else model
    wrapped = strategy.wrap(compiled)
    optimizer = strategy.make_optimizer(
        lambda m: build_optimizer(m, opt_name, derived.lr0, cfg.momentum, derived.weight_decay, cfg.nesterov), wrapped)
    amp_dtype = amp_lib.resolve_amp(cfg.amp, env.device)
    scaler = amp_lib.make_scaler(env.device, amp_dtype)

    cache = open_image_cache(train_records + val_records, cfg)  # one copy per machine, shared by all ranks
    train_loader = build_dataloader(train_records, cfg, train=True, rank=env.rank, world_size=env.world_size,
                                    batch_size=derived.per_rank_batch, cache=cache, seed=cfg.seed,
                                    local_world_size=env.local_world_size, pin_memory=env.device.type == "cuda")
    val_loader = None
    if val_records and cfg.val:
        val_loader = build_dataloader(val_records, cfg, train=False, rank=env.rank, world_size=env.world_size,
                                      batch_size=validation_batch_per_rank(cfg.batch, env.world_size), cache=cache, seed=cfg.seed,
                                      local_world_size=env.local_world_size, pin_memory=env.device.type == "cuda")
    schedule = Schedule.from_config(cfg, derived.lr0, derived.micro_steps_per_step, len(train_loader))

    run_dir = None
    if env.is_main:
        path = resume_path.parent.parent if resume_path else (
            elastic_run_dir(cfg.project) or next_run_dir(cfg.project, cfg.name, cfg.exist_ok))
        run_dir = RunDir(path)
        run_dir.lock()  # held until the run ends: a second process cannot resume or reuse this folder
        swept = sweep_temp_files(run_dir.weights)
        if swept and cfg.verbose:
            print(f"turboyolo: removed {swept} partial checkpoint file(s) a kill left in {run_dir.weights}")
        if ckpt is None:
            run_dir.write_args(cfg, {**derived.as_dict(), "optimizer": opt_name})
            if os.environ.get("TORCHELASTIC_RUN_ID"):
                (path / ELASTIC_MARK).write_text(os.environ["TORCHELASTIC_RUN_ID"])
    setup = TrainingSetup(cfg, env, strategy, derived, names, model, wrapped, optimizer, scaler, ema, loss_fn, schedule,
                          StepTimer(env.device), train_loader, val_loader, val_records, amp_dtype, memory_format, run_dir)

    setup.category_ids = data.category_ids
    if run_dir is not None:
        setup.logger = RunLogger(run_dir, cfg.verbose, cfg.plots, env.world_size, amp_dtype, settings=dict(cfg),
                                 tensorboard=cfg.tensorboard, tensorboard_asked="tensorboard" in cfg.given)
    if ckpt is not None:
        restore_train_state(setup, ckpt)
    _report_complexity(setup, cfg, opt_name, complexity)
    return setup


def _count_complexity(model, imgsz: int) -> tuple[int, float, float]:
    """(parameters, inference FLOPs per image, training FLOPs per image); the last feeds the MFU figure."""
    from turboyolo.perf.flops import count_params, inference_flops_per_image, train_flops_per_image

    return count_params(model), inference_flops_per_image(model, imgsz), train_flops_per_image(model, imgsz)


def _report_complexity(s: TrainingSetup, cfg, opt_name: str, complexity) -> None:
    params, flops, s.train_flops_per_image = complexity
    try:
        from turboyolo.perf.hardware import get_peak

        s.peak_flops = get_peak(s.env.device, s.amp_dtype or torch.float32, cfg.cache_dir)  # where `bench hw` saved it
    except Exception as err:  # MFU is informative; never fail a run over it
        s.peak_flops = 0.0
        if s.env.is_main:
            print(f"turboyolo: peak FLOP/s unknown ({err}); MFU not reported")
    if s.env.is_main and cfg.verbose:
        amp_name = {None: "fp32", torch.bfloat16: "bf16", torch.float16: "fp16"}[s.amp_dtype]
        print(f"model {cfg.model}: {params / 1e6:.2f} M parameters, {flops / 1e9:.2f} GFLOPs/image at {cfg.imgsz} "
              f"(training {s.train_flops_per_image / 1e9:.2f} GFLOPs/image)")
        processes = describe_processes(s.strategy.name, s.env.world_size, s.env.device.type, torch.get_num_threads())
        print(f"{processes}, amp {amp_name}, {'channels_last' if cfg.channels_last else 'NCHW'}, optimizer {opt_name}: "
              f"{s.derived.describe()}")
