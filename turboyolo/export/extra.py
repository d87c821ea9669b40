"""The optional `export` extra (onnx, onnxruntime, onnxscript, onnxslim): imported here, or one line
saying how to get it."""
from __future__ import annotations

import importlib

from turboyolo.errors import UserError

INSTALL_HINT = "pip install 'turboyolo[export]'"


class MissingExtraError(UserError, ImportError):
    """A command needs a package of the `export` extra that is not installed."""


def require(module: str, needed_for: str):
    """`import module`, or a MissingExtraError naming the extra: 'turboyolo export' needs onnxruntime ..."""
    try:
        return importlib.import_module(module)
    except ImportError as err:
        raise MissingExtraError(f"{needed_for} needs the package {module.split('.')[0]}, which is not installed "
                                f"({err.name or module}); install the export extra: {INSTALL_HINT}") from None


def available(module: str) -> bool:
    """Whether an optional package (e.g. onnxslim) can be imported."""
    try:
        importlib.import_module(module)
    except ImportError:
        return False
    return True
