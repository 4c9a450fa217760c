"""Optimisation pre-images (Mahendran & Vedaldi 2015, 2016): find an image whose features match a target.

Package ``restoration.preimage``: ``invert`` and its settings (:mod:`restoration.preimage.optimise`); the M&V
pipeline on it, ``invert_layer``, ``sweep_layers``, ``compare_optimizers`` (:mod:`restoration.preimage.pipeline`);
:mod:`~restoration.preimage.recipes` (M&V 2015 / 2016 as data), :mod:`~restoration.preimage.featmap`
(inverting to a feature map), :mod:`~restoration.preimage.learned_prior` (the thesis's two-phase inversion with
a learned prior).

The names of those two modules are read from them on first use (PEP 562), so importing the package
or one of its light submodules does not start TensorFlow.
"""

from restoration.lazy import facade as _facade

__getattr__, __dir__ = _facade(__name__, "restoration.preimage.optimise", "restoration.preimage.pipeline")
