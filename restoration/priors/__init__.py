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

from restoration.lazy import facade as _facade

__getattr__, __dir__ = _facade(__name__, "restoration.priors.handmade")
