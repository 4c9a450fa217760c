r"""Sampling patches from a trained prior: Metropolis-adjusted Langevin (MALA) and Hamiltonian Monte Carlo.

The thesis planned this ("do search on samplings from FoE models", "at some point look into hybrid MC
sampling") and never did it. A prior defines :math:`p(z) \propto \exp(-E(z))` on whitened patches ``z``
(:mod:`restoration.priors.learned`); both samplers work there, from ``z ~ N(0, I)`` (the whitened data's own
covariance), and report their acceptance rate. :func:`to_patches` maps samples back to patches (it undoes the
whitening and the dataset mean / sdev; a per-sample mean or sdev cannot be undone and is left at 0 / 1).

* **MALA**: proposal ``z' = z - (eps^2/2) grad E(z) + eps xi`` with the Metropolis-Hastings correction for the
  asymmetric proposal (unadjusted Langevin with ``adjust=False``).
* **HMC** (Duane et al. 1987; Neal 2011): momentum ``r ~ N(0, I)``, ``leapfrog`` steps of size ``eps``,
  accept with ``min(1, exp(H - H'))``.

Energies and gradients are analytic numpy (:math:`\nabla E = \sum_k \alpha_k \rho'(w_k^\top z) w_k`), chains are
independent rows.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from restoration.priors.learned import PriorParams

__all__ = ["SampleResult", "energy_and_grad", "mala", "hmc", "to_patches"]


@dataclasses.dataclass
class SampleResult:
    """``z`` final samples ``(M, d)`` (CICA ``(M, C, d)``), ``accept_rate`` over all proposals,
    ``accept_trace`` per step, ``energy_trace`` mean energy per step, the sampler's name and settings."""

    z: np.ndarray
    accept_rate: float
    accept_trace: np.ndarray
    energy_trace: np.ndarray
    method: str
    step_size: float
    steps: int


def _rho_and_drho(s, expert):
    if expert == "student":
        return np.log1p(0.5 * s * s), 2.0 * s / (2.0 + s * s)
    a = np.abs(s)
    return a + np.log1p(np.exp(-2.0 * a)) - np.log(2.0), np.tanh(s)


def energy_and_grad(params: PriorParams, z: np.ndarray):
    """``E (M,)`` and ``dE/dz`` (same shape as ``z``) of whitened patches."""
    Wu, alpha = params.W_unit.astype(np.float64), params.alpha.astype(np.float64)
    z = np.asarray(z, np.float64)
    if params.spec.channelwise:  # z (M, C, d), W (C, K, d)
        s = np.einsum("ckd,mcd->mck", Wu, z)
        r, dr = _rho_and_drho(s, params.spec.expert)
        return np.sum(alpha * r, axis=(1, 2)), np.einsum("mck,ckd->mcd", alpha * dr, Wu)
    s = z @ Wu.T  # (M, K)
    r, dr = _rho_and_drho(s, params.spec.expert)
    return r @ alpha, (dr * alpha) @ Wu


def _chains(params: PriorParams, n: int, z0, rng):
    """``(z, n)``: the start of ``n`` chains, ``z ~ N(0, I)``, or ``z0`` (whose length then sets ``n``)."""
    if z0 is not None:
        z = np.array(z0, np.float64)
        return z, len(z)
    d = params.whitening.d
    shape = (n, params.spec.patch.channels, d) if params.spec.channelwise else (n, d)
    return rng.standard_normal(shape), n


def mala(
    params: PriorParams,
    n: int = 64,
    steps: int = 1000,
    step_size: float = 0.1,
    *,
    seed: int = 0,
    adjust: bool = True,
    z0=None,
) -> SampleResult:
    """``n`` chains of (Metropolis-adjusted) Langevin dynamics."""
    rng = np.random.default_rng(seed)
    z, n = _chains(params, n, z0, rng)
    E, G = energy_and_grad(params, z)
    axes = tuple(range(1, z.ndim))
    acc, en = np.empty(steps), np.empty(steps)
    eps = float(step_size)
    for t in range(steps):
        prop = z - 0.5 * eps**2 * G + eps * rng.standard_normal(z.shape)
        E2, G2 = energy_and_grad(params, prop)
        if adjust:
            fwd = np.sum((prop - z + 0.5 * eps**2 * G) ** 2, axis=axes)
            bwd = np.sum((z - prop + 0.5 * eps**2 * G2) ** 2, axis=axes)
            log_a = (E - E2) + (fwd - bwd) / (2 * eps**2)
            ok = np.log(rng.random(n)) < log_a
        else:
            ok = np.ones(n, bool)
        z = np.where(ok.reshape((-1,) + (1,) * (z.ndim - 1)), prop, z)
        E, G = np.where(ok, E2, E), np.where(ok.reshape((-1,) + (1,) * (z.ndim - 1)), G2, G)
        acc[t], en[t] = ok.mean(), E.mean()
    return SampleResult(z, float(acc.mean()), acc, en, "MALA" if adjust else "ULA", eps, steps)


def hmc(
    params: PriorParams,
    n: int = 64,
    steps: int = 200,
    step_size: float = 0.1,
    leapfrog: int = 10,
    *,
    seed: int = 0,
    z0=None,
    tune_steps: int = 0,
    target_accept: float = 0.7,
) -> SampleResult:
    """``n`` chains of Hamiltonian Monte Carlo with ``leapfrog`` steps per proposal.

    ``tune_steps``: for the first steps the step size is multiplied by 1.1 after a step whose acceptance is
    above ``target_accept`` and by 0.9 otherwise (a crude adaptation), then frozen; ``accept_rate`` counts the
    steps after tuning only and ``step_size`` is the frozen value."""
    if leapfrog < 1 or steps < 1 or not 0 <= tune_steps < steps:
        raise ValueError(
            f"hmc needs leapfrog >= 1, steps >= 1 and 0 <= tune_steps < steps; got leapfrog={leapfrog}, "
            f"steps={steps}, tune_steps={tune_steps}"
        )
    rng = np.random.default_rng(seed)
    z, n = _chains(params, n, z0, rng)
    E, G = energy_and_grad(params, z)
    axes = tuple(range(1, z.ndim))
    acc, en = np.empty(steps), np.empty(steps)
    eps = float(step_size)
    bshape = (-1,) + (1,) * (z.ndim - 1)
    for t in range(steps):
        r0 = rng.standard_normal(z.shape)
        q, g, r = z.copy(), G, r0 - 0.5 * eps * G
        for i in range(leapfrog):
            q = q + eps * r
            Eq, g = energy_and_grad(params, q)
            if i < leapfrog - 1:
                r = r - eps * g
        r = r - 0.5 * eps * g
        H0 = E + 0.5 * np.sum(r0**2, axis=axes)
        H1 = Eq + 0.5 * np.sum(r**2, axis=axes)
        with np.errstate(over="ignore", invalid="ignore"):
            ok = np.log(rng.random(n)) < np.nan_to_num(H0 - H1, nan=-np.inf)
        z = np.where(ok.reshape(bshape), q, z)
        E, G = np.where(ok, Eq, E), np.where(ok.reshape(bshape), g, G)
        acc[t], en[t] = ok.mean(), E.mean()
        if t < tune_steps:
            eps *= 1.1 if acc[t] > target_accept else 0.9
    after = acc[tune_steps:]
    return SampleResult(z, float(after.mean()), acc, en, "HMC", eps, steps)


def to_patches(params: PriorParams, z) -> np.ndarray:
    """Whitened samples back to raw patch values ``(M, C, P)`` (dataset mean and sdev restored)."""
    wh = params.whitening
    x = wh.colour(z)
    norm, st = wh.norm, wh.stats
    if norm.sdev == "dataset_channel":
        x = x * st.sdev_channel[None, :, None]
    elif norm.sdev == "dataset_feature":
        x = x * st.sdev_feature[None]
    elif norm.sdev == "rescale":
        x = x * norm.rescale
    if norm.mean == "dataset_channel":
        x = x + st.mean_channel[None, :, None]
    elif norm.mean == "dataset_feature":
        x = x + st.mean_feature[None]
    return x
