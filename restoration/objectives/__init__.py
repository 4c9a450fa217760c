"""Objectives: differentiable per-image energies of an image or of one layer's activations, and their sums.

Package ``restoration.objectives``: ``Term``, ``Objective``, ``FeatureLoss`` (:mod:`restoration.objectives.terms`) and
:mod:`restoration.objectives.jitter` (the jitter rules: which shifted window the net sees).

The names of :mod:`restoration.objectives.terms` are read from it on first use (PEP 562), so importing the package
or one of its light submodules does not start TensorFlow.
"""

from importlib import import_module as _import_module

_IMPLEMENTATION = "restoration.objectives.terms"


def __getattr__(name: str):
    if name.startswith("__"):
        raise AttributeError(name)
    try:
        return getattr(_import_module(_IMPLEMENTATION), name)
    except AttributeError:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}") from None


def __dir__():
    return sorted(set(globals()) | set(dir(_import_module(_IMPLEMENTATION))))
