"""The command lines, the report and the experiment declarations start without TensorFlow (seconds of start-up
and its log lines): only what computes imports it, on first use."""

from __future__ import annotations

import subprocess
import sys

import pytest

from restoration import paths

LIGHT = [
    "restoration.cli",
    "restoration.paths",
    "restoration.contract.registry",
    "restoration.nets",
    "restoration.nets.geometry",
    "restoration.objectives.jitter",
    "restoration.priors.patches",
    "restoration.preimage.recipes",
    "restoration.stacks",
    "restoration.stacks.training",
    "restoration.sweeps",
    "restoration_reports.build",
    "restoration_reports.board",
    "restoration_experiments.__main__",
    "restoration_experiments._trained_inversion",
    "restoration_experiments.fig06_vgg16_pool1_stacked",
    "restoration_experiments.fig02_vgg16_mv_inversion",
    "restoration_experiments.benchmark",
]


@pytest.mark.parametrize("module", LIGHT)
def test_importing_does_not_start_tensorflow(module):
    out = subprocess.run(
        [sys.executable, "-c", f"import sys, {module}; print('tensorflow' in sys.modules)"],
        cwd=paths.REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert out.returncode == 0 and out.stdout.strip() == "False", out.stderr[-1500:]


@pytest.mark.parametrize(
    "argv",
    [
        ["-m", "restoration", "runs", "--help"],
        ["-m", "restoration_experiments", "--list"],
        ["-m", "restoration_reports", "--help"],
        ["-m", "restoration_reports.board", "--help"],
    ],
)
def test_command_lines_print_no_tensorflow_start_up_lines(argv):
    out = subprocess.run([sys.executable, *argv], cwd=paths.REPO_ROOT, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0 and out.stderr == "", out.stderr[-1500:]
