"""Inputs are checked once, at the entry: every bad value gets one line naming the argument and the fix, before
any work starts, and a finished result is never thrown away."""

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from skimage import io as skio

from restoration import cli

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture
def photo(tmp_path):
    from restoration import data

    path = tmp_path / "photo.png"
    skio.imsave(
        path, data.center_crop_resize(dict(data.embedded_images("heldout"))["chelsea"], 64), check_contrast=False
    )
    return path


@pytest.mark.parametrize(
    "size, message",
    [("0", "0 px is too small; use at least 16"), ("3", "3 px is too small"), ("x", "'x' is not an integer")],
)
def test_size_is_checked_before_anything_runs(size, message, photo, tmp_path, capsys):
    with pytest.raises(SystemExit) as e:
        cli.main(["reconstruct", "--run", "1", "--image", str(photo), "--out", str(tmp_path / "o.png"), "--size", size])
    assert e.value.code == 2 and f"argument --size: {message}" in capsys.readouterr().err


@pytest.mark.parametrize("out, message", [("x.xyz", "must end in .png"), ("folder/", "must end in .png")])
def test_out_must_be_a_png_path(out, message, photo, tmp_path, capsys):
    with pytest.raises(SystemExit):
        cli.main(["invert", "--layer", "conv1_2", "--image", str(photo), "--out", str(tmp_path / out)])
    assert "argument --out: " in capsys.readouterr().err


def test_out_under_a_file_is_refused_before_the_work(photo, tmp_path, capsys):
    blocker = tmp_path / "not_a_folder"
    blocker.write_text("x")
    with pytest.raises(SystemExit):
        cli.main(["invert", "--layer", "conv1_2", "--image", str(photo), "--out", str(blocker / "pre.png")])
    assert f"{blocker} is a file, not a folder" in capsys.readouterr().err


def test_small_images_are_not_upscaled_silently(tmp_path, capsys, monkeypatch):
    from restoration import nets

    monkeypatch.setattr(nets, "build", lambda name, weights=None, **kw: nets.tiny_vgg(channels=(8, 8)))
    tiny = tmp_path / "tiny.png"
    skio.imsave(tiny, np.full((8, 8, 3), 120, np.uint8), check_contrast=False)
    assert (
        cli.main(
            [
                "invert",
                "--layer",
                "conv1_2",
                "--image",
                str(tiny),
                "--size",
                "32",
                "--steps",
                "2",
                "--out",
                str(tmp_path / "o.png"),
            ]
        )
        == 2
    )
    err = capsys.readouterr().err
    assert "is 8x8 px, smaller than --size 32: it would be upscaled" in err and not (tmp_path / "o.png").exists()


def test_fc_layers_need_the_nets_input_size(photo, tmp_path, capsys, monkeypatch):
    from restoration import nets

    monkeypatch.setattr(nets, "build", lambda name, weights=None, **kw: nets.alexnet(None))
    assert (
        cli.main(
            [
                "invert",
                "--net",
                "alexnet",
                "--layer",
                "fc6",
                "--image",
                str(photo),
                "--size",
                "160",
                "--out",
                str(tmp_path / "o.png"),
            ]
        )
        == 2
    )
    assert (
        "fc6/relu lies behind alexnet's fully connected layers, which need its input size; pass --size 227"
        in capsys.readouterr().err
    )


def test_unknown_figure_ids_are_refused_by_name():
    out = subprocess.run(
        [sys.executable, "-m", "restoration_experiments", "abc"], cwd=REPO, capture_output=True, text=True, timeout=120
    )
    assert out.returncode == 2 and "unknown figure 'abc'; registered: fig01" in out.stderr
    make = subprocess.run(["make", "-n", "reproduce-figure-abc"], cwd=REPO, capture_output=True, text=True)
    assert "experiments abc with" in make.stdout  # the id reaches the registry as typed, not as "fig00"


@pytest.mark.parametrize(
    "args, message",
    [
        (["with", "quick", "stepz=5"], "unknown config key 'stepz' for fig06; did you mean 'steps'?"),
        (["with", "quick", "module_steps.DC9=3"], "unknown config key 'module_steps.DC9' for fig06"),
        (["with", "quik"], "unknown named config 'quik' for fig06; use one of may, quick, thesis"),
    ],
)
def test_an_unknown_config_key_is_one_line_before_any_run(args, message, tmp_path):
    """Sacred would add the key silently and run with the intended one unchanged."""
    import os

    runs = tmp_path / "runs"
    proc = subprocess.run(
        [sys.executable, "-m", "restoration_experiments", "fig06", *args],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "RESTORATION_RUNS_DIR": str(runs), "TF_CPP_MIN_LOG_LEVEL": "3"},
    )
    err = [line for line in proc.stderr.splitlines() if line.startswith("error:")]
    assert proc.returncode == 2 and len(err) == 1 and message in err[0], proc.stderr
    assert "Traceback" not in proc.stderr
    assert not (runs / "sacred.sqlite").exists()  # no run was recorded
