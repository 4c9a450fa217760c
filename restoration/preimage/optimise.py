r"""Optimisation pre-images (Mahendran & Vedaldi 2015, 2016): find an image whose features match a target.

.. math:: x^* = \arg\min_x \sum_i w_i E_i(x), \qquad
          E_{\text{feat}}(x) = \frac{\lVert \Phi_\ell(\tau(x)) - \Phi_0 \rVert^2}{\lVert \Phi_0 \rVert^2}

where the terms :math:`E_i` are :class:`restoration.priors.Term` s (feature losses at one or several layers,
image priors, priors on feature maps) and :math:`\tau` is a random jitter (M&V 2016, Sec. 3.4).

Types
-----
* :class:`FeatureLoss` / :func:`feature_loss` - the normalised feature-matching term (a ``Term``).
* :func:`invert` - optimise an objective with Adam, momentum (piecewise-constant learning rate, jitter) or
  L-BFGS (scipy's L-BFGS-B on TensorFlow gradients); logs every term through ``log(name, value, step)``,
  shows progress (:mod:`restoration.optim.progress`), keeps images at chosen steps. Returns an :class:`InversionResult`.

The M&V pipeline built on it (one layer from a recipe, a sweep over layers, an optimiser comparison) is
:mod:`restoration.preimage.pipeline`.

Compiled steps: the update is one ``tf.function`` (optionally XLA, ``jit_compile``), traced once per
:func:`invert` call; learning rate and jitter offsets are tensor arguments, so no step retraces
(``InversionResult.trace_count`` reports it and the tests check it).

Images are preprocessed BGR (``net.preprocess``) inside; the result also carries deprocessed RGB.
"""

from __future__ import annotations

import dataclasses
import math
import time
from typing import Callable, Sequence

import numpy as np
import tensorflow as tf

from restoration.errors import DivergenceError
from restoration.objectives.jitter import Jitter
from restoration.objectives import FeatureLoss, Objective, as_objective, feature_loss
from restoration.optim.progress import progress as progress_bar
from restoration.optim.schedule import Schedule

__all__ = [
    "FeatureLoss",
    "feature_loss",
    "invert",
    "InvertSettings",
    "Reporting",
    "QUIET",
    "InversionResult",
    "Schedule",
]

LogFn = Callable[[str, float, int], None]


# ----------------------------------------------------------------------------------------------------------
# schedules and jitter
# ----------------------------------------------------------------------------------------------------------

# ----------------------------------------------------------------------------------------------------------
# result
# ----------------------------------------------------------------------------------------------------------


@dataclasses.dataclass
class InversionResult:
    """Outcome of :func:`invert`.

    Attributes
    ----------
    x_bgr : ndarray (N, H, W, 3)
        Final pre-images, preprocessed BGR (what the net sees).
    rgb : ndarray (N, H, W, 3)
        The same deprocessed to RGB (float, not clipped).
    terms : dict
        Final weighted value of each term (mean over images), evaluated without jitter.
    feature_errors : dict
        Layer -> per-image normalised feature error ``||Phi(x) - Phi0||^2 / ||Phi0||^2`` (unweighted, no
        jitter) of every :class:`FeatureLoss` in the objective, shape ``(N,)``.
    history : dict
        Name -> ``(steps, values)`` lists of what was logged (terms, ``total``, ``lr``).
    snapshots : dict
        Step -> RGB images ``(N, H, W, 3)`` kept at the requested steps (and the final one).
    time_per_step_s : float
        Steady-state wall time of one step for the whole batch (L-BFGS: per objective evaluation), excluding
        the first step, which includes tracing (``first_step_s``).
    """

    x_bgr: np.ndarray
    rgb: np.ndarray
    terms: dict
    feature_errors: dict
    history: dict
    snapshots: dict
    optimizer: str
    n_steps: int
    n_evals: int
    wall_time_s: float
    time_per_step_s: float
    trace_count: int
    jit_compile: bool
    first_step_s: float = float("nan")

    @property
    def total(self) -> float:
        return float(sum(self.terms.values()))


# ----------------------------------------------------------------------------------------------------------
# the optimiser
# ----------------------------------------------------------------------------------------------------------


def _pixel_box(net, scale: float):
    """Valid preprocessed-pixel range ``[-mean, 255 - mean]`` per channel, in units of ``u = x / scale``."""
    mean = np.asarray(net.mean_bgr, np.float32)
    return (-mean / scale).astype(np.float32), ((255.0 - mean) / scale).astype(np.float32)


class _Problem:
    """The objective as a function of the optimised variable ``u`` (``x = scale * u``), traced once."""

    def __init__(self, net, objective: Objective, scale: float, jitter: Jitter):
        self.net, self.objective, self.scale, self.jitter = net, objective, float(scale), jitter
        self.black = -np.asarray(net.mean_bgr, np.float32)  # the thesis rule pads black pixels
        self.net_layers = [layer for layer in objective.layers if net.resolve(layer) != "input"]
        for layer in objective.layers:
            net.resolve(layer)  # raises UnknownLayerError early, naming the valid layers
        self.trace_count = 0

    def losses(self, u, start):
        """``(sum over images of the total, {name: mean over images of the weighted term})``; the net sees the
        jitter window at ``start``."""
        x = self.scale * u
        acts = {}
        if self.net_layers:
            acts.update(self.net.features(self.jitter.apply(x, start, fill=self.black), self.net_layers))
        for layer in self.objective.layers:
            if self.net.resolve(layer) == "input":
                acts[layer] = x  # image priors see the un-jittered pre-image (the whole canvas, authors' rule)
        total, values = self.objective(acts)
        return tf.reduce_sum(total), {k: tf.reduce_mean(v) for k, v in values.items()}


def _resolve_jit(jit_compile) -> bool:
    """``"auto"``: XLA only on a GPU. Measured on the 2-core CPU machine (TF 2.21, VGG16 conv3_3 at 224 px,
    Adam, same process and load): 0.26 s/step plain vs 3.8 s/step with ``jit_compile=True`` (XLA's CPU
    convolutions do not use oneDNN) plus seconds of compile time per layer, so XLA is off on CPU."""
    if jit_compile == "auto":
        return bool(tf.config.list_physical_devices("GPU"))
    return bool(jit_compile)


@dataclasses.dataclass(frozen=True)
class InvertSettings:
    """How :func:`invert` optimises (everything but the objective, the start and the reporting).

    optimizer : {"adam", "momentum", "lbfgs"}
        Adam (Kingma & Ba 2015) or heavy-ball momentum ``m <- mu m - lr g; u <- u + m`` (M&V 2015) with the
        piecewise-constant ``lr``; or scipy's L-BFGS-B (``n_steps`` = iterations, no jitter: the line search
        needs a deterministic objective; ``lr`` unused).
    lr : float or sequence of (step, lr) or Schedule
        Learning rate for ``u``.
    jitter : int
        Jitter amount ``T`` in pixels (0 = none); switched off for the last ``jitter_off_steps`` steps.
    jitter_rule : {"mirror", "thesis", "authors"}
        How ``T`` is applied (:mod:`restoration.objectives.jitter`): mirrored shifts in ``[-T, T]``; the thesis's zero
        (black) padding with ``T + 1`` positions; the authors' canvas ``T - 1`` px larger with ``T`` positions.
    scale : float
        Optimised variable ``u = x / scale`` (M&V's normalisation: ``B`` in 2016, ``sigma`` in 2015).
    clip : bool
        Keep ``x`` in the valid pixel range (projection after each step; bounds for L-BFGS-B).
    ball : float
        Radius of the per-pixel colour ball ``||x_ij|| <= ball`` on the mean-subtracted pixel (M&V's
        ``x0_max = 2B = 160``; 0 = none): each pixel's colour vector is rescaled onto the ball after each step.
        L-BFGS-B takes box bounds only: there the ball becomes the valid-pixel box.
    init_std : float
        Std of the ``N(0, init_std^2)`` start when no ``x_init`` is given (drawn with ``seed``).
    jit_compile : bool or "auto"
        Compile the step with XLA (``"auto"``: only when a GPU is visible; on CPU XLA was 15x slower here).
    grad_clip : float
        Clip each element of the gradient with respect to ``u`` to ``[-grad_clip, grad_clip]`` before the
        Adam/momentum update (0 = none; L-BFGS ignores it): the thesis's M&V 2015 runs did (``grad_clip=100``).
    """

    optimizer: str = "adam"
    n_steps: int = 200
    lr: object = 1e-2
    momentum: float = 0.9
    betas: tuple = (0.9, 0.999)
    eps: float = 1e-8
    jitter: int = 0
    jitter_off_steps: int = 0
    jitter_rule: str = "mirror"
    scale: float = 1.0
    clip: bool = False
    ball: float = 0.0
    init_std: float = 1.0
    seed: int = 0
    jit_compile: object = "auto"
    reset_momentum: bool = False  # zero the momentum buffer whenever the learning rate changes (M&V 2015's code)
    grad_clip: float = 0.0

    def __post_init__(self):
        if self.optimizer not in ("adam", "momentum", "lbfgs"):
            raise ValueError(f"optimizer must be 'adam', 'momentum' or 'lbfgs', got {self.optimizer!r}")
        if isinstance(self.n_steps, bool) or not isinstance(self.n_steps, (int, np.integer)) or self.n_steps < 1:
            raise ValueError(f"n_steps must be an int >= 1, got {self.n_steps!r}")
        Jitter(self.jitter_rule, self.jitter)  # raises on a bad rule or amount
        if not (self.ball >= 0):
            raise ValueError(f"ball must be a radius >= 0 (0 = no ball), got {self.ball!r}")
        if not (self.grad_clip >= 0):
            raise ValueError(f"grad_clip must be >= 0 (0 = no clipping), got {self.grad_clip!r}")

    def replace(self, **changes) -> "InvertSettings":
        return dataclasses.replace(self, **changes)


@dataclasses.dataclass(frozen=True)
class Reporting:
    """What :func:`invert` tells the outside while it runs.

    log : callable, optional
        ``log(name, value, step)``, called every ``log_every`` steps for each term, ``total`` and ``lr``
        (names prefixed by ``log_prefix``). Values are means over the batch.
    snapshot_steps : sequence of int
        Steps after which the RGB images are kept (``result.snapshots``) and ``callback(step, rgb)`` is called.
    progress : bool
        Show progress: a tqdm bar in a terminal, a line every few percent in a log (:mod:`restoration.optim.progress`).
    """

    log: LogFn | None = None
    log_every: int = 10
    log_prefix: str = ""
    snapshot_steps: Sequence[int] = ()
    callback: Callable[[int, np.ndarray], None] | None = None
    progress: bool = True


QUIET = Reporting(progress=False)
"""No bar, no log: for tests and inner loops."""


def invert(
    net,
    objective,
    settings: InvertSettings = InvertSettings(),
    *,
    x_init=None,
    shape=None,
    report: Reporting = Reporting(),
) -> InversionResult:
    r"""Minimise ``objective`` over a batch of images.

    Parameters
    ----------
    net : restoration.nets.FeatureNet
        The net whose layers the terms read.
    objective : Term, Objective or list of Term
        E.g. ``feature_loss("conv4_3", phi0) + 1e-5 * prior_at_conv3 + tv(beta=2)``.
    settings : InvertSettings
        The optimiser, steps, learning rate, jitter, scale, clipping and seed.
    x_init : array_like (N, H, W, 3), optional
        Initial preprocessed image; default: ``N(0, init_std^2)`` pixels of ``shape``. Under the ``authors``
        jitter rule the optimised canvas is larger: a given start sits at its centre on zeros (mean colour).
    shape : tuple (N, H, W), optional
        Needed when ``x_init`` is not given.
    report : Reporting
        Logging, snapshots, callback and progress bar.

    Returns
    -------
    InversionResult

    Raises
    ------
    DivergenceError
        If the total becomes NaN/inf; the message names the step and the offending term, and
        ``err.result`` holds the last finite images.
    """
    # Long for its docstring; the body is set-up, one optimiser call and the result, each step a function above.
    objective = as_objective(objective)
    st, rep = settings, report
    optimizer, n_steps, scale, clip = st.optimizer, int(st.n_steps), st.scale, st.clip
    jitter = Jitter(st.jitter_rule, 0 if optimizer == "lbfgs" else int(st.jitter))
    x_init = _initial_canvas(st, jitter, x_init, shape)
    sched = Schedule.of(st.lr)
    jit = _resolve_jit(st.jit_compile)
    problem = _Problem(net, objective, scale, jitter)
    snap_set = {int(s) for s in rep.snapshot_steps}
    history: dict[str, tuple[list, list]] = {}
    log, log_prefix, log_every, callback, progress = rep.log, rep.log_prefix, rep.log_every, rep.callback, rep.progress

    def record(name, value, step):
        steps, vals = history.setdefault(name, ([], []))
        steps.append(int(step))
        vals.append(float(value))
        if log is not None:
            log(log_prefix + name, float(value), int(step))

    def to_rgb(u_np):
        return np.asarray(net.deprocess(jitter.centre(u_np) * scale), np.float32)

    loop = _Loop(
        problem=problem,
        net=net,
        settings=st,
        n_steps=n_steps,
        sched=sched,
        jit=jit,
        record=record,
        log_every=log_every,
        snap_set=snap_set,
        callback=callback,
        to_rgb=to_rgb,
        progress=progress,
    )
    t0 = time.perf_counter()
    if optimizer == "lbfgs":
        snapshots: dict = {}
        box = clip or st.ball > 0  # L-BFGS-B takes box bounds only: the ball becomes the valid-pixel box
        u_final, n_done, n_evals, t_first = _run_lbfgs(loop, x_init / scale, box, snapshots)
    else:
        u_final, n_done, n_evals, snapshots, t_first = _run_gradient(loop, x_init / scale)
    wall = time.perf_counter() - t0

    rgb = to_rgb(u_final)
    snapshots.setdefault(n_done, rgb)
    return _result(problem, u_final, rgb, snapshots, history, optimizer, (n_done, n_evals, wall, t_first), jit)


def _initial_canvas(st: InvertSettings, jitter: Jitter, x_init, shape) -> np.ndarray:
    """The start: ``x_init`` on the jitter's canvas, or ``N(0, init_std^2)`` pixels of ``shape`` (seeded)."""
    e = jitter.canvas_extra
    if x_init is None:
        if shape is None or len(shape) != 3:
            raise ValueError("pass x_init (N, H, W, 3) or shape=(N, H, W)")
        rng = np.random.default_rng(st.seed)
        return rng.normal(0.0, st.init_std, (shape[0], shape[1] + e, shape[2] + e, 3)).astype(np.float32)
    x_init = np.asarray(x_init, np.float32)
    if x_init.ndim != 4 or x_init.shape[-1] != 3:
        raise ValueError(f"x_init must have shape (N, H, W, 3), got {x_init.shape}")
    return jitter.embed(x_init)


def _result(problem, u_final, rgb, snapshots, history, optimizer, counts, jit) -> InversionResult:
    """The result: every term and each feature loss's normalised error at the final canvas, without jitter;
    ``counts`` is ``(steps done, evaluations, wall seconds, first step's seconds)``."""
    n_done, n_evals, wall, t_first = counts
    jitter, net, scale = problem.jitter, problem.net, problem.scale
    neutral = tf.fill([2], jitter.neutral)
    eval_fn = tf.function(lambda u: problem.losses(u, neutral), autograph=False)
    _, final_vals = eval_fn(tf.constant(u_final))
    x_final = jitter.centre(u_final) * scale
    feature_errors = {}
    feat_terms = [t for t in problem.objective if isinstance(t, FeatureLoss)]
    if feat_terms:
        acts = net.features(tf.constant(x_final), [t.layer for t in feat_terms])
        for t in feat_terms:
            feature_errors[t.layer] = np.asarray(t.energy(acts[t.layer]), np.float64)
    return InversionResult(
        x_bgr=x_final,
        rgb=rgb,
        terms={k: float(v) for k, v in final_vals.items()},
        feature_errors=feature_errors,
        history=history,
        snapshots=snapshots,
        optimizer=optimizer,
        n_steps=n_done,
        n_evals=n_evals,
        wall_time_s=wall,
        time_per_step_s=(wall - t_first) / max(n_evals - 1, 1) if n_evals > 1 else wall,
        trace_count=problem.trace_count,
        jit_compile=jit,
        first_step_s=t_first,
    )


def _check_finite(total, values, step, u_keep, to_rgb, optimizer):
    if math.isfinite(total):
        return
    bad = [k for k, v in values.items() if not math.isfinite(float(v))] or ["total"]
    err = DivergenceError(
        f"{optimizer} inversion diverged at step {step}: term(s) {bad} became NaN/inf (values "
        f"{ {k: float(v) for k, v in values.items()} }). The last finite pre-images are kept in err.result "
        f"(RGB). Lower the learning rate, add clip=True, or check the term weights."
    )
    err.result = to_rgb(u_keep)
    err.step = step
    raise err


@dataclasses.dataclass
class _Loop:
    """What one optimisation loop of :func:`invert` needs besides its start: the problem, the settings and the
    reporting hooks."""

    problem: "_Problem"
    net: object
    settings: InvertSettings
    n_steps: int
    sched: Schedule
    jit: bool
    record: Callable[[str, float, int], None]
    log_every: int
    snap_set: set
    callback: Callable | None
    to_rgb: Callable
    progress: bool


def _run_gradient(loop: _Loop, u0):
    """Adam or momentum with jitter, the ball and the pixel box; returns (u, steps, evaluations, snapshots,
    first-step seconds)."""
    # Kept linear on purpose (as big_vision keeps its trainer): the schedule of M&V's gradient loop (jitter, step,
    # clamp, snapshot, log, NaN guard) reads in the order it happens; its pieces live on _Loop.
    st = loop.settings
    problem, net, n_steps, sched, jitter, scale = (
        loop.problem,
        loop.net,
        loop.n_steps,
        loop.sched,
        loop.problem.jitter,
        st.scale,
    )
    optimizer, mu, betas, eps, clip, ball = st.optimizer, st.momentum, st.betas, st.eps, st.clip, st.ball
    grad_clip = float(st.grad_clip)
    record, log_every, snap_set, callback, to_rgb = (
        loop.record,
        loop.log_every,
        loop.snap_set,
        loop.callback,
        loop.to_rgb,
    )
    u = tf.Variable(u0, name="pre_image_u")
    m = tf.Variable(tf.zeros_like(u0))
    v = tf.Variable(tf.zeros_like(u0))
    t = tf.Variable(0.0)
    lo, hi = _pixel_box(net, scale)
    b1, b2 = float(betas[0]), float(betas[1])
    adam = optimizer == "adam"

    def step_fn(lr, offsets):
        problem.trace_count += 1  # runs only while tracing
        with tf.GradientTape() as tape:
            total, values = problem.losses(u, offsets)
        g = tape.gradient(total, u)
        if grad_clip:
            g = tf.clip_by_value(g, -grad_clip, grad_clip)
        if adam:
            t.assign_add(1.0)
            m.assign(b1 * m + (1.0 - b1) * g)
            v.assign(b2 * v + (1.0 - b2) * tf.square(g))
            m_hat = m / (1.0 - tf.pow(b1, t))
            v_hat = v / (1.0 - tf.pow(b2, t))
            u.assign_sub(lr * m_hat / (tf.sqrt(v_hat) + eps))
        else:
            m.assign(mu * m - lr * g)
            u.assign_add(m)
        if ball:  # each pixel's colour vector onto the ball ||x_ij|| <= ball (x = scale * u)
            norm = tf.sqrt(tf.reduce_sum(tf.square(u), axis=-1, keepdims=True)) * scale
            u.assign(u * tf.minimum(ball / tf.maximum(norm, 1e-12), 1.0))
        if clip:
            u.assign(tf.clip_by_value(u, lo, hi))
        return total, values

    step = tf.function(step_fn, jit_compile=loop.jit, autograph=False)
    offsets = jitter.starts(n_steps, st.jitter_off_steps, seed=st.seed + 1)
    snapshots = {}
    u_keep = u0
    bar = progress_bar(range(n_steps), desc=f"{optimizer} inversion", enabled=loop.progress, leave=False)
    t_start, t_first = time.perf_counter(), float("nan")
    for i in bar:
        lr = sched(i)
        if st.reset_momentum and not adam and i and lr != sched(i - 1):
            m.assign(tf.zeros_like(m))
        total, values = step(tf.constant(lr, tf.float32), tf.constant(offsets[i]))
        total = float(total)
        if i == 0:
            t_first = time.perf_counter() - t_start
        _check_finite(total, values, i, u_keep, to_rgb, optimizer)
        done = i + 1
        if done % log_every == 0 or done == n_steps or i == 0:
            n_img = int(u0.shape[0])
            record("total", total / n_img, done)
            record("lr", lr, done)
            for k, val in values.items():
                record(k, float(val), done)
            u_keep = u.numpy()
            bar.set_postfix(loss=f"{total / n_img:.4g}")
        if done in snap_set:
            rgb = to_rgb(u.numpy())
            snapshots[done] = rgb
            if callback is not None:
                callback(done, rgb)
    return u.numpy(), n_steps, n_steps, snapshots, t_first


def _run_lbfgs(loop: _Loop, u0, clip, snapshots):
    """scipy's L-BFGS-B (no jitter; ``clip``: the valid-pixel box as bounds); fills ``snapshots``; returns (u,
    iterations, evaluations, first-evaluation seconds)."""
    # Kept linear on purpose: scipy's L-BFGS-B callback protocol (value-and-gradient, bounds, per-iteration callback)
    # is easier to check against scipy's documentation in one place than split across helpers.
    from scipy.optimize import minimize

    problem, net, n_steps, jit, scale = loop.problem, loop.net, loop.n_steps, loop.jit, loop.settings.scale
    record, log_every, snap_set, callback, to_rgb = (
        loop.record,
        loop.log_every,
        loop.snap_set,
        loop.callback,
        loop.to_rgb,
    )

    shape = u0.shape
    n_img = int(shape[0])

    def vg(u):
        problem.trace_count += 1
        with tf.GradientTape() as tape:
            tape.watch(u)
            total, values = problem.losses(u, tf.fill([2], problem.jitter.neutral))
        return total, tape.gradient(total, u), values

    vg_fn = tf.function(vg, jit_compile=jit, autograph=False, input_signature=[tf.TensorSpec(shape, tf.float32)])
    last = {"values": {}, "total": float("nan")}
    state = {"it": 0, "evals": 0, "keep": u0, "t_first": float("nan")}
    t_start = time.perf_counter()

    def fun(flat):
        state["evals"] += 1
        total, g, values = vg_fn(tf.constant(flat.reshape(shape), tf.float32))
        total = float(total)
        if state["evals"] == 1:
            state["t_first"] = time.perf_counter() - t_start
        if not math.isfinite(total):
            _check_finite(total, values, state["it"], state["keep"], to_rgb, "lbfgs")
        last["values"], last["total"] = values, total
        return total, np.asarray(g, np.float64).ravel()

    bar = progress_bar(total=n_steps, desc="lbfgs inversion", enabled=loop.progress, leave=False)

    def cb(xk):
        state["it"] += 1
        done = state["it"]
        bar.update(1)
        if done % log_every == 0 or done == 1 or done == n_steps:
            record("total", last["total"] / n_img, done)
            for k, val in last["values"].items():
                record(k, float(val), done)
            state["keep"] = xk.reshape(shape).astype(np.float32)
            bar.set_postfix(loss=f"{last['total'] / n_img:.4g}")
        if done in snap_set:
            rgb = to_rgb(xk.reshape(shape).astype(np.float32))
            snapshots[done] = rgb
            if callback is not None:
                callback(done, rgb)

    bounds = None
    if clip:
        lo, hi = _pixel_box(net, scale)
        lo_full = np.broadcast_to(lo, shape).ravel()
        hi_full = np.broadcast_to(hi, shape).ravel()
        bounds = list(zip(lo_full.astype(np.float64), hi_full.astype(np.float64)))
    res = minimize(
        fun,
        u0.astype(np.float64).ravel(),
        jac=True,
        method="L-BFGS-B",
        bounds=bounds,
        callback=cb,
        options={"maxiter": int(n_steps), "maxfun": int(2 * n_steps + 20), "maxcor": 20, "ftol": 0.0, "gtol": 0.0},
    )
    bar.close()
    return res.x.reshape(shape).astype(np.float32), max(state["it"], 1), state["evals"], state["t_first"]
