"""Hand-made priors of Mahendran & Vedaldi: the alpha-norm (bounded range), total variation and a soft pixel
range, as :class:`restoration.objectives.Term` s (``Term``, ``Objective`` and ``as_objective`` are re-exported
here for older imports). The learned patch priors (ICA, FoE, CICA) are in :mod:`restoration.priors.learned`.

Package ``restoration.priors``: the hand-made priors (:mod:`restoration.priors.handmade`);
:mod:`~restoration.priors.learned`
(ICA, overcomplete ICA, FoE, CICA energies and score matching), :mod:`~restoration.priors.patches` (patches,
whitening), :mod:`~restoration.priors.training` (training a prior), :mod:`~restoration.priors.sampling`
(MALA / HMC samples).

The names of :mod:`restoration.priors.handmade` are read from it on first use (PEP 562), so importing the package
or one of its light submodules does not start TensorFlow.
"""

from importlib import import_module as _import_module

_IMPLEMENTATION = "restoration.priors.handmade"


def __getattr__(name: str):
    if name.startswith("__"):
        raise AttributeError(name)
    try:
        return getattr(_import_module(_IMPLEMENTATION), name)
    except AttributeError:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}") from None


def __dir__():
    return sorted(set(globals()) | set(dir(_import_module(_IMPLEMENTATION))))
