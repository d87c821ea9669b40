"""The task a run trains with (forward + loss, the seam of engine/train_step.py), chosen from the config:
the detection loss, with distillation from `teacher=` and the BatchNorm sparsity penalty `sparsity=`
added when asked for (turboyolo/compress)."""
from __future__ import annotations

from turboyolo.config import ConfigError
from turboyolo.engine.train_step import DetectionTask


def build_task(cfg, setup):
    """cfg: the run config; setup: the TrainingSetup (loss, device, precision, the plain student model)."""
    verbose = setup.env.is_main and cfg.verbose
    if cfg.teacher:
        from turboyolo.compress.distill import DistillationTask, load_teacher

        teacher = load_teacher(cfg.teacher, setup.model, setup.names, setup.env.device, setup.memory_format)
        task = DistillationTask(setup.loss_fn, setup.env.device, setup.amp_dtype, teacher, cfg.distill, cfg.distill_t)
        if verbose:
            params = sum(p.numel() for p in teacher.parameters())
            print(f"distilling from teacher={cfg.teacher} ({params / 1e6:.2f} M parameters, frozen): "
                  f"weight distill={cfg.distill}, temperature distill_t={cfg.distill_t}")
    else:
        task = DetectionTask(setup.loss_fn, setup.env.device, setup.amp_dtype)
    if cfg.sparsity:
        from turboyolo.compress.sparsity import BatchNormSparsityTask

        if cfg.sync == "fsdp":  # sharded parameters: the BatchNorm scales are not whole tensors outside forward
            raise ConfigError("sparsity= does not work with sync=fsdp; use sync=ddp (or zero) for sparsity training")
        task = BatchNormSparsityTask(task, setup.model, cfg.sparsity)
        if verbose:
            print(f"sparsity training: L1 penalty {cfg.sparsity} per image on the BatchNorm scales")
    return task
