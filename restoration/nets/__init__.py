"""Feature networks (VGG16, AlexNet) with every layer addressable by name, and their weight loaders.

Package ``restoration.nets``: ``build``, ``FeatureNet``, the weight loaders (:mod:`restoration.nets.feature_net`) and
:mod:`restoration.nets.geometry` (each operation's kernel, stride and padding; pure Python).

The names of :mod:`restoration.nets.feature_net` are read from it on first use (PEP 562), so importing the package
or one of its light submodules does not start TensorFlow.
"""

from restoration.lazy import facade as _facade

__getattr__, __dir__ = _facade(__name__, "restoration.nets.feature_net", "restoration.nets.weights")
