"""A package whose names live in one implementation module that needs TensorFlow, read from it on first use
(PEP 562): importing the package, or one of its light submodules (also as ``from package import submodule``),
does not start TensorFlow."""

from __future__ import annotations

from importlib import import_module
from importlib.util import find_spec
from typing import Callable


def facade(package: str, implementation: str) -> tuple[Callable[[str], object], Callable[[], list[str]]]:
    """``(__getattr__, __dir__)`` for ``package`` that read names from the module ``implementation``."""

    def getattr_(name: str):
        if name.startswith("__"):
            raise AttributeError(name)
        if find_spec(f"{package}.{name}") is not None:  # a light submodule: `from package import submodule`
            return import_module(f"{package}.{name}")
        try:
            return getattr(import_module(implementation), name)
        except AttributeError:
            raise AttributeError(f"module {package!r} has no attribute {name!r}") from None

    def dir_() -> list[str]:
        return sorted(set(vars(import_module(package))) | set(dir(import_module(implementation))))

    return getattr_, dir_
