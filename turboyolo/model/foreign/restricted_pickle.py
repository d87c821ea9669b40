"""Read another trainer's .pt file, which pickles whole Python objects, without running any code from it.

A pickle is a small program: every class or function it names (its GLOBAL opcodes) is looked up
with `find_class` and may then be called with arguments from the file. A weights_only load
refuses module objects; a plain load would run whatever the file names (os.system, builtins.exec).
Here `find_class` answers with
  * the real torch functions that rebuild tensors, and plain containers (OrderedDict, set):
    data only, as in torch's own weights_only allowlist;
  * for a class of a known module package (torch.nn.modules.*, ultralytics.*) an inert
    `PickledObject` subclass of that name: calling it or restoring its state only records what
    the file gave it, so a layer's parameters can be read back from it and nothing runs (numpy
    scalars in saved metrics are kept the same way);
  * for anything else, `RefusedPickleError` naming the file and the global: the load stops.
"""
from __future__ import annotations

import _compat_pickle
import codecs
import collections
import pathlib
import pickle
import types
import zipfile
from pathlib import Path

import torch

from turboyolo.errors import UserError

# module packages whose classes become inert placeholders (layer classes of the model tree)
PLACEHOLDER_PACKAGES = ("torch.nn.modules.", "ultralytics.")
# numpy scalars in run metrics saved beside the weights: never read, so placeholders too (a real
# numpy scalar would be rebuilt from raw bytes the file chooses)
PLACEHOLDER_GLOBALS = {("numpy", "dtype"), ("numpy.core.multiarray", "scalar"), ("numpy._core.multiarray", "scalar")}


class RefusedPickleError(UserError, ValueError):
    """The file names a function or class that reading weights never needs; nothing from it was run."""


# (module, name) -> the real object: tensor rebuilding and plain containers only
ALLOWED_GLOBALS: dict[tuple[str, str], object] = {
    ("collections", "OrderedDict"): collections.OrderedDict,
    ("builtins", "set"): set,
    ("builtins", "frozenset"): frozenset,
    ("_codecs", "encode"): codecs.encode,  # how pickle protocol 2 writes bytes
    ("torch._utils", "_rebuild_tensor"): torch._utils._rebuild_tensor,
    ("torch._utils", "_rebuild_tensor_v2"): torch._utils._rebuild_tensor_v2,
    ("torch._utils", "_rebuild_parameter"): torch._utils._rebuild_parameter,
    ("torch._utils", "_rebuild_parameter_with_state"): torch._utils._rebuild_parameter_with_state,
    ("torch._tensor", "_rebuild_from_type_v2"): torch._tensor._rebuild_from_type_v2,
    ("torch", "Size"): torch.Size,
    ("torch", "device"): torch.device,
    ("torch.nn.parameter", "Parameter"): torch.nn.Parameter,
    # paths in saved run arguments: the pure classes, which never touch the file system
    ("pathlib", "PosixPath"): pathlib.PurePosixPath,
    ("pathlib", "WindowsPath"): pathlib.PureWindowsPath,
    ("pathlib", "PurePosixPath"): pathlib.PurePosixPath,
    ("pathlib", "PureWindowsPath"): pathlib.PureWindowsPath,
}


class PickledObject:
    """Stand-in for an object of class `pickled_class` in the file: keeps the pickled state, runs nothing.

    For a pickled torch.nn.Module the state is its __dict__: `_parameters`, `_buffers` and
    `_modules` (name -> tensor / child placeholder) plus plain attributes (e.g. `nc`, `f`).
    """

    pickled_class = "object"
    # until the file restores a state (unpickling makes the object without __init__): nothing
    call_args: tuple = ((), {})
    state: dict = {}

    def __init__(self, *args, **kwargs):  # "called" by a REDUCE: only remember the arguments
        self.__dict__["call_args"] = (args, kwargs)
        self.__dict__["state"] = {}

    def __setstate__(self, state):
        if isinstance(state, tuple) and len(state) == 2:  # (dict state, slot state)
            state = {**(state[0] or {}), **(state[1] or {})}
        self.__dict__["state"] = state if isinstance(state, dict) else {"value": state}

    @property
    def class_name(self) -> str:
        return self.pickled_class.rsplit(".", 1)[-1]

    def children(self) -> dict[str, "PickledObject"]:
        return dict(self.state.get("_modules") or {})

    def named_tensors(self, prefix: str = "") -> dict[str, torch.Tensor]:
        """What torch's state_dict() would hold, in its order: own parameters, persistent buffers, children."""
        tensors = {}
        skipped = set(self.state.get("_non_persistent_buffers_set") or ())
        for name, tensor in (self.state.get("_parameters") or {}).items():
            if tensor is not None:
                tensors[prefix + name] = tensor
        for name, tensor in (self.state.get("_buffers") or {}).items():
            if tensor is not None and name not in skipped:
                tensors[prefix + name] = tensor
        for name, child in self.children().items():
            if isinstance(child, PickledObject):
                tensors.update(child.named_tensors(f"{prefix}{name}."))
        return tensors

    def __repr__(self) -> str:
        return f"<pickled {self.pickled_class}>"


_placeholders: dict[str, type[PickledObject]] = {}


def placeholder_class(full_name: str) -> type[PickledObject]:
    """The one PickledObject subclass standing for `full_name` (module.Class)."""
    if full_name not in _placeholders:
        _placeholders[full_name] = type(full_name.rsplit(".", 1)[-1], (PickledObject,), {"pickled_class": full_name})
    return _placeholders[full_name]


class UnreadablePickleError(UserError, ValueError):
    """The file is truncated or damaged: its pickle cannot be read to the end."""


class _RefusedGlobal(Exception):
    """Raised inside the unpickler; `load_restricted` turns it into the one-line RefusedPickleError."""


def python3_name(module: str, name: str) -> tuple[str, str]:
    """Pickle protocol 2 (torch.save's) writes Python 2 names, e.g. __builtin__.set: map them as pickle does."""
    if (module, name) in _compat_pickle.NAME_MAPPING:
        return _compat_pickle.NAME_MAPPING[(module, name)]
    return _compat_pickle.IMPORT_MAPPING.get(module, module), name


class RestrictedUnpickler(pickle.Unpickler):
    def find_class(self, module: str, name: str):
        module, name = python3_name(module, name)
        if (module, name) in ALLOWED_GLOBALS:
            return ALLOWED_GLOBALS[(module, name)]
        if module == "torch" and isinstance(getattr(torch, name, None), (torch.dtype, torch.layout)):
            return getattr(torch, name)  # torch.float16 etc.: values, not code
        if (module.startswith(PLACEHOLDER_PACKAGES) and name.isidentifier()) or (module, name) in PLACEHOLDER_GLOBALS:
            return placeholder_class(f"{module}.{name}")
        raise _RefusedGlobal(f"{module}.{name}")


def _restricted_load(file, **kwargs):
    return RestrictedUnpickler(file, **kwargs).load()


# what torch.load takes as `pickle_module`: it subclasses our Unpickler and adds storage handling
RESTRICTED_PICKLE = types.ModuleType("turboyolo_restricted_pickle")
RESTRICTED_PICKLE.Unpickler = RestrictedUnpickler
RESTRICTED_PICKLE.load = _restricted_load
RESTRICTED_PICKLE.__doc__ = __doc__


def load_restricted(path: str | Path):
    """torch.load of `path` through the restricted unpickler (tensors on the CPU, modules as placeholders)."""
    if is_torchscript_archive(path):  # torch.load would hand it to torch.jit.load, past our unpickler
        raise RefusedPickleError(f"{path}: refused: a TorchScript archive (an exported model with its own code), "
                                 f"not a checkpoint; give the training checkpoint (.pt) instead")
    try:
        return torch.load(path, map_location="cpu", pickle_module=RESTRICTED_PICKLE, weights_only=False)
    except OSError:
        raise  # unreadable: the OS message says why
    except _RefusedGlobal as err:
        raise RefusedPickleError(
            f"{path}: refused: the file asks to run {err}, which reading weights never needs (a weights "
            f"file holds tensors, containers and layer classes only); nothing from it was run. "
            f"Use a checkpoint from a source you trust") from None
    except Exception as err:  # truncated or damaged: torch and pickle fail in many ways, with long messages
        raise UnreadablePickleError(f"{path}: cannot be read ({type(err).__name__}: truncated or damaged? "
                                    f"copy the file again)") from None


def is_torchscript_archive(path: str | Path) -> bool:
    """torch's own test: a zip with a constants.pkl record is TorchScript."""
    try:
        with zipfile.ZipFile(path) as archive:
            return any(name.endswith("/constants.pkl") for name in archive.namelist())
    except (zipfile.BadZipFile, OSError):
        return False


class _CensusUnpickler(pickle.Unpickler):
    """Records every global the pickle names and answers all of them with placeholders (runs nothing)."""

    def __init__(self, file):
        super().__init__(file)
        self.names: set[str] = set()

    def find_class(self, module: str, name: str):
        module, name = python3_name(module, name)
        self.names.add(f"{module}.{name}")
        return placeholder_class(f"{module}.{name}")

    def persistent_load(self, pid):  # tensor storages: not needed to list the names
        return None


def pickled_global_names(path: str | Path) -> set[str]:
    """Every module.name the object pickle inside a torch zip file refers to; empty for any other file.

    Reads names only: nothing in the file is called, and no tensor data is read.
    """
    try:
        with zipfile.ZipFile(path) as archive:
            pickle_name = next((n for n in archive.namelist() if n.endswith("/data.pkl") and n.count("/") == 1), None)
            if pickle_name is None:
                return set()
            census = _CensusUnpickler(archive.open(pickle_name))
            try:
                census.load()
            except Exception:  # a damaged pickle: the names read so far are what the caller gets
                pass
            return census.names
    except (zipfile.BadZipFile, OSError):
        return set()
