"""Objectives: differentiable per-image energies of an image or of one layer's activations, and their sums.

Package ``restoration.objectives``: ``Term``, ``Objective``, ``FeatureLoss`` (:mod:`restoration.objectives.terms`) and
:mod:`restoration.objectives.jitter` (the jitter rules: which shifted window the net sees).

The names of :mod:`restoration.objectives.terms` are read from it on first use (PEP 562), so importing the package
or one of its light submodules does not start TensorFlow.
"""

from restoration.lazy import facade as _facade

__getattr__, __dir__ = _facade(__name__, "restoration.objectives.terms")
