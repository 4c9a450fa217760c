"""Replicates for the claims: ``python -m restoration_experiments --claims [--budget 45m] [--n N] [--only ID ...]``.

**Sequential, within a budget** (``make claims``, ``BUDGET=45m``, wall time on this machine): first every arm of
every claim in ``experiments/registry.toml`` at the first look's seeds (3), then, while the budget lasts, seeds
for the undecided claim closest to a decision (the one whose estimate says the next look likely decides it,
then the smallest p-value), up to its next look (5, 8, 12 seeds), judged after each step by the report's own rules
(:mod:`restoration_reports.evidence`: the looks keep each claim's error at 5 %, so stopping a claim once decided
is allowed). A step whose estimated wall time (this run's measured time per run of each figure) does not fit
what is left is not started. ``--n N`` instead runs seeds ``0..N-1`` for every claim and stops (a fixed design).
Runs go through the sweep machinery (:mod:`restoration.sweeps`: a local Dask cluster by default,
``--cluster serial`` one by one). Arms with the same seed share initialisation, data order and jitter. Runs that
already completed (an earlier ``make claims``, or the figure's own quick run at the same precision) are reused, and
seed 0 of an arm at the machine's precision runs as the figure's own quick run (the report shows it);
claims with AlexNet arms are skipped without ``bvlc_alexnet.npy``, saying so. The plan
(:mod:`restoration.replicates`) is printed first, the CPU and its GEMM rate measured at the start, and each run's
wall time as it ends. ``make report`` then judges the claims on all of them (:mod:`restoration_reports.claims`).

Exit status: 0 when every run completed, 1 when some failed, 2 for bad options.
"""

from __future__ import annotations

import argparse
import importlib
import sys
import time


def pinned_precision(figure: str) -> str:
    """The precision ``figure``'s quick config fixes (``float32`` for joint training), or ``auto``."""
    from sacred.initialize import create_run

    from restoration.contract import registry

    module = importlib.import_module(registry.load().figure(figure).module)
    ex = module.ex
    config = create_run(ex, ex.default_command, config_updates={}, named_configs=["quick"]).config
    return str(config.get("precision", "auto"))


def parse_extra(tokens: list[str]) -> dict:
    """``["steps=500", "image_dir=/data"]`` -> ``{"steps": 500, "image_dir": "/data"}`` (values as Sacred reads
    them on a command line)."""
    from sacred.arg_parser import _convert_value

    out = {}
    for token in tokens:
        if "=" not in token:
            raise ValueError(
                f"{token!r} is not key=value; e.g. python -m restoration_experiments --claims -- steps=500"
            )
        key, value = token.split("=", 1)
        out[key.strip()] = _convert_value(value)
    return out


def parse_budget(text: str) -> float:
    """``"45m"``, ``"2h"``, ``"90s"``, ``"1h30m"`` or a bare number of minutes -> seconds; one-line error else."""
    import re

    t = str(text).strip().lower()
    if re.fullmatch(r"\d+(\.\d+)?", t):
        return float(t) * 60
    parts = re.fullmatch(r"(?:(\d+(?:\.\d+)?)h)?(?:(\d+(?:\.\d+)?)m)?(?:(\d+(?:\.\d+)?)s)?", t)
    if not t or parts is None or not any(parts.groups()):
        raise ValueError(f"BUDGET={text!r}: give wall time as 45m, 2h, 1h30m, 90s or minutes (e.g. BUDGET=45m)")
    h, m, sec = (float(x) if x else 0.0 for x in parts.groups())
    seconds = 3600 * h + 60 * m + sec
    if seconds <= 0:
        raise ValueError(f"BUDGET={text!r}: the budget must be more than 0 (e.g. BUDGET=45m)")
    return seconds


def next_step(verdicts, only: set[str], cost, left: float):
    """The next claim to give seeds, and the seeds of its next look: among the selected claims that are undecided
    at a look, those whose estimate says the next look likely decides them first, then by p-value (closest to
    a decision); the first whose ``cost(claim, seeds)`` (estimated wall seconds) fits in ``left``. ``None``: no
    claim is undecided, or none fits, or every undecided claim is at the last look."""
    from restoration_reports import claims as _claims
    from restoration_reports import evidence

    open_ = []
    for v in verdicts:
        if v.claim.id not in only or v.decision is None or v.status not in (_claims.INCONCLUSIVE, _claims.NOT_ON_PAR):
            continue
        target = evidence.next_look(len(v.seeds))
        if target is None:
            continue
        likely = v.more_seeds is not None and v.more_seeds <= target
        open_.append((not likely, v.decision.p, v.claim.id, target, v))
    for _, _, _, target, v in sorted(open_, key=lambda t: t[:3]):
        if cost(v.claim, target) <= left:
            return v.claim, target
    return None


def build_plan(n: int, only: list[str] | None, extra: dict | None = None):
    from restoration import code_digest, paths, precision, replicates, tracking
    from restoration.contract import registry

    reg = registry.load()
    claims = replicates.select_claims(reg, only)
    figures = {f for c in claims for f in c.figures}
    pinned = {f: pinned_precision(f) for f in sorted(figures)}
    if extra:
        if "seed" in extra or "precision" in extra:
            raise ValueError("make claims sets seed and precision itself; leave them out of the extra config values")
        for f in sorted(figures):
            module = importlib.import_module(reg.figure(f).module)
            tracking.check_config_keys(module.ex, list(extra), ["quick"], what=f)
    return replicates.plan(
        claims,
        reg,
        n,
        pinned=pinned,
        resolve=precision.resolve,
        completed=tracking.claim_runs,
        alexnet_missing=paths.missing_alexnet_weights(),
        extra=extra,
        code=code_digest.code_digest(),
    )


def run_plan(plan, extra: dict, spec, *, deadline: float | None = None, seconds_per_run: dict | None = None) -> int:
    """Run ``plan``'s arms (seed 0 of an ``auto`` arm as the figure's own quick run); returns how many failed.
    With ``deadline`` (a ``time.monotonic()``), an arm is not started after it; ``seconds_per_run`` (figure ->
    wall seconds per run) is updated with what each arm took."""
    from restoration import replicates, sweeps
    from restoration_experiments.sweep import run_point

    failed = 0
    env = sweeps.worker_environment()
    for ap in plan.arms:
        if not ap.todo:
            continue
        if deadline is not None and time.monotonic() >= deadline:
            print(f"  budget spent: {ap.arm.figure} seeds {', '.join(map(str, ap.todo))} not started", flush=True)
            continue
        t_arm, n_runs = time.monotonic(), len(ap.todo)
        if ap.arm.precision == "auto" and not extra and 0 in ap.todo:
            # seed 0 at the machine's precision is the figure's own quick run: stored as one (no sweep tag), so
            # the report shows it as the figure and `make report` does not run it again
            t = time.monotonic()
            reply = run_point(ap.arm.figure, ["quick"], {"seed": 0}, {}, env)
            print(
                f"  {ap.arm.figure} seed 0 (the figure's own quick run): run {reply.get('run_id')} "
                f"{reply.get('status')} ({time.monotonic() - t:.1f} s) {reply.get('error') or ''}",
                flush=True,
            )
            failed += reply.get("status") != "COMPLETED"
            ap.todo = [s for s in ap.todo if s != 0]
        if ap.todo:
            sweep = replicates.claims_sweep(ap.arm, ap.todo, extra)
            outcome = sweeps.run_sweep(sweep, run_point, cluster=spec)
            for line in outcome.lines():
                print(line, flush=True)
            failed += len(outcome.by_status("failed"))
        if seconds_per_run is not None:
            seconds_per_run[ap.arm.figure] = (time.monotonic() - t_arm) / max(1, n_runs)
    return failed


def judge_now(ids: set[str]):
    """The selected claims judged as the report judges them (current code only, BH across all claims)."""
    from restoration.contract import registry
    from restoration_reports.claims_section import judge_claims
    from restoration_reports.runs import TrackingSource

    verdicts = judge_claims(list(registry.load().claims), TrackingSource(), {})
    return [v for v in verdicts if v.claim.id in ids]


def verdict_lines(verdicts) -> list[str]:
    """One line per claim: verdict, seeds, its test, the seeds that would likely decide it, the effects."""
    from restoration_reports import claims as _claims

    out = []
    for v in verdicts:
        test = f"; {v.decision.text()}" if v.decision is not None else ""
        more = f"; about {v.more_seeds} seeds would likely decide it" if v.more_seeds else ""
        effects = "; ".join(
            f"{p.better} vs {p.worse}: " + ", ".join(f"{e.measure} {_claims.effect_text(e)}" for e in p.voting)
            for p in v.pairs
        )
        out.append(f"  {v.claim.id}: {v.status} ({len(v.seeds)} seeds{test}{more}) {effects}")
    return out


def main(argv: list[str]) -> int:
    from restoration import machine, sweeps, tracking
    from restoration_reports import evidence

    p = argparse.ArgumentParser(prog="python -m restoration_experiments --claims", description=__doc__.split("\n\n")[0])
    p.add_argument("--budget", default="45m", help="wall time to spend: 45m (default), 2h, 1h30m, 90s")
    p.add_argument("--n", type=int, default=None, help="a fixed design: seeds 0..n-1 for every claim, no sequence")
    p.add_argument("--only", nargs="*", default=None, help="claim ids (default: every claim)")
    p.add_argument("--cluster", default="local", help="local (default), serial, slurm or a scheduler address")
    p.add_argument("--workers", type=int, default=None, help="local cluster: number of workers")
    p.add_argument("--dry-run", action="store_true", help="print the first plan and stop")
    p.add_argument("extra", nargs="*", help="config values for every run after --, e.g. -- image_dir=/data")
    args = p.parse_args(argv)
    try:
        budget = parse_budget(args.budget)
        extra = parse_extra(args.extra)
        plan = build_plan(args.n or evidence.LOOKS[0], args.only, extra)
        spec = sweeps.ClusterSpec.parse(args.cluster, workers=args.workers)
    except (ValueError, sweeps.SweepError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    t0 = time.monotonic()
    deadline = t0 + budget
    for line in plan.lines():
        print(line)
    sequential = args.n is None
    print(
        f"budget {budget / 60:.0f} min of wall time"
        + (
            f"; then seeds to the undecided claims, looks at {', '.join(map(str, evidence.LOOKS))} seeds"
            if sequential
            else ""
        )
        + f"; machine: {machine.MachineKind.here().describe()}; float32 GEMM {machine.gemm_gflops():.0f} GFLOP/s "
        f"(numpy 2048^2, measured now)",
        flush=True,
    )
    if args.dry_run:
        return 0
    per_run: dict[str, float] = {}
    failed = run_plan(plan, extra, spec, deadline=deadline, seconds_per_run=per_run)
    ids = {c.id for c in plan_claims(args.only)}
    if sequential and not extra:
        failed += _sequence(ids, args.only, spec, deadline, per_run)
    print(
        f"make claims: {(time.monotonic() - t0) / 60:.1f} min of a {budget / 60:.0f} min budget, {failed} failed; "
        f"database {tracking.describe(tracking.db_url())}; `make report` shows the claims",
        flush=True,
    )
    for line in verdict_lines(judge_now(ids)):
        print(line, flush=True)
    return 1 if failed else 0


def plan_claims(only):
    from restoration import replicates
    from restoration.contract import registry

    return replicates.select_claims(registry.load(), only)


def _sequence(ids: set[str], only, spec, deadline: float, per_run: dict[str, float]) -> int:
    """Seeds to the undecided claims, one look at a time, while the budget lasts (see the module docstring)."""
    failed = 0
    typical = lambda: (sum(per_run.values()) / len(per_run)) if per_run else 0.0  # noqa: E731

    tried: set[tuple[str, int]] = set()  # a look tried once is not retried (its runs failed or do not pair)

    def cost(claim, target: int) -> float:
        if (claim.id, target) in tried:
            return float("inf")
        plan = build_plan(target, [claim.id])
        return sum(len(a.todo) * per_run.get(a.arm.figure, typical()) for a in plan.arms)

    while time.monotonic() < deadline:
        step = next_step(judge_now(ids), ids, cost, deadline - time.monotonic())
        if step is None:
            print("  no undecided claim whose next look fits the budget left", flush=True)
            break
        claim, target = step
        tried.add((claim.id, target))
        plan = build_plan(target, [claim.id])
        print(f"  {claim.id}: to {target} seeds ({plan.runs_to_do} runs)", flush=True)
        if not plan.runs_to_do:  # stored runs already reach the look (e.g. another claim's arms)
            continue
        failed += run_plan(plan, {}, spec, deadline=deadline, seconds_per_run=per_run)
    return failed


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
