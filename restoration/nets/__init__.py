"""Feature networks (VGG16, AlexNet) with every layer addressable by name, and their weight loaders.

Package ``restoration.nets``: ``build``, ``FeatureNet``, the weight loaders (:mod:`restoration.nets.feature_net`) and
:mod:`restoration.nets.geometry` (each operation's kernel, stride and padding; pure Python).

The names of :mod:`restoration.nets.feature_net` are read from it on first use (PEP 562), so importing the package
or one of its light submodules does not start TensorFlow.
"""

from importlib import import_module as _import_module

_IMPLEMENTATION = "restoration.nets.feature_net"


def __getattr__(name: str):
    if name.startswith("__"):
        raise AttributeError(name)
    try:
        return getattr(_import_module(_IMPLEMENTATION), name)
    except AttributeError:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}") from None


def __dir__():
    return sorted(set(globals()) | set(dir(_import_module(_IMPLEMENTATION))))
