"""The project as an installed package: a wheel built from the tree, installed outside the checkout, gives the
console commands (``--help``, ``--version``), keeps runs in ``./runs`` of the working directory and renders a
report from a database there with the templates it ships."""

from __future__ import annotations

import os
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from restoration import __version__, paths

ROOT = paths.REPO_ROOT

TINY_RUN = """
from restoration import tracking
from restoration.contract.payload import Payload

ex = tracking.make_experiment("fig06")


@ex.main
def main(_run):
    tracking.set_report(_run, Payload(title="ignored", net="tiny net", summary={"psnr_mean": 20.5}))
    return 20.5


ex.run()
"""


def test_the_package_list_names_every_package_of_the_tree():
    """Every folder with an __init__.py is listed, under its import name: experiments/ and reports/ are mapped to
    restoration_experiments and restoration_reports, so the wheel adds no generic top-level name."""
    setup = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
    names = {"restoration": "restoration", "experiments": "restoration_experiments", "reports": "restoration_reports"}
    tree = {
        ".".join([names[top], *p.parent.relative_to(ROOT / top).parts])
        for top in names
        for p in (ROOT / top).rglob("__init__.py")
    }
    assert set(setup["packages"]) - {"restoration_reports.templates"} == tree, (
        "[tool.setuptools] packages is out of date"
    )
    mapped = {name: folder for name, folder in setup["package-dir"].items() if name in names.values()}
    assert mapped == {"restoration_experiments": "experiments", "restoration_reports": "reports"}, mapped


@pytest.fixture(scope="module")
def installed(tmp_path_factory):
    """The wheel, installed (without its dependencies, which this environment has) into a folder outside the
    checkout; returns that folder."""
    tmp = tmp_path_factory.mktemp("install")
    wheels = tmp / "wheels"
    build = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "--no-build-isolation", "-w", str(wheels), str(ROOT)],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert build.returncode == 0, build.stderr[-2000:]
    (wheel,) = wheels.glob("deep_restoration-*.whl")
    target = tmp / "site"
    inst = subprocess.run(
        [sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--target", str(target), str(wheel)],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert inst.returncode == 0, inst.stderr[-2000:]
    return target


def _env(target: Path) -> dict:
    env = {k: v for k, v in os.environ.items() if k not in ("RESTORATION_RUNS_DIR", "SACRED_DB_URL")}
    env["PYTHONPATH"] = str(target)  # before the checkout's editable install
    return env


def test_the_installed_package_has_commands_its_templates_and_runs_in_the_working_directory(installed, tmp_path):
    env, work = _env(installed), tmp_path / "work"
    work.mkdir()
    commands = ["restoration", "restoration-board", "restoration-experiments", "restoration-report"]
    assert sorted(p.name for p in (installed / "bin").iterdir()) == commands
    for command in commands:
        out = subprocess.run(
            [str(installed / "bin" / command), "--version"],
            cwd=work,
            env=env,
            capture_output=True,
            text=True,
            timeout=300,
        )
        assert out.returncode == 0 and out.stdout.strip().endswith(f"(deep-restoration) {__version__}"), out
        help_ = subprocess.run(
            [str(installed / "bin" / command), "--help"], cwd=work, env=env, capture_output=True, text=True, timeout=300
        )
        assert help_.returncode == 0 and command in help_.stdout, help_
    listing = subprocess.run(
        [str(installed / "bin" / "restoration-experiments"), "--help"],
        cwd=work,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert "fig06" in listing.stdout  # the registry ships with the package
    where = subprocess.run(
        [
            sys.executable,
            "-c",
            "import restoration, restoration_reports.build as b; from restoration import "
            "paths; print(restoration.__file__, paths.runs_dir(), b.TEMPLATE_DIR, "
            "paths.source_checkout())",
        ],
        cwd=work,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    module, runs, templates, checkout = where.stdout.split()
    assert Path(module).is_relative_to(installed) and checkout == "None"
    assert Path(runs) == (work / "runs").resolve()
    assert (
        Path(templates) == installed / "restoration_reports" / "templates"
        and (Path(templates) / "report.html.j2").is_file()
    )
    # no generic top-level name (experiments, reports, templates) lands in site-packages
    tops = {p.name for p in installed.iterdir() if not p.name.endswith(".dist-info")}
    assert tops == {"bin", "restoration", "restoration_experiments", "restoration_reports"}, tops

    (work / "tiny_run.py").write_text(TINY_RUN)
    run = subprocess.run(
        [sys.executable, "tiny_run.py"], cwd=work, env=env, capture_output=True, text=True, timeout=600
    )
    assert run.returncode == 0, run.stderr[-2000:]
    assert (work / "runs" / "sacred.sqlite").is_file()
    report = subprocess.run(
        [str(installed / "bin" / "restoration-report"), "--out", "out/report.html"],
        cwd=work,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert report.returncode == 0, report.stderr[-2000:]
    html = (work / "out" / "report.html").read_text()
    assert "Fig. 6: VGG16 pool1" in html and "20.5" in html and "tiny net" in html
