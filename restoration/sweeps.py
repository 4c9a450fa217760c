"""Sweeps: a grid of config values of one registered experiment, expanded into Sacred runs and run on Dask.

A sweep is data, a ``[sweeps.<name>]`` table in ``experiments/registry.toml`` beside the figures::

    [sweeps.dc_lr_batch]
    experiment = "fig12_vgg16"                  # a registered figure id
    title = "DC module, VGG16 pool1: learning rate x batch size"
    named_configs = ["quick"]                   # Sacred named configs of every run
    fixed = {steps = 300}                       # config values shared by every run
    grid = {lr = [3e-4, 1e-3, 3e-3, 1e-2], batch_size = [8, 16]}   # every combination is one run
    measure = "psnr_mean"                       # the summary number the report plots, one point per run

:func:`run_sweep` expands the grid (:meth:`Sweep.points`), skips the points that already have a COMPLETED run of
this sweep in the database, and runs the rest on a Dask cluster (:class:`ClusterSpec`): a local cluster on this
machine's cores by default, the scheduler of an existing (lab) cluster, or SLURM jobs through ``dask-jobqueue``
(the thesis ran on the das4 SLURM cluster), or ``serial`` (one by one in this process: the baseline). A run
that fails is retried once, then listed. Each run is tagged ``info["sweep"] = {"name", "point", "settings"}``
(given to Sacred as ``meta_info``, stored by :mod:`restoration.tracking.experiment`), which is how the report and
the next ``run_sweep`` find it; ``settings`` holds the run's whole config update and named configs, so changing a
sweep's ``fixed`` values or named configs runs it again. Sweep runs never stand for their figure
(:func:`restoration.tracking.records.is_figure_run`).

With workers on other machines every run writes to one database, so it must be a server (PostgreSQL through
``SACRED_DB_URL``); a SQLite file is refused with that fix. What runs one point is passed in (``task``): the
experiments layer's :func:`restoration_experiments.sweep.run_point`, so this module imports no experiment.
"""

from __future__ import annotations

import itertools
import json
import math
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable


class SweepError(ValueError):
    """A sweep cannot run as asked; the message names the sweep, file or option and the fix."""


# ----------------------------------------------------------------------------------------------------------
# Declarations
# ----------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Sweep:
    """One declared sweep (see the module docstring)."""

    name: str
    experiment: str
    title: str
    grid: tuple[tuple[str, tuple], ...]  # ((key, values), ...) in declaration order
    named_configs: tuple[str, ...] = ("quick",)
    fixed: tuple[tuple[str, object], ...] = ()
    measure: str = "psnr_mean"
    description: str = ""

    @property
    def axes(self) -> list[str]:
        return [k for k, _ in self.grid]

    def points(self) -> list[dict]:
        """Every combination of the grid's values, the first axis varying slowest."""
        keys = self.axes
        return [dict(zip(keys, combo)) for combo in itertools.product(*(v for _, v in self.grid))]

    def updates(self, point: dict) -> dict:
        """The Sacred config updates of one run: the fixed values, then the point's."""
        return {**dict(self.fixed), **point}

    def settings_key(self, point: dict) -> str:
        """Everything that makes one run of this sweep what it is: its config updates and named configs."""
        return point_key({"config": self.updates(point), "named_configs": list(self.named_configs)})

    def tag(self, point: dict) -> dict:
        """``info["sweep"]`` of the run of ``point``."""
        return {"name": self.name, "point": point, "settings": self.settings_key(point)}


def point_key(point: dict) -> str:
    """A canonical text of a point (sorted keys, floats as written by JSON) to compare points across runs."""
    return json.dumps({k: point[k] for k in sorted(point)}, sort_keys=True, default=str)


def _check_values(where: str, key: str, values) -> tuple:
    if not isinstance(values, list) or not values:
        raise SweepError(f"{where}: grid.{key} must be a non-empty list of values, e.g. {key} = [1e-3, 3e-3]")
    return tuple(values)


def parse(name: str, table: dict, *, where: str, figures: set[str] | None = None) -> Sweep:
    """One ``[sweeps.<name>]`` table as a :class:`Sweep`; errors name the table and the fix."""
    where = f"{where} [sweeps.{name}]"
    known = {"experiment", "title", "grid", "named_configs", "fixed", "measure", "description"}
    unknown = set(table) - known
    if unknown:
        raise SweepError(f"{where}: unknown key(s) {', '.join(sorted(unknown))}; known: {', '.join(sorted(known))}")
    for key in ("experiment", "grid"):
        if key not in table:
            raise SweepError(f"{where}: missing '{key}' (see restoration/sweeps.py for the layout)")
    if figures is not None and table["experiment"] not in figures:
        raise SweepError(f"{where}: experiment {table['experiment']!r} is not a registered figure id")
    grid = table["grid"]
    if not isinstance(grid, dict) or not grid:
        raise SweepError(f"{where}: grid must be a table of key = [values], e.g. grid = {{lr = [1e-3, 3e-3]}}")
    measure = table.get("measure", "psnr_mean")
    try:
        from restoration.contract import measures

        measures.get(measure)
    except KeyError as e:
        raise SweepError(
            f"{where}: measure {measure!r} is not a registered measure "
            f'(restoration/contract/measures.py); e.g. measure = "psnr_mean"'
        ) from e
    fixed = table.get("fixed", {})
    overlap = set(fixed) & set(grid)
    if overlap:
        raise SweepError(f"{where}: {', '.join(sorted(overlap))} both fixed and swept; keep it in one of them")
    return Sweep(
        name=name,
        experiment=table["experiment"],
        title=table.get("title", name),
        grid=tuple((k, _check_values(where, k, v)) for k, v in grid.items()),
        named_configs=tuple(table.get("named_configs", ["quick"])),
        fixed=tuple(fixed.items()),
        measure=measure,
        description=table.get("description", ""),
    )


def load(path: str | Path | None = None) -> dict[str, Sweep]:
    """The sweeps declared in the registry file (default ``experiments/registry.toml``), by name."""
    from restoration.contract import registry

    path = Path(path or registry.DEFAULT_PATH)
    try:
        data = registry.read(path)
    except (FileNotFoundError, ValueError) as e:
        raise SweepError(str(e)) from e
    figures = set((data.get("figures") or {}).keys())
    return {
        name: parse(name, table, where=str(path), figures=figures) for name, table in (data.get("sweeps") or {}).items()
    }


def get(name: str, path: str | Path | None = None) -> Sweep:
    sweeps = load(path)
    if name not in sweeps:
        raise SweepError(
            f"no sweep {name!r} in {path or 'experiments/registry.toml'}; declared: "
            f"{', '.join(sorted(sweeps)) or 'none'}"
        )
    return sweeps[name]


# ----------------------------------------------------------------------------------------------------------
# Where the runs go
# ----------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ClusterSpec:
    """Where a sweep runs: ``local`` (a Dask LocalCluster, one single-threaded worker per core by default),
    ``serial`` (one by one in this process, no Dask: the baseline), ``address`` (an existing scheduler, e.g.
    ``tcp://head:8786``), or ``slurm`` (``dask_jobqueue.SLURMCluster`` with ``slurm`` options such as queue,
    account, cores, memory, walltime, jobs)."""

    kind: str = "local"
    workers: int | None = None
    address: str = ""
    slurm: tuple[tuple[str, str], ...] = ()

    @property
    def several_machines(self) -> bool:
        return self.kind in ("address", "slurm")

    @staticmethod
    def parse(text: str, *, workers: int | None = None, slurm: str = "") -> "ClusterSpec":
        """``local`` | ``serial`` | ``slurm`` | a scheduler address (``tcp://host:8786``); ``slurm`` options
        as ``queue=defq,cores=8,memory=16GB,walltime=01:00:00,jobs=4``."""
        text = (text or "local").strip()
        options = tuple(_parse_options(slurm, "--slurm")) if slurm else ()
        if text in ("local", "serial", "slurm"):
            return ClusterSpec(kind=text, workers=workers, slurm=options)
        if "://" in text or ":" in text:
            return ClusterSpec(kind="address", address=text if "://" in text else f"tcp://{text}")
        raise SweepError(
            f"--cluster {text!r}: use local, serial, slurm or a scheduler address such as tcp://head-node:8786"
        )


def _parse_options(text: str, flag: str) -> list[tuple[str, str]]:
    out = []
    for part in filter(None, (p.strip() for p in text.split(","))):
        if "=" not in part:
            raise SweepError(f"{flag} {text!r}: {part!r} is not key=value; e.g. {flag} queue=defq,cores=8,jobs=4")
        k, v = part.split("=", 1)
        out.append((k.strip(), v.strip()))
    return out


SLURM_KEYS = {
    "queue",
    "account",
    "cores",
    "processes",
    "memory",
    "walltime",
    "jobs",
    "job_extra",
    "interface",
    "local_directory",
    "python",
}


def slurm_cluster(spec: ClusterSpec):
    """A ``dask_jobqueue.SLURMCluster`` from the spec's options (jobs are asked for by :func:`open_client`)."""
    from dask_jobqueue import SLURMCluster

    opts = dict(spec.slurm)
    unknown = set(opts) - SLURM_KEYS
    if unknown:
        raise SweepError(
            f"--slurm: unknown option(s) {', '.join(sorted(unknown))}; known: {', '.join(sorted(SLURM_KEYS))}"
        )
    kwargs = dict(
        cores=int(opts.get("cores", 2)),
        processes=int(opts.get("processes", opts.get("cores", 2))),
        memory=opts.get("memory", "8GB"),
        walltime=opts.get("walltime", "02:00:00"),
    )
    for key in ("queue", "account", "interface", "local_directory", "python"):
        if key in opts:
            kwargs[key] = opts[key]
    if "job_extra" in opts:
        kwargs["job_extra_directives"] = opts["job_extra"].split(";")
    # the workers run experiments from this checkout and write to the same database
    kwargs["job_script_prologue"] = [f"cd {Path(__file__).resolve().parents[1]}"]
    return SLURMCluster(**kwargs)


def check_database(spec: ClusterSpec, url: str) -> None:
    """Workers on several machines need one database server: refuse a SQLite file with the fix."""
    from restoration.tracking.database import sqlite_path

    if spec.several_machines and sqlite_path(url) is not None:
        raise SweepError(
            f"a sweep on {'SLURM' if spec.kind == 'slurm' else spec.address} runs on several machines, "
            f"so the observer must be PostgreSQL, not the SQLite file {sqlite_path(url)}: set "
            f"SACRED_DB_URL=postgresql+psycopg://user@host/db (reachable from every node), or use "
            f"--cluster local"
        )


def open_client(spec: ClusterSpec, n_tasks: int):
    """A Dask client for the spec (and the cluster it started, to close), printing the dashboard link."""
    from distributed import Client, LocalCluster

    if spec.kind == "address":
        return Client(spec.address), None
    if spec.kind == "slurm":
        cluster = slurm_cluster(spec)
        cluster.scale(jobs=int(dict(spec.slurm).get("jobs", max(1, min(n_tasks, 4)))))
        return Client(cluster), cluster
    cluster = LocalCluster(
        n_workers=local_workers(spec, n_tasks),
        threads_per_worker=1,
        processes=True,
        dashboard_address=":0",
        silence_logs=40,
    )
    return Client(cluster), cluster


# ----------------------------------------------------------------------------------------------------------
# Running
# ----------------------------------------------------------------------------------------------------------


@dataclass
class PointOutcome:
    point: dict
    status: str  # "completed", "skipped" (done before), "failed"
    run_id: str | None = None
    attempts: int = 0
    seconds: float = 0.0
    error: str = ""


@dataclass
class SweepOutcome:
    sweep: Sweep
    cluster: str
    outcomes: list[PointOutcome] = field(default_factory=list)
    wall_s: float = 0.0

    def by_status(self, status: str) -> list[PointOutcome]:
        return [o for o in self.outcomes if o.status == status]

    def lines(self) -> list[str]:
        """What a researcher reads at the end: counts, wall time, each point's run or failure."""
        done, skipped, failed = (self.by_status(s) for s in ("completed", "skipped", "failed"))
        out = [
            f"sweep {self.sweep.name} ({self.sweep.experiment}, {len(self.outcomes)} configurations) on "
            f"{self.cluster}: {len(done)} completed, {len(skipped)} skipped (completed before), "
            f"{len(failed)} failed; wall time {self.wall_s:.1f} s"
        ]
        for o in self.outcomes:
            what = {
                "completed": f"run {o.run_id}, {o.seconds:.1f} s",
                "skipped": f"run {o.run_id} (earlier)",
                "failed": f"FAILED: {o.error}",
            }[o.status]
            retry = " (retried once)" if o.attempts > 1 else ""
            out.append(f"  {point_key(o.point)}  {what}{retry}")
        return out


def completed_runs(sweep: Sweep, *, url: str | None = None) -> dict[str, object]:
    """``{settings_key: newest COMPLETED RunRecord}`` of this sweep's runs in the database (runs made with other
    fixed values or named configs do not count)."""
    from restoration import tracking

    out: dict[str, object] = {}
    for rec in tracking.runs(sweep.experiment, status="COMPLETED", url=url):  # newest first
        tag = rec.sweep
        if tag and tag.get("name") == sweep.name and isinstance(tag.get("settings"), str):
            out.setdefault(tag["settings"], rec)
    return out


def worker_environment() -> dict[str, str]:
    """What a worker needs to write to this session's database."""
    from restoration.tracking import database

    return {"SACRED_DB_URL": database.db_url(), "RESTORATION_RUNS_DIR": str(database.runs_dir())}


def local_workers(spec: ClusterSpec, n_tasks: int) -> int:
    return max(1, min(spec.workers or os.cpu_count() or 1, n_tasks))


def worker_threads_env(spec: ClusterSpec, n_tasks: int) -> dict[str, str]:
    """Each local worker's share of the cores for TensorFlow's and oneDNN's thread pools: without it every
    worker sizes its pools to all cores and the workers fight over them."""
    threads = str(max(1, (os.cpu_count() or 1) // local_workers(spec, n_tasks)))
    return {"TF_NUM_INTRAOP_THREADS": threads, "OMP_NUM_THREADS": threads}


def run_sweep(
    sweep: Sweep, task: Callable[..., dict], *, cluster: ClusterSpec = ClusterSpec(), log: Callable[[str], None] = print
) -> SweepOutcome:
    """Run every point of ``sweep`` not yet completed on ``cluster``; ``task(experiment, named_configs, updates,
    tag, env) -> {"run_id", "status", "error"}`` runs one point (see :func:`restoration_experiments.sweep.run_point`).
    A failed point is retried once; the outcome lists every point."""
    from restoration.tracking import database

    check_database(cluster, database.db_url())
    t0 = time.monotonic()
    points = sweep.points()
    outcomes, todo = _split_done(sweep, points, completed_runs(sweep))
    result = SweepOutcome(sweep=sweep, cluster=cluster.kind if cluster.kind != "address" else cluster.address)
    log(
        f"sweep {sweep.name}: {len(points)} configurations of {sweep.experiment} "
        f"({' x '.join(f'{k} {len(v)}' for k, v in sweep.grid)}); {len(points) - len(todo)} completed before, "
        f"{len(todo)} to run on {result.cluster}; database {database.describe(database.db_url())}"
    )
    env = worker_environment()
    if cluster.kind == "local":
        env.update(worker_threads_env(cluster, len(todo)))

    def args(p):
        return sweep.experiment, list(sweep.named_configs), sweep.updates(p), sweep.tag(p), env

    def finish(p, reply: dict | None, error: str, seconds: float) -> bool:
        return _record_attempt(outcomes[point_key(p)], reply, error, seconds, log)

    if todo and cluster.kind == "serial":
        _run_serially(todo, lambda p: task(*args(p)), finish)
    elif todo:
        _run_on_dask(cluster, todo, lambda p: (_timed, task, *args(p)), finish, _attempt_keys(sweep, outcomes), log)
    result.outcomes = [outcomes[point_key(p)] for p in points]
    result.wall_s = time.monotonic() - t0
    return result


def _split_done(sweep: Sweep, points: list, done: dict) -> tuple[dict, list]:
    """``({point key: PointOutcome}, points still to run)``: points with a completed run are ``skipped``."""
    outcomes = {point_key(p): PointOutcome(point=p, status="pending") for p in points}
    todo = []
    for p in points:
        rec = done.get(sweep.settings_key(p))
        if rec is not None:
            outcomes[point_key(p)].status, outcomes[point_key(p)].run_id = "skipped", str(rec.id)
        else:
            todo.append(p)
    return outcomes, todo


def _record_attempt(o: PointOutcome, reply: dict | None, error: str, seconds: float, log) -> bool:
    """Count one attempt of a point; True when the point is settled (completed, or failed twice)."""
    o.attempts += 1
    o.seconds += seconds
    if reply is not None and reply.get("status") == "COMPLETED":
        o.status, o.run_id = "completed", str(reply.get("run_id"))
        log(f"  done {point_key(o.point)}: run {o.run_id} ({seconds:.1f} s)")
        return True
    o.error = error or (reply or {}).get("error") or f"run ended {(reply or {}).get('status')}"
    o.run_id = str((reply or {}).get("run_id")) if (reply or {}).get("run_id") else None
    if o.attempts < 2:
        log(f"  failed {point_key(o.point)}: {o.error}; retrying once")
        return False
    o.status = "failed"
    log(f"  failed again {point_key(o.point)}: {o.error}")
    return True


def _attempt_keys(sweep: Sweep, outcomes: dict) -> Callable[[dict], str]:
    """A Dask task key per point and attempt (a retry is a new task)."""
    return lambda p: f"{sweep.name}-{_slug(p)}-{outcomes[point_key(p)].attempts}"


def _run_serially(todo: list, call: Callable, finish: Callable) -> None:
    """Each point in this process, one after another; a failed one goes to the back of the queue once."""
    queue = list(todo)
    while queue:
        p = queue.pop(0)
        t = time.monotonic()
        try:
            reply, error = call(p), ""
        except Exception as e:  # noqa: BLE001 - a failed point is listed, the sweep goes on
            reply, error = None, f"{type(e).__name__}: {e}"
        if not finish(p, reply, error, time.monotonic() - t):
            queue.append(p)


def _run_on_dask(cluster: ClusterSpec, todo: list, call: Callable, finish: Callable, key: Callable, log) -> None:
    """Every point as a Dask task (``call(p)`` gives the function and its arguments); results as they come."""
    from distributed import as_completed

    client, dask_cluster = open_client(cluster, len(todo))
    try:
        log(f"Dask dashboard: {client.dashboard_link or 'not available (install bokeh)'}")
        started = {}

        def submit(p):
            fut = client.submit(*call(p), pure=False, key=key(p))
            started[fut.key] = p
            return fut

        pending = as_completed([submit(p) for p in todo])
        for fut in pending:
            p = started.pop(fut.key)
            try:
                reply, seconds = fut.result()
                error = ""
            except Exception as e:  # noqa: BLE001 - the task raised or its worker died
                reply, seconds, error = None, 0.0, f"{type(e).__name__}: {e}"
            if not finish(p, reply, error, seconds):
                pending.add(submit(p))
    finally:
        client.close()
        if dask_cluster is not None:
            dask_cluster.close()


def _timed(task, *args):
    t = time.monotonic()
    reply = task(*args)
    return reply, time.monotonic() - t


def _slug(point: dict) -> str:
    return "-".join(f"{k}={v}" for k, v in point.items()).replace(" ", "")


# ----------------------------------------------------------------------------------------------------------
# Reading a sweep back (the report)
# ----------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class SweepPoint:
    point: dict
    value: float
    run_id: str
    start: object = None  # datetime of the run's start and end (for the sweep's span)
    stop: object = None


def measured_points(sweep: Sweep, *, url: str | None = None) -> list[SweepPoint]:
    """One point per declared configuration that has a completed run (the newest), in grid order: its values
    and the run's ``summary[sweep.measure]`` (NaN when the run stored none)."""
    done, out = completed_runs(sweep, url=url), []
    for p in sweep.points():
        rec = done.get(sweep.settings_key(p))
        if rec is None:
            continue
        summary = (rec.report or {}).get("summary") or {}
        value = summary.get(sweep.measure)
        out.append(
            SweepPoint(
                point=p,
                value=float(value) if value is not None else math.nan,
                run_id=str(rec.id),
                start=rec.start_time,
                stop=rec.stop_time,
            )
        )
    return out
