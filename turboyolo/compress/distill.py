"""Knowledge distillation: the student also learns the head outputs of a frozen, trained teacher.

Both heads predict, at every anchor point (grid cell of every stride), class logits (independent
sigmoids) and 4 distance distributions over reg_max bins (DFL). With the same strides the anchors
coincide, so the teacher's outputs are soft targets at each of them:
  * classes: binary KL between temperature-softened sigmoids, summed over classes, at every anchor
    (the teacher's "nothing here" is knowledge too);
  * boxes: KL between temperature-softened bin distributions, summed over the 4 sides, weighted
    by the teacher's top class score at the anchor (box shapes matter where the teacher sees objects);
both x T^2 (so gradients keep their size as T changes, Hinton et al. 2015) and normalised by the
sum of those teacher scores, the way the detection loss normalises by its soft targets.
`DistillationTask` plugs this into the training step's task seam (engine/train_step.py).
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from turboyolo.config import ConfigError
from turboyolo.engine import amp as amp_lib
from turboyolo.model.head import flatten_maps


def distillation_loss(student_maps: list[torch.Tensor], teacher_maps: list[torch.Tensor], num_classes: int,
                      reg_max: int, temperature: float) -> torch.Tensor:
    """Raw head maps of student and teacher, per stride (B, 4*reg_max + nc, H/s, W/s) -> scalar loss, normalised
    like a detection loss component (the task multiplies both by the batch size). Computed in fp32."""
    with torch.autocast(device_type=student_maps[0].device.type, enabled=False):
        student = flatten_maps([m.float() for m in student_maps])  # (B, A, 4R + C)
        teacher = flatten_maps([m.float() for m in teacher_maps]).detach()
        dist_s, cls_s = student.split((4 * reg_max, num_classes), dim=-1)
        dist_t, cls_t = teacher.split((4 * reg_max, num_classes), dim=-1)
        t = float(temperature)

        # KL(Bernoulli(p_t) || Bernoulli(p_s)) per class, from log-sigmoids (stable for large logits)
        p_t = torch.sigmoid(cls_t / t)
        class_kl = (p_t * (F.logsigmoid(cls_t / t) - F.logsigmoid(cls_s / t))
                    + (1 - p_t) * (F.logsigmoid(-cls_t / t) - F.logsigmoid(-cls_s / t))).sum(dim=-1)  # (B, A)

        log_q_s = F.log_softmax(dist_s.unflatten(-1, (4, reg_max)) / t, dim=-1)
        log_q_t = F.log_softmax(dist_t.unflatten(-1, (4, reg_max)) / t, dim=-1)
        box_kl = F.kl_div(log_q_s, log_q_t, reduction="none", log_target=True).sum(dim=(-1, -2))  # (B, A)

        objectness = torch.sigmoid(cls_t).amax(dim=-1)  # (B, A) the teacher's top class score
        normaliser = objectness.sum().clamp(min=1.0)
        return t * t * (class_kl.sum() + (objectness * box_kl).sum()) / normaliser


class DistillationTask:
    """task(model, images, targets) -> (detection loss + weight * batch * distillation loss, components).

    The teacher runs on the same images in eval mode with no gradients; it is never wrapped by the
    strategy (DDP/FSDP see only the student), so every `sync=` works and only the student learns.
    components: the detection loss's detached (3,) box, cls, dfl, as with DetectionTask.
    """

    def __init__(self, loss_fn, device: torch.device, amp_dtype: torch.dtype | None, teacher: nn.Module,
                 weight: float, temperature: float):
        self.loss_fn, self.device, self.amp_dtype = loss_fn, device, amp_dtype
        self.teacher = teacher.eval().requires_grad_(False)
        self.weight, self.temperature = float(weight), float(temperature)
        self.num_classes, self.reg_max = int(teacher.num_classes), int(teacher.reg_max)

    def __call__(self, model: nn.Module, images: torch.Tensor, targets: torch.Tensor):
        with amp_lib.autocast(self.device, self.amp_dtype):
            raw = model(images)
            with torch.no_grad():
                teacher_raw = self.teacher.forward_raw(images)
        loss, components = self.loss_fn(raw, targets)
        kd = distillation_loss(raw, teacher_raw, self.num_classes, self.reg_max, self.temperature)
        return loss + self.weight * images.shape[0] * kd, components


def load_teacher(path: str, student: nn.Module, names: list[str], device: torch.device,
                 memory_format: torch.memory_format = torch.contiguous_format) -> nn.Module:
    """The teacher checkpoint as a fused, frozen, eval-mode detector on `device`, or a one-line ConfigError
    when it cannot teach this student: other classes, strides or DFL bins (no shared anchor points)."""
    from pathlib import Path

    from turboyolo.engine.checkpoint import CheckpointError, eval_model, load_checkpoint

    if not Path(path).is_file():
        raise FileNotFoundError(f"teacher={path}: no such checkpoint; give the weights/best.pt of a trained run")
    try:
        ckpt = load_checkpoint(path)
    except CheckpointError as err:
        raise ConfigError(f"teacher={err}") from None
    teacher = eval_model(ckpt, device, memory_format).requires_grad_(False)
    student_strides, teacher_strides = [int(s) for s in student.strides.tolist()], [int(s) for s in teacher.strides.tolist()]
    if teacher_strides != student_strides:
        raise ConfigError(f"teacher={path}: its strides {teacher_strides} differ from the student's {student_strides}; "
                          "distillation compares the heads anchor by anchor, so both need the same detect strides")
    if teacher.reg_max != student.reg_max:
        raise ConfigError(f"teacher={path}: reg_max {teacher.reg_max} differs from the student's {student.reg_max}; "
                          "the box distributions must have the same bins")
    if list(ckpt["names"]) != list(names):
        raise ConfigError(f"teacher={path}: its classes {list(ckpt['names'])} are not the dataset's {list(names)} "
                          "(same names, same order); distil from a teacher trained on this dataset's classes")
    return teacher
