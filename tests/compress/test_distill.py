"""Knowledge distillation (teacher=, distill=, distill_t=) and BatchNorm sparsity training (sparsity=):
both enter through the training step's task seam."""
from __future__ import annotations

import copy
import re
from types import SimpleNamespace

import pytest
import torch

from turboyolo.cli import main
from turboyolo.compress.distill import DistillationTask, distillation_loss, load_teacher
from turboyolo.compress.sparsity import BatchNormSparsityTask
from turboyolo.config import ConfigError, build_config
from turboyolo.engine.checkpoint import atomic_save, load_checkpoint
from turboyolo.engine.task_factory import build_task
from turboyolo.engine.train_step import DetectionTask
from turboyolo.engine.trainer import Trainer
from turboyolo.loss.detection_loss import DetectionLoss
from turboyolo.model.build import build_model
from turboyolo.model.spec import load_spec

NAMES = ["circle", "square", "triangle"]
CPU = torch.device("cpu")


def tiny_spec(detect=None) -> dict:
    spec = load_spec("n")
    spec["scales"] = {"t": [0.33, 0.125, 1024]}
    spec["scale"] = "t"
    if detect:
        spec["detect"] = detect
    return spec


def tiny_model(seed: int, detect=None):
    torch.manual_seed(seed)
    model = build_model(tiny_spec(detect), len(NAMES))
    model.names = list(NAMES)
    return model


def batch(size: int = 64):
    generator = torch.Generator().manual_seed(2)
    images = torch.rand(2, 3, size, size, generator=generator)
    targets = torch.tensor([[0, 1, 0.5, 0.5, 0.3, 0.4], [1, 2, 0.3, 0.6, 0.2, 0.2]], dtype=torch.float32)
    return images, targets


def test_distillation_loss_is_zero_for_equal_outputs_and_grows_with_the_difference():
    torch.manual_seed(0)
    teacher = [torch.randn(2, 4 * 16 + 3, s, s) for s in (8, 4, 2)]
    assert distillation_loss(teacher, [m.clone() for m in teacher], 3, 16, 2.0).item() == 0.0
    near = distillation_loss([m + 0.1 * torch.randn_like(m) for m in teacher], teacher, 3, 16, 2.0)
    far = distillation_loss([m + 1.0 * torch.randn_like(m) for m in teacher], teacher, 3, 16, 2.0)
    assert 0 < near < far


class RawMaps(torch.nn.Module):
    """An eval-mode detector (BatchNorm on running statistics, like the teacher) that returns raw maps,
    as a training-mode student does."""

    def __init__(self, detector):
        super().__init__()
        self.detector = detector.eval()

    def forward(self, images):
        return self.detector.forward_raw(images)


def test_task_adds_nothing_when_the_student_equals_the_teacher():
    teacher = tiny_model(0)
    student = RawMaps(copy.deepcopy(teacher))  # same weights and BatchNorm mode: the same head outputs
    loss_fn = DetectionLoss(teacher)
    images, targets = batch()
    plain, _ = DetectionTask(loss_fn, CPU, None)(student, images, targets)
    distilled, _ = DistillationTask(loss_fn, CPU, None, teacher, weight=5.0, temperature=2.0)(student, images, targets)
    assert distilled.item() == plain.item()


def test_gradient_reaches_only_the_student_and_carries_the_teacher():
    student, teacher = tiny_model(0).train(), tiny_model(1)
    teacher_before = copy.deepcopy(teacher.state_dict())
    loss_fn = DetectionLoss(student)
    images, targets = batch()

    task = DistillationTask(loss_fn, CPU, None, teacher, weight=1.0, temperature=2.0)
    loss, components = task(student, images, targets)
    loss.backward()
    distilled_grads = [p.grad.clone() for p in student.parameters()]
    assert all(p.grad is None for p in teacher.parameters()) and not teacher.training
    assert all(torch.equal(v, teacher.state_dict()[k]) for k, v in teacher_before.items())  # BN statistics too
    assert components.shape == (3,)

    student.zero_grad(set_to_none=True)
    plain, _ = DetectionTask(loss_fn, CPU, None)(student, images, targets)
    plain.backward()
    assert loss.item() > plain.item()
    assert any(not torch.allclose(g, p.grad) for g, p in zip(distilled_grads, student.parameters()))


def test_distillation_runs_under_bf16_autocast():
    student, teacher = tiny_model(0).train(), tiny_model(1)
    images, targets = batch()
    loss, _ = DistillationTask(DetectionLoss(student), CPU, torch.bfloat16, teacher, 1.0, 2.0)(student, images, targets)
    assert torch.isfinite(loss) and loss.dtype == torch.float32
    loss.backward()
    assert all(p.grad is None for p in teacher.parameters())


def test_sparsity_adds_the_l1_subgradient_of_the_batchnorm_scales():
    model = tiny_model(0).train()
    for module in model.modules():
        if isinstance(module, torch.nn.BatchNorm2d):
            module.weight.data.uniform_(-1, 1)
    images, targets = batch()
    inner = DetectionTask(DetectionLoss(model), CPU, None)
    inner(model, images, targets)[0].backward()
    plain = {name: p.grad.clone() for name, p in model.named_parameters()}
    model.zero_grad(set_to_none=True)
    BatchNormSparsityTask(inner, model, weight=1e-3)(model, images, targets)[0].backward()
    for name, p in model.named_parameters():
        extra = p.grad - plain[name]
        if name.endswith("bn.weight"):  # weight x batch x sign(scale)
            assert torch.allclose(extra, 1e-3 * 2 * p.detach().sign(), atol=1e-6), name
        else:
            assert torch.allclose(extra, torch.zeros_like(extra), atol=1e-6), name


@pytest.fixture(scope="module")
def synth_data(tmp_path_factory):
    from turboyolo.data.synth import generate_synthetic

    out = tmp_path_factory.mktemp("synth3")
    return str(generate_synthetic(out, n_train=16, n_val=4, imgsz=64, nc=3, seed=3))


def write_checkpoint(path, model, names=NAMES):
    atomic_save({"format": 1, "model": model.state_dict(), "spec": model.spec, "names": list(names),
                 "args": {}, "metrics": {}, "epoch": 1, "step": 1}, path)
    return path


def tiny_run(data, project, tmp_path, **keys):
    """A 2-step run of the tiny model (16 images at 64 px, batch 8)."""
    import yaml

    spec_file = tmp_path / "tiny.yaml"
    spec_file.write_text(yaml.safe_dump(tiny_spec(), sort_keys=False))
    return build_config(dict(data=data, model=str(spec_file), imgsz=64, batch=8, nbs=8, epochs=1, workers=0,
                             cache="none", val=False, project=str(project), verbose=False, plots=False,
                             warmup_epochs=0, **keys))


@pytest.mark.slow
def test_training_with_a_teacher_and_sparsity_composes_both_and_keeps_the_teacher(synth_data, tmp_path):
    teacher_path = write_checkpoint(tmp_path / "teacher.pt", tiny_model(1))
    before = load_checkpoint(teacher_path)["model"]
    cfg = tiny_run(synth_data, tmp_path, tmp_path, name="kd", teacher=str(teacher_path), distill=2.0, distill_t=3.0,
                   sparsity=1e-4)
    trainer = Trainer(cfg)
    assert trainer.fit()["steps"] == 2
    assert isinstance(trainer.task, BatchNormSparsityTask) and isinstance(trainer.task.inner, DistillationTask)
    assert trainer.task.inner.weight == 2.0 and trainer.task.inner.temperature == 3.0
    after = load_checkpoint(teacher_path)["model"]
    assert all(torch.equal(before[k], after[k]) for k in before)
    assert load_checkpoint(tmp_path / "kd" / "weights" / "last.pt")["args"]["teacher"] == str(teacher_path)


@pytest.mark.parametrize("teacher_kind, message", [
    ("strides", "strides [16, 32] differ from the student's [8, 16, 32]"),
    ("classes", "are not the dataset's"),
    ("missing", "no such checkpoint"),
    ("foreign", "not a turboyolo checkpoint"),
])
def test_a_teacher_that_cannot_teach_is_refused_with_the_reason(tmp_path, teacher_kind, message):
    path = tmp_path / "teacher.pt"
    if teacher_kind == "strides":
        write_checkpoint(path, tiny_model(1, detect=[18, 21]))
    elif teacher_kind == "classes":
        write_checkpoint(path, tiny_model(1), names=["cat", "dog", "bird"])
    elif teacher_kind == "foreign":
        torch.save({"state_dict": {}}, path)
    with pytest.raises((ConfigError, FileNotFoundError), match=re.escape(message)) as raised:
        load_teacher(str(path), tiny_model(0), NAMES, CPU)
    assert str(raised.value).startswith(f"teacher={path}")


def test_a_teacher_error_is_one_line_from_the_cli(synth_data, tmp_path, capsys):
    path = write_checkpoint(tmp_path / "teacher.pt", tiny_model(1, detect=[18, 21]))
    code = main(["train", f"data={synth_data}", "imgsz=64", "epochs=1", "workers=0", "cache=none", "val=false",
                 f"project={tmp_path / 'runs'}", "verbose=false", "plots=false", f"teacher={path}"])
    err = capsys.readouterr().err.strip()
    assert code == 2 and len(err.splitlines()) == 1, err
    assert f"teacher={path}: its strides [16, 32] differ" in err


def test_sparsity_with_fsdp_is_refused_in_one_line(synth_data, tmp_path):
    cfg = tiny_run(synth_data, tmp_path / "runs", tmp_path, sparsity=1e-3, sync="fsdp")
    setup = SimpleNamespace(env=SimpleNamespace(is_main=True, device=CPU), model=tiny_model(0), loss_fn=None,
                            amp_dtype=None)
    with pytest.raises(ConfigError, match="sparsity= does not work with sync=fsdp"):
        build_task(cfg, setup)
