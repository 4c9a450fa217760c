r"""Learned patch priors: ICA, overcomplete ICA, Field of Experts and channel-independent ICA (CICA),
trained by score matching, used as :class:`restoration.objectives.Term` s on the image or on any layer.

The model (the thesis's ``modules/foe_full_prior.py``, ``utils/patch_prior_losses.py``)
-------------------------------------------------------------------------------------
A patch ``p`` is normalised and whitened, ``z = Whiten(norm(p))`` (:mod:`restoration.priors.patches`), and scored by

.. math:: E(z) = \sum_k \alpha_k \rho(w_k^\top z), \qquad \alpha_k = \mathrm{softplus}(a_k),\ \lVert w_k\rVert = 1

with the **Student-t** expert of a Field of Experts, :math:`\rho(s) = \log(1 + s^2/2)`, or the **logistic**
expert of ICA, :math:`\rho(s) = \log\cosh s`. ``K = d`` components is ICA, ``K > d`` overcomplete ICA.
**CICA** is one such model per feature-map channel (whitening per channel, ``W[C, K, d]``, ``a[C, K]``).

Score matching (Hyvärinen 2005, eq. 4; for :math:`\log p = -E`, :math:`g = -\rho'`):

.. math:: J = \sum_k \alpha_k\, \overline{g'(w_k^\top z)} + \tfrac12 \sum_{j,k} \alpha_j \alpha_k
          (w_j^\top w_k)\, \overline{g(w_j^\top z)\, g(w_k^\top z)}

Student: :math:`g(s) = -2s/(s^2+2)`, logistic: :math:`g(s) = -\tanh s`. The over-line is the batch mean.

As a term (:class:`PatchPrior`), per image, normalised as the thesis's ``utils/patch_prior_losses.py`` does:

* ICA / FoE (``*_full_mrf_loss``): ``weight x`` the **mean** over the ``M`` stride-1 patch positions of :math:`E`;
* CICA (``*_channelwise_mrf_loss``): ``weight x`` the **sum** over the ``M`` positions of :math:`E` divided by
  ``C x K`` (the thesis sums its ``(C, M, K)`` expert terms over positions, then averages over channels x
  components). So the thesis's CICA weights (1e-4 on conv1) mean what they meant there; the term grows with the
  map (``M``), as the thesis's did, and :func:`energy_factor` converts a mean per-patch energy to it. (Until
  issue 17 this project averaged CICA over positions and summed over ``C x K``: the thesis's weight was then off
  by ``M / (C K)``, 0.065x on VGG16 conv1_2 at 32 px, 4.9x at 224 px. We normalise the energy rather than
  rescale the weight, so a weight means the same thing here and in the thesis's code at any size. Where we still
  differ: the thesis's CICA weight was set on AlexNet conv1/lin, a 55x55 map (2,304 8x8 positions at 227 px);
  our feature-map CICA priors model VGG16 conv1_2/lin, 224x224 at 224 px (47,089 positions), so the same weight
  pulls about 20x harder against the feature MSE there.)

When the normalisation is linear (every switch but ``sdev="sample"``) this is one VALID convolution with the filters
``reshape(Whiten^T W)`` plus a bias (computed as windows-times-matrix, which is faster here; CICA as a
depthwise convolution); the sample-sdev switch divides by each window's RMS, computed with pooling.

Where this differs from the thesis code: the whitening centres before it scales (see ``patches``); the
validation patches come from held-out images, not the training ones.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from pathlib import Path

import numpy as np
import tensorflow as tf

from restoration import code_digest
from restoration.objectives import Term
from restoration.priors.patches import SAMPLE_EPS, PatchSpec, Whitening

__all__ = [
    "EXPERTS",
    "PriorSpec",
    "PriorParams",
    "PatchPrior",
    "score_matching_loss",
    "energy_np",
    "energy_factor",
    "save_prior",
    "load_prior",
    "prior_dir",
    "unit_rows",
]

EXPERTS = ("student", "logistic")


# ----------------------------------------------------------------------------------------------------------
# experts
# ----------------------------------------------------------------------------------------------------------


def rho(s, expert: str):
    if expert == "student":
        return tf.math.log1p(0.5 * tf.square(s))
    if expert == "logistic":
        a = tf.abs(s)  # log cosh s, stable for large |s|
        return a + tf.math.log1p(tf.exp(-2.0 * a)) - np.float32(np.log(2.0))
    raise ValueError(f"expert must be one of {EXPERTS}, got {expert!r}")


def g_and_dg(s, expert: str):
    """The score function ``g = -rho'`` and its derivative."""
    if expert == "student":
        q = tf.square(s) + 2.0
        return -2.0 * s / q, (2.0 * tf.square(s) - 4.0) / tf.square(q)
    if expert == "logistic":
        t = tf.tanh(s)
        return -t, -(1.0 - tf.square(t))
    raise ValueError(f"expert must be one of {EXPERTS}, got {expert!r}")


def unit_rows(W):
    """Rows of ``W (..., K, d)`` scaled to unit norm."""
    return W / tf.sqrt(tf.reduce_sum(tf.square(W), axis=-1, keepdims=True) + 1e-12)


def _round_to(x, dtype):
    """``x`` rounded to ``dtype``'s mantissa and kept in ``x``'s dtype (the gradient passes straight through)."""
    return x + tf.stop_gradient(tf.cast(tf.cast(x, dtype), x.dtype) - x)


def score_matching_loss(W, a, z, expert: str, *, precision: str = "float32"):
    r"""Hyvärinen's score-matching objective :math:`J` for a batch of whitened patches.

    ``W (K, d)``, ``a (K,)``, ``z (B, d)``; or channel-wise ``W (C, K, d)``, ``a (C, K)``, ``z (B, C, d)`` (the
    sum of the per-channel objectives: the channels are independent under CICA). Rows of ``W`` are normalised
    inside. Returns a scalar. ``precision="bfloat16"`` rounds the operands of the two batch products (the responses
    ``s`` and the expert Gram ``gg``) to bfloat16 and multiplies and sums them in float32, which is what the bfloat16
    dot-product units do (AMX, AVX512-BF16 accumulate into float32). TensorFlow's CPU matmul has no bfloat16-in,
    float32-out kernel, and its bfloat16-out kernels round each product before ``term2``'s reduction, whose terms
    cancel: on Eigen (an AVX2-only CPU) that moved the loss by 2.7 % against 0.1 % on oneDNN. Rounding the operands
    ourselves gives the same numbers on every kernel; it gains no speed (score matching gained only 1.26x from
    bfloat16 even on AMX, and its training stays float32 by default).
    """
    Wn = unit_rows(W)
    alpha = tf.nn.softplus(a)
    if len(Wn.shape) == 2:
        Wn, alpha, z = Wn[None], alpha[None], z[:, None, :]
    from restoration.nets import compute_dtype

    low = compute_dtype(precision)

    def product(eq, x, y):
        if low == tf.float32:
            return tf.einsum(eq, x, y)
        return tf.einsum(eq, _round_to(x, low), _round_to(y, low))

    s = product("ckd,bcd->bck", Wn, z)  # (B, C, K)
    g, dg = g_and_dg(s, expert)
    term1 = tf.reduce_sum(alpha * tf.reduce_mean(dg, axis=0))
    gram = tf.einsum("ckd,cjd->ckj", Wn, Wn)  # (C, K, K)
    gg = product("bck,bcj->ckj", g, g) / tf.cast(tf.shape(z)[0], g.dtype)
    term2 = 0.5 * tf.reduce_sum(alpha[:, :, None] * alpha[:, None, :] * gram * gg)
    return term1 + term2


# ----------------------------------------------------------------------------------------------------------
# a trained prior: spec, parameters, storage
# ----------------------------------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class PriorSpec:
    """What a prior is: ``name`` (its store key), the patches it models, ``n_components``, ``expert``,
    ``channelwise`` (CICA) and the default ``weight`` when used as a term."""

    name: str
    patch: PatchSpec
    n_components: int
    expert: str = "student"
    channelwise: bool = False
    weight: float = 1e-5

    def __post_init__(self):
        if self.expert not in EXPERTS:
            raise ValueError(f"PriorSpec.expert must be one of {EXPERTS}, got {self.expert!r}")
        if self.n_components < 1:
            raise ValueError(f"PriorSpec.n_components must be >= 1, got {self.n_components}")

    @property
    def kind(self) -> str:
        if self.channelwise:
            return "CICA"
        return "FoE" if self.expert == "student" else "ICA"

    def describe(self, d: int | None = None) -> str:
        over = "" if d is None else (" (overcomplete)" if self.n_components > d else "")
        per = " per channel" if self.channelwise else ""
        return (
            f"{self.kind} prior {self.name!r}: {self.n_components} {self.expert} experts{per}{over} on "
            f"{self.patch.describe()}"
        )


@dataclasses.dataclass
class PriorParams:
    """A trained prior: its spec, whitening, ``W`` (``(K, d)`` or ``(C, K, d)``, rows need not be unit),
    ``a``, the run that trained it and the photos its patches came from (``photos``: their names, ``photo_source``:
    where they are, e.g. ``"scikit-image"`` or a folder; ``None`` for a prior saved before they were recorded)."""

    spec: PriorSpec
    whitening: Whitening
    W: np.ndarray
    a: np.ndarray
    run_id: int | None = None
    natural_energy: float | None = None  # mean energy of held-out natural patches (a scale for weighting)
    photos: list[str] | None = None
    photo_source: str | None = None

    def describe_photos(self, limit: int = 8) -> str:
        """Which photos the prior saw, in words (the first ``limit`` names, then how many more)."""
        if self.photos is None:
            return (
                "photos not recorded (saved by an older version, whose quick-profile priors also learned from "
                "hubble_deep_field, immunohistochemistry and retina: retrain it)"
            )
        names = ", ".join(self.photos[:limit]) + (
            f" and {len(self.photos) - limit} more" if len(self.photos) > limit else ""
        )
        return f"{len(self.photos)} photos of {self.photo_source or 'an unnamed source'} ({names})"

    @property
    def W_unit(self) -> np.ndarray:
        return self.W / np.sqrt(np.sum(self.W**2, axis=-1, keepdims=True) + 1e-12)

    @property
    def alpha(self) -> np.ndarray:
        return np.logaddexp(0.0, self.a)

    def filters(self) -> np.ndarray:
        """Each component projected back through the whitening into normalised patch space: ``(K, C, ph, pw)``
        (or ``(C, K, ph, pw)`` for CICA). This is how the thesis showed its filters."""
        p = self.spec.patch
        Wu = self.W_unit
        if self.spec.channelwise:  # (C, K, d) x (C, P, d) -> (C, K, P)
            return np.einsum("ckd,cpd->ckp", Wu, self.whitening.inverse).reshape(p.channels, -1, p.ph, p.pw)
        return (Wu @ self.whitening.inverse.T).reshape(-1, p.channels, p.ph, p.pw)

    def analysis_filters(self) -> np.ndarray:
        """``v_k = Whiten^T w_k``: the linear maps from a normalised patch to the expert inputs,
        ``(K, C, P)`` (CICA: ``(C, K, P)``)."""
        p = self.spec.patch
        if self.spec.channelwise:
            return np.einsum("ckd,cdp->ckp", self.W_unit, self.whitening.matrix)
        return (self.W_unit @ self.whitening.matrix).reshape(-1, p.channels, p.P)


def prior_dir(root, name: str) -> Path:
    return Path(root) / "priors" / name


def save_prior(params: PriorParams, root) -> Path:
    """Write ``<root>/priors/<name>/`` (parameters, whitening, spec and the training run); returns the folder."""
    folder = prior_dir(root, params.spec.name)
    folder.mkdir(parents=True, exist_ok=True)
    tmp = folder / "params.tmp.npz"
    np.savez(tmp, W=params.W, a=params.a)
    params.whitening.save(folder / "whitening.npz")
    spec = dataclasses.asdict(params.spec)
    photos = None if params.photos is None else {"source": params.photo_source, "names": list(params.photos)}
    (folder / "spec.json").write_text(
        json.dumps(
            {
                "spec": spec,
                "run_id": params.run_id,
                "natural_energy": params.natural_energy,
                "photos": photos,
                "code": code_digest.code_digest(),
            },
            indent=1,
        )
    )
    tmp.replace(folder / "params.npz")
    return folder


def load_prior(name: str, root) -> PriorParams:
    """The prior saved under ``name``; a clear error names the folder and how to train it."""
    folder = prior_dir(root, name)
    needed = [folder / f for f in ("params.npz", "whitening.npz", "spec.json")]
    missing = [p.name for p in needed if not p.is_file()]
    if missing:
        raise FileNotFoundError(
            f"no trained prior {name!r} in {folder} (missing {', '.join(missing)}); train it "
            f"first: python -m restoration_experiments priors with prior={name}"
        )
    meta = json.loads((folder / "spec.json").read_text())
    s = meta["spec"]
    spec = PriorSpec(
        name=s["name"],
        patch=PatchSpec(**s["patch"]),
        n_components=s["n_components"],
        expert=s["expert"],
        channelwise=s["channelwise"],
        weight=s["weight"],
    )
    with np.load(folder / "params.npz") as z:
        W, a = z["W"], z["a"]
    ident = hashlib.sha1(np.ascontiguousarray(W).tobytes() + np.ascontiguousarray(a).tobytes()).hexdigest()[:12]
    code_digest.note("prior", name, f"run {meta.get('run_id')} #{ident}", meta.get("code"))
    photos = meta.get("photos") if isinstance(meta.get("photos"), dict) else {}
    names = photos.get("names")
    return PriorParams(
        spec,
        Whitening.load(folder / "whitening.npz"),
        W,
        a,
        meta.get("run_id"),
        meta.get("natural_energy"),
        [str(n) for n in names] if isinstance(names, list) else None,
        photos.get("source"),
    )


# ----------------------------------------------------------------------------------------------------------
# the energy as a term
# ----------------------------------------------------------------------------------------------------------


def energy_np(params: PriorParams, patches) -> np.ndarray:
    """Per-patch energy ``(M,)`` of raw patches ``(M, C, P)`` by the explicit pipeline (reference for tests)."""
    z = params.whitening.apply(patches).astype(np.float64)
    Wu, alpha = params.W_unit, params.alpha
    if params.spec.channelwise:
        s = np.einsum("ckd,mcd->mck", Wu, z)
    else:
        s = (z @ Wu.T)[:, None, :]
        alpha = alpha[None]
    a = np.abs(s)
    r = np.log1p(0.5 * s**2) if params.spec.expert == "student" else a + np.log1p(np.exp(-2.0 * a)) - np.log(2.0)
    return np.sum(alpha[None] * r, axis=(1, 2))


def energy_factor(spec: PriorSpec, height: int, width: int) -> float:
    """What :meth:`PatchPrior.energy` of an ``height x width`` map is, in units of the mean per-patch energy
    (:func:`energy_np`'s mean): 1 for ICA / FoE (a mean over positions); ``M / (C K)`` for CICA (a sum over the
    ``M = (height - ph + 1)(width - pw + 1)`` positions over channels x components, the thesis's normalisation).
    A weight meant to make the term ``scale`` on natural images is ``scale / (natural energy x this)``."""
    p = spec.patch
    if isinstance(height, bool) or isinstance(width, bool) or int(height) < p.ph or int(width) < p.pw:
        raise ValueError(f"prior {spec.name!r} needs maps of at least {p.ph}x{p.pw}, got {height}x{width}")
    if not spec.channelwise:
        return 1.0
    return (int(height) - p.ph + 1) * (int(width) - p.pw + 1) / (p.channels * spec.n_components)


class PatchPrior(Term):
    r"""The prior's energy per image ``(N,)`` times ``weight``: ICA / FoE the mean over stride-1 patch positions,
    CICA the sum over positions divided by channels x components (the thesis's normalisations; module docstring).

    Reads ``layer`` (default: the layer the prior was trained on). A prior applied to another layer, or to maps
    with another channel count, is an error naming both.
    """

    def __init__(
        self, params: PriorParams, *, layer: str | None = None, weight: float | None = None, name: str | None = None
    ):
        trained = params.spec.patch.layer
        layer = trained if layer is None else layer
        if layer != trained:
            raise ValueError(
                f"prior {params.spec.name!r} was trained on {params.spec.patch.describe()}; it cannot "
                f"score layer {layer!r}. Train a prior on {layer!r} (experiments 'priors') or use "
                f"one trained there"
            )
        super().__init__(name or f"prior/{params.spec.name}", layer, params.spec.weight if weight is None else weight)
        self.params = params
        self._build()

    def _build(self) -> None:
        p, wh = self.params, self.params.whitening
        spec, norm, st = p.spec.patch, wh.norm, wh.stats
        cica = p.spec.channelwise
        if cica and norm.mean == "sample_feature":
            raise ValueError(
                f"prior {p.spec.name!r}: a channel-wise (CICA) prior cannot use mean='sample_feature' "
                f"(it mixes channels); use 'sample_channel' or a dataset mean"
            )
        # V[c, k, :] : the weights of channel c's window entries in expert k's input (CICA: only its own channel)
        V = p.analysis_filters().astype(np.float64)  # (K, C, P) or, CICA, (C, K, P)
        if not cica:
            V = np.transpose(V, (1, 0, 2))  # -> (C, K, P)
        if norm.sdev == "dataset_channel":  # scaling folded into the filters
            V = V / st.sdev_channel[:, None, None]
        elif norm.sdev == "dataset_feature":
            V = V / st.sdev_feature[:, None, :]
        elif norm.sdev == "rescale":
            V = V / norm.rescale
        if norm.mean == "dataset_channel":  # a dataset mean is a bias
            bias = -np.einsum("ckp,c->ck", V, st.mean_channel)
        elif norm.mean == "dataset_feature":
            bias = -np.einsum("ckp,cp->ck", V, st.mean_feature)
        else:
            bias = np.zeros(V.shape[:2])
        if norm.mean == "sample_channel":  # a window's own mean is one more (box) filter
            V = V - V.sum(axis=2, keepdims=True) / spec.P
        elif norm.mean == "sample_feature":
            V = V - V.sum(axis=(0, 2), keepdims=True) / spec.D
        # (C, K, P) -> (ph, pw, C, K): a conv kernel (summing over C) or a depthwise kernel (CICA)
        k = np.transpose(V.reshape(V.shape[0], V.shape[1], spec.ph, spec.pw), (2, 3, 0, 1))
        self._kernel = tf.constant(k.astype(np.float32))
        self._matrix = tf.reshape(self._kernel, (spec.ph * spec.pw * spec.channels, -1))  # (ph*pw*C, K) rows
        self._per_channel = tf.reshape(
            tf.transpose(self._kernel, (2, 0, 1, 3)),  # CICA: (C, P, K)
            (spec.channels, spec.ph * spec.pw, -1),
        )
        self._bias = tf.constant((bias if cica else bias.sum(axis=0)).astype(np.float32))  # (C, K) or (K,)
        self._alpha = tf.constant(p.alpha.astype(np.float32))
        self._sample_sdev = norm.sdev == "sample"
        self._mean_dataset = None
        if norm.mean == "dataset_channel":
            self._mean_dataset = np.broadcast_to(st.mean_channel[:, None], (spec.channels, spec.P))
        elif norm.mean == "dataset_feature":
            self._mean_dataset = st.mean_feature

    def _expert_inputs(self, t):
        """``s (N, h, w, K)`` (CICA: ``(N, h, w, C, K)``) for maps ``t (N, H, W, C)``."""
        spec = self.params.spec.patch
        if t.shape.rank != 4 or t.shape[-1] != spec.channels:
            raise ValueError(
                f"prior {self.params.spec.name!r} models {spec.describe()}; got maps of shape "
                f"{t.shape} at {self.layer!r}"
            )
        if (t.shape[1] is not None and t.shape[1] < spec.ph) or (t.shape[2] is not None and t.shape[2] < spec.pw):
            raise ValueError(
                f"prior {self.params.spec.name!r} needs {spec.ph}x{spec.pw} windows but {self.layer!r} "
                f"is only {t.shape[1]}x{t.shape[2]} here; use a larger image or a prior with smaller "
                f"patches"
            )
        t = tf.cast(t, tf.float32)
        ph, pw, C = spec.ph, spec.pw, spec.channels
        if self.params.spec.channelwise:
            # a depthwise convolution, computed as windows x per-channel matrices (C batched matmuls): 2.7x faster
            # than tf.nn.depthwise_conv2d for 64 channels x 150 components here
            rows = tf.image.extract_patches(t, [1, ph, pw, 1], [1, 1, 1, 1], [1, 1, 1, 1], "VALID")
            shape = tf.shape(rows)
            per_channel = tf.transpose(tf.reshape(rows, (-1, ph * pw, C)), (2, 0, 1))  # (C, M, P)
            s = tf.transpose(tf.linalg.matmul(per_channel, self._per_channel), (1, 0, 2))  # (M, C, K)
            s = tf.reshape(s, tf.stack([shape[0], shape[1], shape[2], C, -1])) + self._bias
            if self._sample_sdev:
                s = s / self._window_rms(rows)[..., None, None]
        else:
            # every window as a row, then one matmul: about twice as fast as tf.nn.conv2d with 3 input channels
            # and hundreds of filters on this CPU (benchmarks/bench_priors.py); same numbers.
            rows = tf.image.extract_patches(t, [1, ph, pw, 1], [1, 1, 1, 1], [1, 1, 1, 1], "VALID")
            s = tf.linalg.matmul(rows, self._matrix) + self._bias
            if self._sample_sdev:
                s = s / self._window_rms(rows)[..., None]
        return s

    def _window_rms(self, rows):
        """RMS of each window after the centring (the sample-sdev switch), from the windows ``rows (N, h, w,
        P*C)`` in two passes (centre, then square), so float32 keeps its precision on pixel-scale values."""
        spec, norm = self.params.spec.patch, self.params.whitening.norm
        shape = tf.shape(rows)
        x = tf.reshape(rows, tf.stack([shape[0], shape[1], shape[2], spec.P, spec.channels]))
        if norm.mean == "sample_channel":
            x = x - tf.reduce_mean(x, axis=3, keepdims=True)
        elif norm.mean == "sample_feature":
            x = x - tf.reduce_mean(x, axis=[3, 4], keepdims=True)
        elif self._mean_dataset is not None:  # (C, P) -> (P, C), the rows' order
            x = x - tf.constant(np.ascontiguousarray(self._mean_dataset.T), tf.float32)
        return tf.sqrt(tf.reduce_mean(tf.square(x), axis=[3, 4]) + SAMPLE_EPS)

    def patch_energies(self, t):
        """Energy of every window, ``(N, h, w)``."""
        s = self._expert_inputs(t)
        r = rho(s, self.params.spec.expert)
        if self.params.spec.channelwise:
            return tf.reduce_sum(r * self._alpha, axis=(-2, -1))
        return tf.reduce_sum(r * self._alpha, axis=-1)

    def energy(self, t):
        e = self.patch_energies(t)
        if self.params.spec.channelwise:  # thesis: sum over positions, mean over the (C, K) channels x components
            return tf.reduce_sum(e, axis=(1, 2)) / float(self.params.alpha.size)
        return tf.reduce_mean(e, axis=(1, 2))
