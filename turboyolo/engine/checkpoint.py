"""Checkpoints: atomic writes, safe loads (weights_only=True: no arbitrary pickle), RNG capture.

Format (a dict of tensors and plain Python values only):
  model: state_dict of the weights to use (EMA if enabled), spec: model spec dict, names: class names,
  args: the run config, metrics: last validation, epoch: last finished epoch, step: optimizer steps,
  train_state (for resume only): raw model, ema, optimizer, scaler, rng, sampler position.
"""
from __future__ import annotations

import os
import random
import tempfile
from pathlib import Path

import numpy as np
import torch

from turboyolo.errors import UserError, disk_full_error, is_disk_full

FORMAT_VERSION = 1
TEMP_SUFFIX = ".tmp"  # atomic_save's temp files: ".{name}.XXXX.tmp" beside the target


def _process_umask() -> int:
    mask = os.umask(0o022)  # reading the umask means setting it; put it straight back
    os.umask(mask)
    return mask


def atomic_save(obj: dict, path: str | Path) -> None:
    """Write to a temp file in the same folder, fsync, then rename: a kill never leaves a broken file.

    The file gets the permissions of any file the process creates (mkstemp alone would make it 0600).
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=TEMP_SUFFIX, dir=path.parent)
    try:
        os.fchmod(fd, 0o666 & ~_process_umask())
        with os.fdopen(fd, "wb") as fh:
            torch.save(obj, fh)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def sweep_temp_files(folder: str | Path) -> int:
    """Remove the temp files of atomic saves a kill interrupted in `folder`; returns how many.

    Call it only while holding the run folder's lock: a live writer's temp file looks the same.
    """
    removed = 0
    for tmp in Path(folder).glob(f".*.pt.*{TEMP_SUFFIX}"):
        tmp.unlink(missing_ok=True)
        removed += 1
    return removed


class CheckpointError(UserError, ValueError):
    """A file given as a checkpoint is empty, truncated, corrupt or not one turboyolo wrote."""


_CHECKPOINT_HINT = "give a weights/best.pt or weights/last.pt that `turboyolo train` wrote"


def load_checkpoint(path: str | Path, map_location="cpu") -> dict:
    """A turboyolo checkpoint (format above), or a one-line CheckpointError saying what the file is instead."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"checkpoint not found: {path}")
    if path.stat().st_size == 0:
        raise CheckpointError(f"{path} is empty (0 bytes), not a checkpoint; {_CHECKPOINT_HINT}")
    try:
        ckpt = torch.load(path, map_location=map_location, weights_only=True)
    except OSError:
        raise  # unreadable (permissions, I/O): the OS message says why
    except Exception as err:  # torch.load fails in many ways on a foreign or damaged file, with long messages
        raise CheckpointError(f"{path} cannot be read as a checkpoint ({_load_failure(err, path)}); "
                              f"{_CHECKPOINT_HINT}") from None
    if not isinstance(ckpt, dict) or "model" not in ckpt or "spec" not in ckpt:
        holds = f"a dict of {', '.join(map(str, list(ckpt)[:4]))}" if isinstance(ckpt, dict) else f"a {type(ckpt).__name__}"
        raise CheckpointError(f"{path} is a torch file but not a turboyolo checkpoint (it holds {holds}, "
                              f"not the 'model' and 'spec' entries); {_CHECKPOINT_HINT}")
    return ckpt


def _load_failure(err: Exception, path: Path) -> str:
    """Why torch.load refused a file, in a few words."""
    with path.open("rb") as fh:
        head = fh.read(4)
    if not (head.startswith(b"PK") or head[:1] == b"\x80"):  # neither torch's zip format nor a pickle
        return f"not a torch file: it starts with {head!r}"
    text = str(err)
    if "Unsupported global" in text or "weights_only" in text.lower():
        return "it pickles Python objects, e.g. another framework's model, which a weights_only load refuses"
    if "zip archive" in text or "central directory" in text or isinstance(err, EOFError):
        return "truncated or corrupt: an interrupted copy or save?"
    return f"not a torch file: torch.load raised {type(err).__name__}"


def write_checkpoint(ckpt: dict, path: str | Path) -> None:
    """atomic_save, with a full disk or quota reported as one line naming the folder (the previous file stays)."""
    try:
        atomic_save(ckpt, path)
    except OSError as err:
        if is_disk_full(err):
            raise disk_full_error(err, path, kept=True) from None
        raise


def eval_model(ckpt: dict, device: torch.device | str = "cpu",
               memory_format: torch.memory_format = torch.contiguous_format) -> torch.nn.Module:
    """The checkpoint's weights in a fused, eval-mode detector on `device` (val, predict, benchmarks)."""
    from turboyolo.model.build import build_model

    model = build_model(ckpt["spec"], len(ckpt["names"]))
    model.load_state_dict(ckpt["model"])
    model.eval().fuse()
    return model.to(device, memory_format=memory_format)


def capture_rng() -> dict:
    """RNG states as tensors and plain lists (weights_only-loadable)."""
    np_state = np.random.get_state()
    state = {
        "torch": torch.get_rng_state(),
        "numpy": [np_state[0], torch.from_numpy(np_state[1].astype(np.int64)), *np_state[2:]],
        "python": _to_lists(random.getstate()),
    }
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def restore_rng(state: dict) -> None:
    torch.set_rng_state(state["torch"])
    name, keys, pos, has_gauss, cached = state["numpy"]
    np.random.set_state((name, keys.numpy().astype(np.uint32), pos, has_gauss, cached))
    random.setstate(_to_tuples(state["python"]))
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


def _to_lists(x):
    return [_to_lists(v) for v in x] if isinstance(x, (tuple, list)) else x


def _to_tuples(x):
    return tuple(_to_tuples(v) for v in x) if isinstance(x, list) else x


def strip_for_inference(ckpt: dict) -> dict:
    """Drop the resume-only training state (smaller best.pt for deployment)."""
    return {k: v for k, v in ckpt.items() if k != "train_state"}
