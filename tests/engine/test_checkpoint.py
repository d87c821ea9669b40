import errno
import os
import signal
import subprocess
import sys
import textwrap

import pytest
import torch

from turboyolo.engine.checkpoint import CheckpointError, atomic_save, load_checkpoint, write_checkpoint
from turboyolo.engine.ema import ModelEMA
from turboyolo.errors import DiskFullError


class Evil:  # any class outside torch's safe list must not be unpickled
    pass


def test_roundtrip_is_weights_only(tmp_path):
    path = tmp_path / "ck.pt"
    atomic_save({"model": {"w": torch.arange(3.0)}, "spec": {"scale": "n"}, "names": ["a"]}, path)
    assert torch.equal(load_checkpoint(path)["model"]["w"], torch.arange(3.0))


def test_arbitrary_pickle_is_refused(tmp_path):
    path = tmp_path / "evil.pt"
    torch.save({"model": {}, "spec": {}, "x": Evil()}, path)
    with pytest.raises(Exception, match="weights_only"):
        load_checkpoint(path)


def test_kill_during_save_keeps_previous_checkpoint(tmp_path):
    """A process killed mid-write leaves the old last.pt intact and no partial file named last.pt."""
    path = tmp_path / "last.pt"
    atomic_save({"model": {"w": torch.zeros(1)}, "spec": {"v": 1}}, path)
    script = textwrap.dedent(f"""
        import os, signal, torch
        from turboyolo.engine import checkpoint
        real_save = torch.save
        def dying_save(obj, fh):
            fh.write(b"partial bytes")
            fh.flush()
            os.kill(os.getpid(), signal.SIGKILL)
        checkpoint.torch.save = dying_save
        checkpoint.atomic_save({{"model": {{"w": torch.ones(1)}}, "spec": {{"v": 2}}}}, {str(path)!r})
    """)
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True)
    assert proc.returncode == -signal.SIGKILL
    assert load_checkpoint(path)["spec"] == {"v": 1}


def test_ema_tracks_weights_with_warmup():
    model = torch.nn.Linear(2, 1)
    ema = ModelEMA(model, decay=0.9, tau=1.0)
    with torch.no_grad():
        model.weight.fill_(1.0)
    for _ in range(200):
        ema.update(model)
    assert torch.allclose(ema.module.weight, torch.ones_like(model.weight), atol=1e-3)
    assert ema.current_decay() == pytest.approx(0.9, rel=1e-6)


def test_disk_full_is_one_line_naming_the_folder_and_keeps_the_previous_file(tmp_path, monkeypatch):
    path = tmp_path / "weights" / "last.pt"
    write_checkpoint({"model": {"w": torch.zeros(1)}, "spec": {"v": 1}}, path)

    def full_disk(obj, fh, *args, **kwargs):
        fh.write(b"partial bytes")
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(torch, "save", full_disk)
    with pytest.raises(DiskFullError) as caught:
        write_checkpoint({"model": {"w": torch.ones(1)}, "spec": {"v": 2}}, path)
    assert str(caught.value).startswith(f"no space left on {path.parent} while writing last.pt")
    assert "the previous last.pt is kept" in str(caught.value) and "\n" not in str(caught.value)
    monkeypatch.undo()
    assert load_checkpoint(path)["spec"] == {"v": 1}
    assert [p.name for p in path.parent.iterdir()] == ["last.pt"]


def test_other_write_errors_pass_through(tmp_path, monkeypatch):
    def read_only(obj, fh, *args, **kwargs):
        raise OSError(errno.EROFS, os.strerror(errno.EROFS))

    monkeypatch.setattr(torch, "save", read_only)
    with pytest.raises(OSError) as caught:
        write_checkpoint({"model": {}, "spec": {}}, tmp_path / "last.pt")
    assert caught.value.errno == errno.EROFS and not isinstance(caught.value, DiskFullError)


@pytest.mark.parametrize("content, message", [
    (b"", "is empty"),
    (b"\x80\x02not a pickle at all" * 10, "cannot be read as a checkpoint"),
])
def test_damaged_files_are_checkpoint_errors(tmp_path, content, message):
    path = tmp_path / "bad.pt"
    path.write_bytes(content)
    with pytest.raises(CheckpointError, match=message):
        load_checkpoint(path)


def test_a_text_file_is_named_as_not_a_torch_file(tmp_path):
    path = tmp_path / "data.yaml"
    path.write_text("path: .\ntrain: images/train\n")  # a data YAML given as weights= by mistake
    with pytest.raises(CheckpointError, match="not a torch file"):
        load_checkpoint(path)
