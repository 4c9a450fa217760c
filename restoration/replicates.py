"""Replicate seeds for the claims: which runs ``make claims`` needs (every arm of every claim, seeds ``0..n-1``),
which of them the database already holds, and which to run.

A claim is judged on runs that pair seed by seed (:mod:`restoration_reports.claims`). This module plans them as typed
data: an :class:`Arm` is one figure at one precision; a :class:`ReplicatePlan` lists, per arm, the seeds to run and
the runs already done. The runs themselves go through the sweep machinery (:mod:`restoration.sweeps`, a sweep
named :data:`restoration.tracking.records.CLAIMS_SWEEP` with ``seed`` as its grid), so they are Sacred runs on
Dask like any sweep, and a second ``make claims`` skips what completed.

**Precision.** All arms of one claim run at one precision, or the claim could not be judged (the guard refuses
sides that differ). A claim runs at ``auto`` (this machine's measured choice, :mod:`restoration.precision`)
unless one of its figures pins a precision in its own config (joint training from scratch stays float32): then
every arm of that claim runs at that precision, so a figure shared with other claims may run at two.

**Reuse.** A seed counts as done when a completed run of the figure exists with that seed, the plain quick
profile, the same resolved precision and the current code digest (and no input made by other code): an earlier
``make claims`` run, or the figure's own run from ``make report`` (seed 0).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, Iterable, Mapping

from restoration.contract.registry import Claim, Registry

PROFILE = "quick"


@dataclass(frozen=True)
class Arm:
    """One figure at one precision (``auto``, ``float32`` or ``bfloat16``) and the claims that need it."""

    figure: str
    precision: str
    claims: tuple[str, ...]
    config: tuple[tuple[str, object], ...] = field(default=(), hash=False)  # the figure's ``replicate`` values


@dataclass
class ArmPlan:
    arm: Arm
    resolved: str  # the precision it computes in on this machine
    todo: list[int] = field(default_factory=list)
    done: dict[int, str] = field(default_factory=dict)  # seed -> run id reused


@dataclass
class ReplicatePlan:
    seeds: tuple[int, ...]
    arms: list[ArmPlan]
    skipped: dict[str, str]  # claim id -> why it is not run (e.g. needs AlexNet weights)

    @property
    def runs_to_do(self) -> int:
        return sum(len(a.todo) for a in self.arms)

    def lines(self) -> list[str]:
        out = [
            f"make claims: seeds {', '.join(map(str, self.seeds))}; {len(self.arms)} arms, "
            f"{self.runs_to_do} runs to do, {sum(len(a.done) for a in self.arms)} done before"
        ]
        for a in self.arms:
            done = ", ".join(f"seed {s}: run {r}" for s, r in sorted(a.done.items())) or "none"
            out.append(
                f"  {a.arm.figure:<20} {a.arm.precision:>8} ({a.resolved}): to run seeds "
                f"{', '.join(map(str, a.todo)) or 'none'}; done {done}; for {', '.join(a.arm.claims)}"
            )
        for claim, why in self.skipped.items():
            out.append(f"  skipped {claim}: {why}")
        return out


def select_claims(registry: Registry, only: Iterable[str] | None = None) -> list[Claim]:
    """The claims to replicate: all, or those named in ``only`` (a one-line error naming the known ids)."""
    claims = list(registry.claims)
    if not only:
        return claims
    known = {c.id: c for c in claims}
    wanted = [str(i).strip() for i in only if str(i).strip()]
    unknown = [i for i in wanted if i not in known]
    if unknown:
        raise ValueError(f"unknown claim {unknown[0]!r}; known claims: {', '.join(known)}")
    return [known[i] for i in wanted]


def arms_for(claims: Iterable[Claim], pinned: Mapping[str, str]) -> list[Arm]:
    """One arm per (figure, precision) the claims need; ``pinned`` maps a figure to the precision its config
    fixes (``float32`` for joint training), absent or ``auto`` when it follows the machine."""
    need: dict[tuple[str, str], list[str]] = {}
    for claim in claims:
        fixed = {pinned.get(f, "auto") for f in claim.figures} - {"auto"}
        if len(fixed) > 1:
            raise ValueError(
                f"claim {claim.id!r}: its figures pin different precisions ({', '.join(sorted(fixed))});"
                f" they cannot be compared"
            )
        precision = fixed.pop() if fixed else "auto"
        for f in claim.figures:
            need.setdefault((f, precision), []).append(claim.id)
    return [Arm(f, p, tuple(ids)) for (f, p), ids in need.items()]


def claims_sweep(arm: Arm, seeds: Iterable[int], extra: Mapping[str, object] | None = None):
    """The :class:`restoration.sweeps.Sweep` that runs ``arm`` at ``seeds``: the quick profile, the arm's
    precision, its figure's ``replicate`` values and the ``extra`` config values, ``seed`` as the grid."""
    from restoration.sweeps import Sweep
    from restoration.tracking.records import CLAIMS_SWEEP

    return Sweep(
        name=CLAIMS_SWEEP,
        experiment=arm.figure,
        title=f"claims replicates of {arm.figure} ({arm.precision})",
        grid=(("seed", tuple(seeds)),),
        named_configs=(PROFILE,),
        fixed=(("precision", arm.precision),) + tuple(arm.config) + tuple((extra or {}).items()),
        measure="psnr_mean",
    )


def plan(
    claims: list[Claim],
    registry: Registry,
    n: int,
    *,
    pinned: Mapping[str, str],
    resolve: Callable[[str], str],
    completed: Callable[[str], list],
    alexnet_missing: str | None = None,
    extra: Mapping[str, object] | None = None,
    code: str | None = None,
) -> ReplicatePlan:
    """The replicate runs for ``claims`` at seeds ``0..n-1``.

    ``resolve(precision)`` gives the precision a run computes in here; ``completed(figure)`` the figure's
    completed claim-arm runs (``RunRecord``-like, with ``id``, ``info["report"]`` and ``info["sweep"]``);
    ``alexnet_missing``: the weights path when AlexNet weights are absent (its claims are skipped, saying so);
    ``extra``: config values every run gets (then only earlier ``make claims`` runs with the same values count);
    ``code``: the current code digest (:mod:`restoration.code_digest`): a run made by other code, or one that loaded
    a prior or module made by other code, is not reused (the claims would leave it out too).
    """
    # Kept linear on purpose: the plan's rules (AlexNet claims skipped without weights, arms that resolve to one
    # precision merged, completed seeds reused) apply in this order and each is a few lines.
    from restoration.contract.payload import Payload
    from restoration.tracking.records import stored_section

    if not isinstance(n, int) or isinstance(n, bool) or n < 1:
        raise ValueError(
            f"N={n!r}: the number of seeds must be a whole number >= 1 (3 by default; 5 for tighter intervals)"
        )
    skipped = {}
    kept = []
    for c in claims:
        alexnet = [f for f in c.figures if registry.figure(f).needs_alexnet]
        if alexnet and alexnet_missing:
            skipped[c.id] = f"needs AlexNet weights ({', '.join(alexnet)}); put bvlc_alexnet.npy at {alexnet_missing}"
        else:
            kept.append(c)
    seeds = tuple(range(n))
    order = {f.id: f.order for f in registry.figures}
    arms = sorted(arms_for(kept, pinned), key=lambda a: (order.get(a.figure, 0), a.precision))
    # a figure needed at "auto" and at a pinned precision that auto resolves to here is one arm (the auto one:
    # its seed 0 is the figure's own run), not two sets of identical runs
    merged: dict[tuple[str, str], Arm] = {}
    for arm in arms:
        key = (arm.figure, resolve(arm.precision))
        if key in merged:
            first = merged[key]
            keep = first if first.precision == "auto" else arm
            merged[key] = Arm(arm.figure, keep.precision, first.claims + arm.claims)
        else:
            merged[key] = arm
    out = []
    for arm in merged.values():
        arm = Arm(arm.figure, arm.precision, arm.claims, registry.figure(arm.figure).replicate)
        resolved = resolve(arm.precision)
        ap = ArmPlan(arm, resolved)
        sweep = claims_sweep(arm, seeds, extra)
        keys = {sweep.settings_key({"seed": s}): s for s in seeds}
        for rec in completed(arm.figure):  # newest first: the newest matching run of each seed
            info = getattr(rec, "info", None)
            payload = Payload.from_dict(stored_section(info, "report"))
            if payload is None or payload.seed not in seeds or payload.seed in ap.done:
                continue
            if code is not None and (payload.comparable.code != code or payload.comparable.stale_inputs):
                continue
            tag = stored_section(info, "sweep")
            if tag:  # an earlier make claims: the same settings
                same = keys.get(tag.get("settings")) == payload.seed
            else:  # the figure's own run: the plain quick profile at this precision
                c = payload.comparable
                same = not extra and c.profile == PROFILE and c.precision == resolved
            if same:
                ap.done[payload.seed] = str(rec.id)
        ap.todo = [s for s in seeds if s not in ap.done]
        out.append(ap)
    return ReplicatePlan(seeds, out, skipped)
