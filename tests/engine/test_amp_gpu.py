"""Mixed precision on CUDA: fp16 with a GradScaler that skips overflowing steps, bf16 without one."""
import pytest
import torch

from turboyolo.engine import amp as amp_lib

pytestmark = pytest.mark.gpu
DEVICE = torch.device("cuda", 0)


def _model():
    torch.manual_seed(0)
    return torch.nn.Sequential(torch.nn.Conv2d(3, 8, 3), torch.nn.BatchNorm2d(8), torch.nn.SiLU()).to(DEVICE)


def test_fp16_gradscaler_steps_and_skips_an_overflow():
    dtype = amp_lib.resolve_amp("fp16", DEVICE)
    scaler = amp_lib.make_scaler(DEVICE, dtype)
    assert dtype is torch.float16 and isinstance(scaler, torch.amp.GradScaler)
    model = _model()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    x = torch.randn(4, 3, 16, 16, device=DEVICE)
    with amp_lib.autocast(DEVICE, dtype):
        out = model(x)
    assert out.dtype == torch.float16
    before = [p.detach().clone() for p in model.parameters()]
    scaler.scale(out.float().mean()).backward()
    scaler.step(optimizer)
    scaler.update()
    assert any(not torch.equal(b, p) for b, p in zip(before, model.parameters()))  # a finite step was taken
    scale = scaler.get_scale()
    optimizer.zero_grad()
    with amp_lib.autocast(DEVICE, dtype):
        out = model(x)
    scaler.scale(out.float().mean() * float("inf")).backward()
    kept = [p.detach().clone() for p in model.parameters()]
    scaler.step(optimizer)
    scaler.update()
    assert all(torch.equal(k, p) for k, p in zip(kept, model.parameters()))  # the overflowing step was skipped
    assert scaler.get_scale() < scale


def test_bf16_autocast_needs_no_scaler():
    if not torch.cuda.is_bf16_supported():
        pytest.skip("this GPU has no bf16")
    assert amp_lib.resolve_amp("auto", DEVICE) is torch.bfloat16
    assert amp_lib.make_scaler(DEVICE, torch.bfloat16) is None
    with amp_lib.autocast(DEVICE, torch.bfloat16):
        out = _model()(torch.randn(2, 3, 16, 16, device=DEVICE))
    assert out.dtype == torch.bfloat16 and torch.isfinite(out).all()
