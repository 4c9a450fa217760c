"""A package whose names live in implementation modules that need TensorFlow, read from them on first use
(PEP 562): importing the package, or one of its light submodules (also as ``from package import submodule``),
does not start TensorFlow."""

from __future__ import annotations

from importlib import import_module
from importlib.util import find_spec
from typing import Callable


def facade(package: str, *implementations: str) -> tuple[Callable[[str], object], Callable[[], list[str]]]:
    """``(__getattr__, __dir__)`` for ``package`` that read names from the modules ``implementations``, the first
    that has the name."""

    def getattr_(name: str):
        if name.startswith("__"):
            raise AttributeError(name)
        if find_spec(f"{package}.{name}") is not None:  # a light submodule: `from package import submodule`
            return import_module(f"{package}.{name}")
        for implementation in implementations:
            module = import_module(implementation)
            if hasattr(module, name):
                return getattr(module, name)
        raise AttributeError(f"module {package!r} has no attribute {name!r}")

    def dir_() -> list[str]:
        names = set(vars(import_module(package)))
        for implementation in implementations:
            names |= set(dir(import_module(implementation)))
        return sorted(names)

    return getattr_, dir_
