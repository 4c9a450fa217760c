"""Seed noise of the quick trained-inversion figures (fig05, fig06): per-seed held-out PSNR, its mean and SD, and
the variance of per-image PSNR split into seed and seed x image parts. Findings: ``benchmarks/seed_noise.md``.

Runs come from one runs folder per condition, e.g.::

    RESTORATION_RUNS_DIR=/tmp/seednoise/before .venv/bin/python -m restoration_experiments fig06 with quick seed=3
    .venv/bin/python benchmarks/seed_noise.py /tmp/seednoise/before [/tmp/seednoise/after ...]

A condition may join folders with ``+`` (``before+before0``): a later folder's run of a seed replaces an earlier's.
``--offsets`` first: also reconstruct the held-out crops through each run's stored modules (float32) and score them
with each image's per-channel mean error taken off, i.e. without the colour offset.

The split is a two-way ANOVA without replication (seeds x held-out images, one PSNR per cell), in sums of squares:
``SS_seed = I * sum_s (mean_s - grand)^2``, ``SS_image = S * sum_i (mean_i - grand)^2``, the residual is the
seed x image interaction. The variance components are the expected-mean-squares estimates (method of moments):
``var_seed = (MS_seed - MS_resid) / I`` (clipped at 0), ``var_seed_x_image = MS_resid``. The per-seed SD is the
SD (ddof=1) of the per-seed mean PSNR, which is what a figure's headline number varies by.
"""

from __future__ import annotations

import json
import os
import sys

import numpy as np


def read(runs_dir: str, figure: str) -> dict:
    """``{seed: {"psnr": per-image array, "names": [...], "seconds": s, "curves": {metric: (steps, values)}}}`` of
    the completed ``figure`` runs in ``runs_dir`` (the newest run per seed)."""
    os.environ["RESTORATION_RUNS_DIR"] = runs_dir
    os.environ.pop("SACRED_DB_URL", None)
    from restoration import tracking

    url = f"sqlite:///{runs_dir}/sacred.sqlite"
    out = {}
    for rec in tracking.runs(figure, status="COMPLETED", url=url):  # newest first
        seed = int(rec.config.get("seed", 0))
        if seed in out:
            continue
        scores = json.loads(rec.artifact(f"{figure}_scores.json"))
        stack = next(iter(scores.values()))
        out[seed] = {
            "psnr": np.asarray(stack["psnr"], float),
            "names": stack["names"],
            "seconds": rec.duration_s,
            "curves": rec.metrics(),
            "config": rec.config,
        }
    return dict(sorted(out.items()))


def variance_split(table: np.ndarray) -> dict:
    """Two-way ANOVA without replication of ``table`` (seeds x images): sums of squares, mean squares and the
    variance components (see the module docstring)."""
    S, I = table.shape
    grand = table.mean()
    ss_seed = I * np.sum((table.mean(1) - grand) ** 2)
    ss_image = S * np.sum((table.mean(0) - grand) ** 2)
    ss_total = np.sum((table - grand) ** 2)
    ss_resid = ss_total - ss_seed - ss_image
    ms_seed, ms_resid = ss_seed / (S - 1), ss_resid / ((S - 1) * (I - 1))
    return {
        "ss_seed": ss_seed,
        "ss_image": ss_image,
        "ss_seed_x_image": ss_resid,
        "ms_seed": ms_seed,
        "ms_seed_x_image": ms_resid,
        "var_seed": max(0.0, (ms_seed - ms_resid) / I),
        "var_seed_x_image": ms_resid,
    }


def summary(runs: dict) -> dict:
    seeds = list(runs)
    table = np.stack([runs[s]["psnr"] for s in seeds])
    per_seed = table.mean(1)
    return {
        "seeds": seeds,
        "per_seed": per_seed,
        "mean": float(per_seed.mean()),
        "sd": float(per_seed.std(ddof=1)) if len(seeds) > 1 else float("nan"),
        "seconds": [runs[s]["seconds"] for s in seeds],
        "split": variance_split(table) if len(seeds) > 1 else {},
        "table": table,
    }


def heldout_curves(runs: dict) -> str:
    """The held-out loss curves (every module's, at each evaluation step), one line per seed and metric."""
    lines = []
    for s, r in runs.items():
        for name, (steps, values) in sorted(r["curves"].items()):
            if name.endswith("/heldout_loss"):
                pts = " ".join(f"{int(a)}:{b:.4g}" for a, b in zip(steps, values))
                lines.append(f"  seed {s} {name}: {pts}")
    return "\n".join(lines)


def read_joined(dirs: str, figure: str) -> dict:
    out = {}
    for d in dirs.split("+"):
        out.update(read(d, figure))
    return dict(sorted(out.items()))


def colour_offsets(runs_dir: str, figure: str) -> None:
    """Per seed: held-out PSNR, and PSNR with each reconstruction's per-channel mean error (colour offset) removed;
    the rocket crops' mean offset per channel (RGB grey levels)."""
    from restoration import data, nets, tracking
    from restoration.stacks import load_stack_bytes
    from restoration.stacks.reconstruction import reconstruct

    fnet = nets.build("vgg16", "default", seed=0, precision="float32")
    held = data.fixed_crops(data.embedded_images("heldout"), 128, 4)[:16]
    x = np.stack([im for _, im in held]).astype(np.float32)
    rocket = np.array(["rocket" in n for n, _ in held])
    url = f"sqlite:///{runs_dir}/sacred.sqlite"
    done = set()
    for rec in tracking.runs(figure, status="COMPLETED", url=url):  # newest first
        seed = int(rec.config.get("seed", 0))
        if seed in done:
            continue
        done.add(seed)
        stack = load_stack_bytes(rec.artifact(f"{figure}_modules.npz"), rec.artifact(f"{figure}_modules.json"))
        rec_x = reconstruct(fnet, stack, x)
        off = (rec_x - x).mean(axis=(1, 2), keepdims=True)
        psnr = lambda r: 10 * np.log10(255.0**2 / np.mean((r - x) ** 2, axis=(1, 2, 3)))  # noqa: E731
        p0, p1 = psnr(rec_x), psnr(np.clip(rec_x - off, 0, 255))
        print(
            f"  {figure} seed {seed}: PSNR {p0.mean():.2f} (rocket {p0[rocket].mean():.2f}); colour offset removed "
            f"{p1.mean():.2f} (rocket {p1[rocket].mean():.2f}); "
            f"rocket offset RGB {np.round(off[rocket, 0, 0].mean(0), 1)}"
        )


def main(argv: list[str]) -> None:
    offsets = "--offsets" in argv
    argv = [a for a in argv if a != "--offsets"]
    for runs_dir in argv:
        for figure in ("fig05", "fig06"):
            runs = read_joined(runs_dir, figure)
            if not runs:
                continue
            s = summary(runs)
            print(f"== {runs_dir} {figure}: seeds {s['seeds']}")
            print("  per-seed PSNR: " + " / ".join(f"{v:.2f}" for v in s["per_seed"]))
            print(f"  mean {s['mean']:.2f} dB, SD {s['sd']:.2f} dB")
            print("  wall s: " + " / ".join(f"{v:.0f}" for v in s["seconds"]))
            if s["split"]:
                sp = s["split"]
                print(
                    f"  variance: seed {sp['var_seed']:.3f} dB^2 (SD {np.sqrt(sp['var_seed']):.2f}), "
                    f"seed x image {sp['var_seed_x_image']:.3f} dB^2 (SD {np.sqrt(sp['var_seed_x_image']):.2f}); "
                    f"SS seed {sp['ss_seed']:.2f}, image {sp['ss_image']:.2f}, seed x image {sp['ss_seed_x_image']:.2f}"
                )
            names = next(iter(runs.values()))["names"]
            print("  per image (rows = seeds): " + ", ".join(names))
            for seed, row in zip(s["seeds"], s["table"]):
                print(f"    {seed}: " + " ".join(f"{v:6.2f}" for v in row))
            print(heldout_curves(runs))
            if offsets:
                for d in runs_dir.split("+"):
                    colour_offsets(d, figure)


if __name__ == "__main__":
    main(sys.argv[1:])
