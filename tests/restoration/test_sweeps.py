"""Sweeps: declarations checked, a real 8-configuration sweep on a local Dask cluster into SQLite and into a
test-started PostgreSQL server, re-running skips what completed, a failing configuration is retried once and
listed, several machines refuse SQLite, SLURM job scripts come from the command line, the report draws it."""

from __future__ import annotations

import math
import textwrap

import pytest

from restoration_experiments.sweep import main as sweep_cli
from restoration_reports.runs import TrackingSource
from restoration_experiments.sweep import run_point
from restoration import sweeps, tracking

# the DC module on a tiny VGG: a few seconds per run once TensorFlow is imported in the worker
TINY = dict(
    net="tiny_vgg",
    crop=16,
    steps=6,
    eval_size=16,
    eval_per_image=1,
    log_every=1,
    eval_every=3,
    ckpt_every=3,
    rows=2,
    scales=[1.0],
)

SWEEP_TOML = """
[sweeps.tiny_lr_batch]
experiment = "fig12_vgg16"
title = "tiny DC: lr x batch"
fixed = {fixed}
grid = {{lr = [1e-4, 1e-3, 1e-2, 1e-1], batch_size = [2, 4]}}
measure = "psnr_mean"
"""


def _tiny_sweep(name="tiny_lr_batch", grid=None) -> sweeps.Sweep:
    table = {
        "experiment": "fig12_vgg16",
        "title": "tiny DC: lr x batch",
        "fixed": TINY,
        "measure": "psnr_mean",
        "grid": grid or {"lr": [1e-4, 1e-3, 1e-2, 1e-1], "batch_size": [2, 4]},
    }
    return sweeps.parse(name, table, where="test", figures={"fig12_vgg16"})


def _toml_value(d: dict) -> str:
    import json

    return "{" + ", ".join(f"{k} = {json.dumps(v)}" for k, v in d.items()) + "}"


def test_declarations_are_checked_with_one_line_errors():
    base = {"experiment": "fig12_vgg16", "grid": {"lr": [1e-3]}}
    with pytest.raises(sweeps.SweepError, match=r"grid.lr must be a non-empty list"):
        sweeps.parse("s", {**base, "grid": {"lr": []}}, where="r.toml", figures={"fig12_vgg16"})
    with pytest.raises(sweeps.SweepError, match=r"not a registered figure id"):
        sweeps.parse("s", {**base, "experiment": "fig99"}, where="r.toml", figures={"fig12_vgg16"})
    with pytest.raises(sweeps.SweepError, match=r"lr both fixed and swept"):
        sweeps.parse("s", {**base, "fixed": {"lr": 1}}, where="r.toml", figures={"fig12_vgg16"})
    with pytest.raises(sweeps.SweepError, match=r"measure 'psnr' is not a registered measure"):
        sweeps.parse("s", {**base, "measure": "psnr"}, where="r.toml", figures={"fig12_vgg16"})
    with pytest.raises(sweeps.SweepError, match=r"unknown key\(s\) grids"):
        sweeps.parse("s", {**base, "grids": {}}, where="r.toml", figures={"fig12_vgg16"})
    s = _tiny_sweep()
    assert len(s.points()) == 8 and s.points()[0] == {"lr": 1e-4, "batch_size": 2}
    assert s.updates(s.points()[-1])["batch_size"] == 4 and s.updates(s.points()[-1])["net"] == "tiny_vgg"
    # the project's own declarations load and name registered experiments
    declared = sweeps.load()
    assert "dc_lr_batch" in declared and len(declared["dc_lr_batch"].points()) >= 8


def test_several_machines_need_postgresql_and_slurm_comes_from_the_command_line(capsys):
    spec = sweeps.ClusterSpec.parse("slurm", slurm="queue=defq,cores=4,memory=8GB,walltime=00:30:00,jobs=2")
    with pytest.raises(sweeps.SweepError, match="observer must be PostgreSQL"):
        sweeps.check_database(spec, tracking.db_url())
    sweeps.check_database(sweeps.ClusterSpec.parse("local"), tracking.db_url())  # one machine: SQLite is fine
    assert sweeps.ClusterSpec.parse("head:8786").address == "tcp://head:8786"
    with pytest.raises(sweeps.SweepError, match="not key=value"):
        sweeps.ClusterSpec.parse("slurm", slurm="queue")
    # the CLI says so in one line and exits 2, before anything runs
    assert sweep_cli(["dc_lr_batch", "--cluster", "tcp://127.0.0.1:1"]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "SACRED_DB_URL=postgresql" in err
    # the SLURM job script dask-jobqueue would submit, from those options (no SLURM needed to write it)
    cluster = sweeps.slurm_cluster(spec)
    try:
        script = cluster.job_script()
    finally:
        cluster.close()
    assert "#SBATCH -p defq" in script and "--cpus-per-task=4" in script and "#SBATCH -t 00:30:00" in script
    assert "--nworkers 4" in script  # processes default to cores: one single-threaded worker per core


def test_failed_configuration_is_retried_once_and_listed():
    s = _tiny_sweep("tiny_bad", grid={"lr": [1e-3], "batch_size": [2, 0]})  # batch_size 0 fails the config check
    outcome = sweeps.run_sweep(s, run_point, cluster=sweeps.ClusterSpec("serial"), log=lambda line: None)
    good, bad = outcome.outcomes
    assert good.status == "completed" and good.attempts == 1
    assert bad.status == "failed" and bad.attempts == 2 and "batch_size" in bad.error
    assert any("FAILED" in line and "retried once" in line for line in outcome.lines())
    runs = tracking.runs("fig12_vgg16")
    assert sum(r.status == "FAILED" for r in runs) == 2 and sum(r.status == "COMPLETED" for r in runs) == 1


def _check_sweep_on_dask(s: sweeps.Sweep):
    lines = []
    outcome = sweeps.run_sweep(s, run_point, cluster=sweeps.ClusterSpec("local", workers=2), log=lines.append)
    assert [o.status for o in outcome.outcomes] == ["completed"] * 8, outcome.lines()
    assert any(line.startswith("Dask dashboard: http") for line in lines)
    runs = [r for r in tracking.runs("fig12_vgg16", status="completed")]
    assert len(runs) == 8 and len({r.host for r in runs}) == 1
    got = sorted((r.info["sweep"]["point"]["lr"], r.config["batch_size"]) for r in runs)
    assert got == sorted((p["lr"], p["batch_size"]) for p in s.points())
    assert all(r.config["lr"] == r.info["sweep"]["point"]["lr"] for r in runs)
    # again: everything completed before is skipped, nothing new runs
    again = sweeps.run_sweep(s, run_point, cluster=sweeps.ClusterSpec("local", workers=2), log=lambda line: None)
    assert [o.status for o in again.outcomes] == ["skipped"] * 8
    assert len(tracking.runs("fig12_vgg16")) == 8
    points = sweeps.measured_points(s)
    assert len(points) == 8 and all(math.isfinite(p.value) for p in points)  # a finite PSNR per run
    assert tracking.latest_completed_run("fig12_vgg16") is None  # sweep points never stand for the figure
    # other fixed values are other runs: the first point runs again, the rest of the old ones do not count
    moved = sweeps.parse(
        s.name,
        {
            "experiment": s.experiment,
            "title": s.title,
            "measure": s.measure,
            "fixed": {**dict(s.fixed), "steps": 7},
            "grid": {"lr": [1e-4], "batch_size": [2]},
        },
        where="test",
        figures={"fig12_vgg16"},
    )
    rerun = sweeps.run_sweep(moved, run_point, cluster=sweeps.ClusterSpec("serial"), log=lambda line: None)
    assert [o.status for o in rerun.outcomes] == ["completed"] and len(sweeps.measured_points(s)) == 8
    return outcome


def test_sweep_of_eight_configurations_on_local_dask_into_sqlite_and_the_report_draws_it(tmp_path, monkeypatch):
    s = _tiny_sweep()
    _check_sweep_on_dask(s)
    # the report: a registry with this sweep gets a Sweeps chapter with one curve of 8 points
    from restoration_reports import build

    registry = tmp_path / "registry.toml"
    registry.write_text(
        textwrap.dedent("""
        [figures.fig12_vgg16]
        module = "restoration_experiments.fig12_vgg16_pool1_dc"
        title = "DC"
        section = "Module kinds"
        order = 1
    """)
        + SWEEP_TOML.format(fixed=_toml_value(TINY))
    )
    report = build.collect(build.load_registry(registry), TrackingSource())
    (sec,) = report.sweeps
    assert sec.n_done == 8 and sec.n_points == 8 and sec.src.startswith("data:image/png")
    assert not sec.missing
    html = build.render_html(report)
    assert f"Figure {sec.number}." in html and f"Figure {sec.number + 1}." not in html  # numbered after the rest
    assert 'id="sweep-tiny_lr_batch"' in html and "one point per completed run" in html


def test_same_sweep_into_a_postgresql_server(postgres, monkeypatch):
    monkeypatch.setenv("SACRED_DB_URL", postgres.url)
    _check_sweep_on_dask(_tiny_sweep())
    assert all(r.url.startswith("postgresql") for r in tracking.runs("fig12_vgg16"))


def test_a_grid_or_fixed_key_the_experiment_lacks_is_refused_with_the_closest_name():
    from restoration_experiments.sweep import check_keys

    check_keys(sweeps.load()["dc_lr_batch"])  # the project's own sweep names real keys
    typo = sweeps.parse(
        "s", {"experiment": "fig12_vgg16", "grid": {"lrr": [1e-3, 3e-3]}}, where="r.toml", figures={"fig12_vgg16"}
    )
    with pytest.raises(
        sweeps.SweepError,
        match=r"sweep 's': unknown config key 'lrr' for fig12_vgg16; did you "
        r"mean 'lr'",
    ):
        check_keys(typo)
    fixed = sweeps.parse(
        "s",
        {"experiment": "fig12_vgg16", "grid": {"lr": [1e-3]}, "fixed": {"stepz": 5}},
        where="r.toml",
        figures={"fig12_vgg16"},
    )
    with pytest.raises(sweeps.SweepError, match=r"unknown config key 'stepz'.*did you mean 'steps'"):
        check_keys(fixed)
