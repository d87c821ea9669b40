"""Reading a pickle of module objects runs nothing from the file: known names become placeholders, others are refused."""
from __future__ import annotations

import builtins
import functools
import os

import pytest
import torch

from tests.model.foreign import ultralytics_fakes as fakes
from turboyolo.model.foreign import (RefusedPickleError, UnreadablePickleError, import_yolov8_checkpoint,
                                     is_yolov8_checkpoint, load_restricted)
from turboyolo.model.foreign.restricted_pickle import PickledObject


class RunsOnLoad:
    """Unpickling this calls `func(*args)`: what a malicious checkpoint does."""

    def __init__(self, func, *args):
        self.func, self.args = func, args

    def __reduce__(self):
        return self.func, self.args


def _payload(kind: str, marker) -> RunsOnLoad:
    command = f"touch {marker}"
    return {
        "os.system": RunsOnLoad(os.system, command),
        "builtins.exec": RunsOnLoad(builtins.exec, f"open({str(marker)!r}, 'w').close()"),
        "functools.partial": RunsOnLoad(functools.partial, os.system, command),
    }[kind]


# payload -> the global the refusal names (os.system pickles as posix.system on Linux)
@pytest.mark.parametrize("kind, named", [("os.system", f"{os.name == 'nt' and 'nt' or 'posix'}.system"),
                                         ("builtins.exec", "builtins.exec"),
                                         ("functools.partial", "functools.partial")])
def test_a_malicious_checkpoint_is_refused_and_runs_nothing(tmp_path, kind, named):
    marker = tmp_path / "pwned"
    payload = _payload(kind, marker)
    path = tmp_path / "yolov8n.pt"
    # a real-looking model with the payload beside it, as a tampered download would be
    fakes.write_checkpoint(path, fakes.build_fake("n", nc=2), train_args=payload)

    assert is_yolov8_checkpoint(path)  # listing its names calls nothing either
    with pytest.raises(RefusedPickleError) as refused:
        import_yolov8_checkpoint(path)
    message = str(refused.value)
    assert "\n" not in message and str(path) in message and "nothing from it was run" in message
    assert f"the file asks to run {named}," in message
    assert not marker.exists()


def test_module_objects_become_inert_placeholders_holding_their_tensors(tmp_path):
    model = torch.nn.Sequential(torch.nn.Conv2d(3, 4, 1), torch.nn.BatchNorm2d(4))
    torch.save({"net": model, "epoch": 3}, tmp_path / "whole.pt")

    loaded = load_restricted(tmp_path / "whole.pt")

    assert loaded["epoch"] == 3 and isinstance(loaded["net"], PickledObject)
    assert loaded["net"].pickled_class == "torch.nn.modules.container.Sequential"
    tensors = loaded["net"].named_tensors()
    assert list(tensors) == list(model.state_dict())
    for name, tensor in model.state_dict().items():
        assert torch.equal(tensors[name], tensor), name
    assert not hasattr(loaded["net"], "forward")  # nothing of the real class came along


def test_a_damaged_file_is_one_line(tmp_path):
    (tmp_path / "yolov8n.pt").write_bytes(b"\x80\x02}q\x00(X\x05\x00\x00\x00model")  # cut off mid-pickle
    with pytest.raises(UnreadablePickleError, match=r"yolov8n.pt: cannot be read \(\w+: truncated or damaged\?"):
        load_restricted(tmp_path / "yolov8n.pt")


@pytest.mark.filterwarnings("ignore::DeprecationWarning")  # torch.jit itself is deprecated
def test_a_torchscript_archive_is_refused_before_torch_load_could_hand_it_to_the_jit(tmp_path):
    torch.jit.save(torch.jit.script(torch.nn.Conv2d(3, 4, 1)), tmp_path / "exported.pt")
    with pytest.raises(RefusedPickleError, match=r"exported.pt: refused: a TorchScript archive"):
        load_restricted(tmp_path / "exported.pt")
