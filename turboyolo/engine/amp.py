"""Mixed precision: which autocast dtype a device gets, and the matching gradient scaler."""
from __future__ import annotations

import contextlib

import torch

from turboyolo.config import ConfigError


def cpu_supports_bf16() -> bool:
    """AVX512-BF16 or AMX makes bf16 autocast about 2x faster than fp32 on CPU; without it, slower."""
    try:
        flags = open("/proc/cpuinfo").read()
    except OSError:
        return False
    return "avx512_bf16" in flags or "amx_bf16" in flags


def resolve_amp(amp: str, device: torch.device) -> torch.dtype | None:
    """amp key -> autocast dtype (None = fp32). Refuses fp16 on CPU with a clear error."""
    if amp == "off":
        return None
    if amp == "fp16":
        if device.type != "cuda":
            raise ConfigError("amp=fp16 (or half=true) needs a CUDA device; on CPU use amp=bf16 or amp=off")
        return torch.float16
    if amp == "bf16":
        return torch.bfloat16
    # auto
    if device.type == "cuda":
        return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
    return torch.bfloat16 if cpu_supports_bf16() else None


def autocast(device: torch.device, dtype: torch.dtype | None):
    if dtype is None:
        return contextlib.nullcontext()
    return torch.autocast(device_type=device.type, dtype=dtype)


def make_scaler(device: torch.device, dtype: torch.dtype | None):
    """Only fp16 needs loss scaling; bf16 has fp32's exponent range."""
    if dtype is torch.float16:
        return torch.amp.GradScaler(device.type)
    return None
