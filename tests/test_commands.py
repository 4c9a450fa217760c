"""The command lines as a new user meets them: --version and --help on each, a figure's own help, unknown
options refused in one line, the run, the image and the layer checked before TensorFlow starts, TensorFlow's start-up
lines silenced, the --where operators listed."""

from __future__ import annotations

import subprocess
import sys

import pytest

from restoration import __version__, paths
from restoration.tracking.query import WHERE_OPERATORS


def run(*argv, env=None):
    return subprocess.run(
        [sys.executable, *argv], cwd=paths.REPO_ROOT, capture_output=True, text=True, timeout=600, env=env
    )


@pytest.mark.parametrize(
    "module", ["restoration", "restoration_experiments", "restoration_reports", "restoration_reports.board"]
)
def test_every_command_has_a_version(module):
    out = run("-m", module, "--version")
    assert out.returncode == 0 and out.stdout.strip() == f"python -m {module} (deep-restoration) {__version__}"


def test_a_figures_help_shows_its_title_named_configs_and_config_not_sacreds():
    out = run("-m", "restoration_experiments", "6", "--help")
    assert out.returncode == 0 and out.stderr == "", out.stderr
    text = out.stdout
    assert "Fig. 6: VGG16 pool1 -> image, three modules trained separately and stacked" in text
    assert "named configs: may, quick, thesis" in text and "  batch_size = 16" in text and "  crop = 32" in text
    assert "-u/--unobserved" in text
    for sacred_only in ("mongo", "file_storage", "tiny_db", "Sacred glue", "dummy", "--s3"):
        assert sacred_only not in text


def test_an_unknown_option_is_one_line_and_exit_2(tmp_path):
    out = run("-m", "restoration_experiments", "7", "--bogus")
    assert out.returncode == 2 and out.stdout == ""
    assert out.stderr.count("\n") == 1 and "unknown option '--bogus' for fig07" in out.stderr
    mongo = run("-m", "restoration_experiments", "7", "with", "quick", "-m", "localhost:27017")
    assert mongo.returncode == 2 and "unknown option '-m'" in mongo.stderr


def test_list_shows_every_figures_named_configs():
    from restoration.contract import registry

    out = run("-m", "restoration_experiments", "--list")
    assert out.returncode == 0 and out.stderr == ""
    assert out.stdout.count("named configs: ") == len(registry.load().figures)


def test_runs_help_lists_every_where_operator():
    text = " ".join(run("-m", "restoration", "runs", "--help").stdout.split())
    for op in WHERE_OPERATORS:
        assert f" {op} " in text or f"({op} " in text or f" {op}," in text or f"{op})" in text, op


def test_reconstruct_and_invert_check_the_run_image_and_layer_before_tensorflow(tmp_path):
    env = {
        "PATH": "/usr/bin:/bin",
        "RESTORATION_RUNS_DIR": str(tmp_path / "runs"),
        "HOME": str(tmp_path),
        "PYTHONPATH": str(paths.REPO_ROOT),
    }
    probe = (
        "import sys, runpy; sys.argv = ['restoration'] + sys.argv[1:]\n"
        "try:\n    runpy.run_module('restoration', run_name='__main__')\n"
        "finally:\n    print('TF' if 'tensorflow' in sys.modules else 'no TF', file=sys.stdout)"
    )
    rec = run(
        "-c",
        probe,
        "reconstruct",
        "--run",
        "999",
        "--image",
        str(tmp_path / "a.png"),
        "--out",
        str(tmp_path / "o.png"),
        env=env,
    )
    assert rec.returncode == 2 and rec.stderr.count("\n") == 1 and "no run 999" in rec.stderr
    assert rec.stdout.strip() == "no TF"
    inv = run(
        "-c",
        probe,
        "invert",
        "--image",
        str(tmp_path / "missing.png"),
        "--layer",
        "conv3_3",
        "--out",
        str(tmp_path / "o.png"),
        env=env,
    )
    assert inv.returncode == 2 and inv.stderr.strip() == f"error: image file not found: {tmp_path / 'missing.png'}"
    assert inv.stdout.strip() == "no TF"
    from PIL import Image

    Image.new("RGB", (64, 64)).save(tmp_path / "a.png")
    bad = run(
        "-c",
        probe,
        "invert",
        "--image",
        str(tmp_path / "a.png"),
        "--layer",
        "conv9_9",
        "--out",
        str(tmp_path / "o.png"),
        env=env,
    )
    assert bad.returncode == 2 and bad.stderr.count("\n") == 1, bad.stderr
    assert "vgg16 has no layer 'conv9_9'. Valid names: conv1_1/lin" in bad.stderr and bad.stdout.strip() == "no TF"
    fc = run(
        "-c",
        probe,
        "invert",
        "--image",
        str(tmp_path / "a.png"),
        "--layer",
        "fc6",
        "--out",
        str(tmp_path / "o.png"),
        env=env,
    )  # the default HED trunk has no fully connected layers
    assert fc.returncode == 2 and "no layer 'fc6'" in fc.stderr and fc.stdout.strip() == "no TF"


def test_tensorflows_start_up_lines_are_silenced():
    out = run("-c", "import restoration, tensorflow as tf; print(float(tf.constant(1.0) + 1))")
    assert out.returncode == 0 and out.stdout.strip() == "2.0" and out.stderr == "", out.stderr


def test_a_figure_run_prints_no_tensorflow_start_up_lines(tmp_path):
    """Inside a Sacred run too, where Sacred's dependency scan asks for TensorFlow's spec before the import."""
    import os

    env = {**os.environ, "RESTORATION_RUNS_DIR": str(tmp_path / "runs")}
    env.pop("SACRED_DB_URL", None)
    out = run(
        "-m",
        "restoration_experiments",
        "fig12_vgg16",
        "with",
        "quick",
        "net=tiny_vgg",
        "crop=16",
        "batch_size=4",
        "steps=2",
        "eval_size=16",
        "eval_per_image=1",
        "log_every=1",
        "eval_every=2",
        "ckpt_every=2",
        "rows=2",
        "precision=float32",
        env=env,
    )
    assert out.returncode == 0, out.stderr[-2000:]
    text = out.stdout + out.stderr
    assert "absl::InitializeLog" not in text and "I0000" not in text and "cuInit" not in text, text[-2000:]
