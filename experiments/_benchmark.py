"""Body of the benchmark (``experiments/benchmark.py``): every method from every depth of every net, scored by
the thesis's three metrics on one evaluation set, reusing cells that an earlier run already computed.

A *cell* is one (net, depth, method). Its key (:func:`restoration.benchmark.cell_key`) digests everything that
decides its reconstructions: the net's weights, the layer, the method and its settings, the evaluation images
and the seed. Each finished cell is stored as an artifact ``cell_<key>.npz`` (reconstructions and scores) the
moment it finishes, so a later run, or a rerun after a crash, takes it from the database instead of recomputing.

Methods (config ``methods``, parsed by :meth:`restoration.benchmark.Method.parse`):

* ``mv2016`` / ``mv2016_target`` (any recipe name): M&V 2016 from noise / from the target image (the thesis's
  benchmark runs, ``utils/mv_benchmark.py``), ``steps`` Adam steps of the recipe's compressed schedule;
* ``trained_stacked``: one chain of separately trained modules from the deepest depth down to the image
  (through every conv output, pool and LRN), shared with the trained-inversion figures through the module store;
  each depth is reconstructed by the sub-stack that starts there;
* ``trained_merged``: for each depth, that sub-stack fine-tuned jointly on the sum of its modules' losses (the
  thesis's merged form, its rates);
* ``prior:<name>``: M&V 2016 with TV replaced by the learned image prior ``<name>`` (weighted as in
  ``prior_compare``): this project's form, with no thesis row beside it;
* ``foe_thesis:<name>``: the thesis's FoE row, its two-phase procedure
  (:func:`restoration.benchmark.two_phase_inversion`; ``foe_inv_funcs.py``): mean squared feature error alone
  from noise, then the same error plus the prior at the thesis's per-layer weight and jitter
  (:func:`restoration.preimage.learned_prior.thesis_jitter_and_weight`, e.g. AlexNet conv1/lin 1e-6, VGG16 1e-4). Steps
  and rate are the thesis's (:data:`restoration.benchmark.THESIS_TWO_PHASE`: AlexNet 5000 + 5000 at lr 1.0,
  VGG16 10,000 + 15,000 at 0.3), scaled by ``steps / 3500``, the factor by which the M&V cells shrink M&V 2016's
  3500 steps (quick, 200 steps: AlexNet 286 + 286, VGG16 571 + 857), and the rate times ``lr_scale`` as theirs.
  Where it differs from the thesis: our trained prior (not the thesis's FoE file), the images optimised as one
  batch, no gradient clipping (the thesis's 10,000 per entry), and for VGG16 (absent from the thesis's table) the
  settings of the thesis's VGG16 pool and fc runs.

Every cell's per-image scores (clipped display) go into the report payload's ``scores`` under the cell's summary
qualifier (``vgg16/foe_thesis:full512/conv3``), image ids being the photos' names.
"""

from __future__ import annotations

import io
import json
import time
from dataclasses import dataclass, field
from typing import Mapping

import numpy as np

from restoration_experiments import _schema as schema
from restoration_experiments import _steps as steps
from restoration_experiments._steps import PayloadParts
from restoration import tracking

NETS = ("vgg16", "alexnet", "tiny_vgg")


@dataclass
class NetRun:
    """What one net's part of the benchmark produced."""

    name: str
    label: str
    depths: list
    layer_of: dict
    named: list
    images: np.ndarray
    images_text: str
    default_size: int = 224  # the net's own input size (the thesis's jitter is in its pixels)
    cells: dict = field(default_factory=dict)  # (method id, depth) -> CellScores
    recs: dict = field(default_factory=dict)  # (method id, depth) -> RGB (N, H, W, 3)
    origin: dict = field(default_factory=dict)  # (method id, depth) -> "this run" | "reused from run N"
    notes: list = field(default_factory=list)


def _per_net(value, net: str, key: str):
    if isinstance(value, Mapping):
        if net not in value:
            raise ValueError(
                f"config {key}={dict(value)!r} has no entry for net {net!r}; add one, e.g. {key}={{'{net}': ...}}"
            )
        return value[net]
    return value


def check(cfg: Mapping) -> list:
    """The config, checked at the entry; returns the parsed methods."""
    from restoration.benchmark import Method

    if not cfg["nets"] or any(n not in NETS for n in cfg["nets"]):
        raise ValueError(f"config nets={cfg['nets']!r}: choose from {NETS}, e.g. ['vgg16', 'alexnet']")
    if not cfg["depths"] or any(isinstance(d, bool) or not isinstance(d, int) or d < 1 for d in cfg["depths"]):
        raise ValueError(f"config depths={cfg['depths']!r}: positive conv block numbers, e.g. [1, 2, 3, 4, 5]")
    schema.check(
        cfg,
        {
            **{k: schema.count(2) for k in ("n_images", "module_steps", "finetune_steps", "batch_size")},
            "steps": schema.count(200, optional=True),
        },
    )
    methods = [Method.parse(m) for m in cfg["methods"]]
    if not methods:
        raise ValueError("config methods=[]: name at least one, e.g. ['mv2016', 'trained_stacked']")
    return methods


def _fingerprint(images: np.ndarray) -> str:
    import hashlib

    return hashlib.sha1(np.ascontiguousarray(images, np.float32).tobytes()).hexdigest()[:16]


# ----------------------------------------------------------------------------------------------------------
# reuse of finished cells
# ----------------------------------------------------------------------------------------------------------
class CellStore:
    """Finished cells of this and earlier ``benchmark`` runs, found by key in the run database."""

    def __init__(self, _run, reuse: bool):
        self.run = _run
        self.index: dict[str, object] = {}
        if reuse:
            for rec in tracking.runs("benchmark"):
                if str(rec.id) == str(_run._id):
                    continue
                for name in rec.artifact_names:
                    if name.startswith("cell_") and name.endswith(".npz"):
                        self.index.setdefault(name[5:-4], rec)  # newest first: runs() lists newest first

    def load(self, key: str):
        from restoration.benchmark import CellScores

        rec = self.index.get(key)
        if rec is None:
            return None
        try:
            z = np.load(io.BytesIO(rec.artifact(f"cell_{key}.npz")))
            return z["recs"].astype(np.float32), CellScores.from_json(json.loads(str(z["scores"]))), rec.id
        except (KeyError, ValueError, OSError) as e:  # a damaged artifact is recomputed, not trusted
            print(f"[benchmark] cell {key} of run {rec.id} unreadable ({e}); recomputing", flush=True)
            return None

    def save(self, key: str, recs: np.ndarray, scores) -> None:
        tracking.add_npz(
            self.run,
            f"cell_{key}.npz",
            recs=np.asarray(recs, np.float32),
            scores=np.array(json.dumps(scores.to_json())),
        )


# ----------------------------------------------------------------------------------------------------------
# methods
# ----------------------------------------------------------------------------------------------------------
def _foe_cell(cfg, fnet, images, layer, method, log, priors):
    """The thesis's two-phase prior inversion (``foe_thesis:<prior>``): its settings for this net, step counts
    scaled as the M&V cells scale M&V 2016's, the prior at the thesis's weight for the layer."""
    from restoration import benchmark
    from restoration.preimage import recipes
    from restoration.priors.learned import PatchPrior
    from restoration.preimage.learned_prior import thesis_jitter_and_weight

    canon = fnet.resolve(layer)
    full = recipes.get_recipe("mv2016").n_steps
    factor = 1.0 if cfg["steps"] is None else int(cfg["steps"]) / full
    sched = benchmark.two_phase_schedule(fnet.name).scaled(factor, float(cfg["lr_scale"]))
    size = int(images.shape[1])
    jitter, weight = thesis_jitter_and_weight(fnet.name, canon, size=size, default_size=fnet.default_size)
    params = priors[method.prior]
    prior = PatchPrior(params, weight=weight)
    settings = {"two_phase": repr(sched), "jitter": jitter, "prior_run": params.run_id, "prior_weight": weight}
    every = max((sched.mse_steps + sched.prior_steps) // 30, 1)

    def run():
        return benchmark.two_phase_inversion(
            fnet,
            images,
            canon,
            prior,
            sched,
            jitter=jitter,
            seed=cfg["seed"],
            log=log,
            log_prefix=f"{fnet.name}/{layer}/{method.id}/",
            log_every=every,
            progress=cfg["progress"],
        )[1].rgb

    return settings, run


def _mv_cell(cfg, fnet, images, layer, method, log, priors):
    from restoration import preimage
    from restoration.preimage import recipes
    from restoration.priors.learned import PatchPrior
    from restoration_experiments._prior_common import prior_weight

    rec = recipes.get_recipe(method.recipe or "mv2016")
    if cfg["steps"] is not None:
        rec = rec.with_steps(int(cfg["steps"]))
    if cfg["lr_scale"] != 1.0:
        rec = rec.with_lr_scale(float(cfg["lr_scale"]))
    extra, settings = [], {"recipe": repr(rec)}
    if method.kind == "prior":
        params = priors[method.prior]
        lam = rec.tv_weight_for(fnet.resolve(layer))
        w = prior_weight(params, lam, float(cfg["weight_scale"]), map_hw=tuple(images.shape[1:3]))
        rec = rec.replace(tv_weight={0: 0.0})
        extra = [PatchPrior(params, weight=w)]
        settings.update(prior_run=params.run_id, prior_weight=w, recipe=repr(rec))
    every = max(rec.n_steps // 30, 1)

    def run():
        return preimage.invert_layer(
            fnet,
            images,
            layer,
            recipe=rec,
            extra_terms=extra,
            report=preimage.Reporting(
                log=log, log_prefix=f"{fnet.name}/{layer}/{method.id}/", log_every=every, progress=cfg["progress"]
            ),
            seed=cfg["seed"],
        ).rgb

    return settings, run


def _trained_context(cfg, net_name, fnet, nr: NetRun, run_id):
    """The chain from the deepest depth to the image, trained stacked (module store shared with the
    trained-inversion figures); returns ``(stack, batches, RunConfig, settings digest parts)``."""
    from restoration_experiments import _trained_inversion as ti

    deepest = nr.layer_of[max(nr.depths, key=lambda d: int(d[4:]))]
    fig = ti.TrainedInversionFigure(
        id="benchmark",
        net="alexnet" if net_name == "alexnet" else "vgg16",
        mode="stacked",
        variants={"default": {"": ti.Chain(top=deepest, kinds="DC", targets=cfg["targets"])}},
        what="",
        thesis_note="",
    )
    tc = ti.RunConfig.from_config(
        {
            **ti.BASE,
            "net": net_name,
            "weights": _weights(cfg, net_name),
            "variant": "default",
            "image_dir": cfg["image_dir"],
            "crop": int(_per_net(cfg["crop"], net_name, "crop")),
            "batch_size": cfg["batch_size"],
            "steps": cfg["module_steps"],
            "lr": cfg["lr"],
            "finetune_steps": cfg["finetune_steps"],
            "finetune_lr_schedule": cfg["finetune_lr_schedule"],
            "image_size": _per_net(cfg["size"], net_name, "size") if cfg["image_dir"] else None,
            "log_every": max(cfg["module_steps"] // 20, 1),
            "eval_every": max(cfg["module_steps"] // 4, 1),
            "ckpt_every": max(cfg["module_steps"] // 4, 1),
            "seed": cfg["seed"],
            "profile": cfg["profile"],
            "precision": cfg["precision"],
        },
        fig,
    )
    train, _ = ti.load_images(tc)
    train = [(n, im) for n, im in train if n not in {m for m, _ in nr.named}]  # never train on the test images
    return fig, tc, tc.crop_batches(train)


def _trained_lr_decay() -> float:
    """The trained cells' rate decay: the trained-inversion figures' (their ``BASE``, which the cells train with)."""
    from restoration_experiments import _trained_inversion as ti

    return ti.BASE["lr_decay"]


def _weights(cfg, net_name):
    return {"vgg16": cfg["vgg16_weights"], "alexnet": cfg["alexnet_weights"], "tiny_vgg": None}[net_name]


def _trained_cells(cfg, fnet, nr: NetRun, modes, todo, log, run_id, store: CellStore, keys):
    """Train what the missing trained cells need; store each cell as it finishes."""
    from restoration_experiments._train_stacks import StackData, train_and_score
    from restoration.stacks import reconstruction
    from restoration.stacks import training as stack_training

    fig, tc, batches = _trained_context(cfg, nr.name, fnet, nr, run_id)
    chain = fig.variants["default"][""]
    held = list(nr.named)
    outcome = train_and_score("", chain, fig, tc, StackData(fnet, batches, held, nr.images), log, run_id)
    stack = outcome.stack
    start = {s.in_layer: i for i, s in enumerate(stack.specs)}
    solo = {s.name: [w.numpy() for w in m.weights] for s, m in zip(stack.specs, stack.models)}
    for d in nr.depths:
        i = start[fnet.resolve(nr.layer_of[d])]
        for mode in modes:
            mid = f"trained_{mode}"
            if (mid, d) not in todo:
                continue
            for name, arrays in solo.items():  # every fine-tuning starts from the separately trained modules
                stack.set_module_arrays(name, arrays)
            sub = stack.sub(i)
            if mode == "merged":
                print(
                    f"[benchmark] {nr.name} {d}: fine-tuning the {len(sub)} modules from "
                    f"{nr.layer_of[d]} together ({tc.finetune_steps} steps)",
                    flush=True,
                )
                tuned_log = lambda m, v, s, _d=d: log(f"{nr.name}/{_d}/merged/{m}", v, s)  # noqa: E731
                stack_training.train_joint(fnet, sub, batches, tc.finetune_settings(), log=tuned_log, name="sum")
            recs = reconstruction.reconstruct(fnet, sub, nr.images, clip=False)
            _finish(cfg, nr, mid, d, recs, store, keys[(mid, d)], "this run")
    for name, arrays in solo.items():
        stack.set_module_arrays(name, arrays)
    return outcome


_SCORE_NET = {}


def _score_net(cfg):
    from restoration import nets

    key = (cfg["score_net"], cfg["vgg16_weights"])
    if key not in _SCORE_NET:
        _SCORE_NET.clear()
        _SCORE_NET[key] = nets.build(
            cfg["score_net"], cfg["vgg16_weights"] if cfg["score_net"] == "vgg16" else None, seed=0
        )
    return _SCORE_NET[key]


def _finish(cfg, nr: NetRun, mid, d, recs, store: CellStore, key, origin):
    """Score a finished cell, keep it, and store it in the run at once (a crash later loses nothing of it)."""
    from restoration import benchmark

    scores = benchmark.score(_score_net(cfg), nr.images, recs, layers=cfg["score_layers"])
    nr.cells[(mid, d)], nr.recs[(mid, d)], nr.origin[(mid, d)] = scores, np.asarray(recs, np.float32), origin
    store.save(key, recs, scores)


# ----------------------------------------------------------------------------------------------------------
# the run
# ----------------------------------------------------------------------------------------------------------
_MEASURE = {
    "mse": "mse_mean",
    "nmse_thesis": "nmse_thesis",
    "vgg_score": "vgg_score",
    "psnr": "psnr_mean",
    "ssim": "ssim_mean",
}


def _net_or_note(cfg, net_name):
    """``(net, None)`` or ``(None, why it is skipped)`` (AlexNet without its weights file is skipped, named)."""
    from restoration import nets, paths

    if net_name == "alexnet":
        w = cfg["alexnet_weights"]
        path = paths.default_alexnet_path() if w in (None, "default") else w
        from pathlib import Path

        if not Path(path).is_file():
            return None, (
                f"AlexNet skipped: no weights at {path} (give bvlc_alexnet.npy there, set "
                f"$ALEXNET_WEIGHTS, or `with alexnet_weights=/path/bvlc_alexnet.npy`)"
            )
        return nets.build("alexnet", str(path), seed=cfg["seed"], precision=cfg["precision"]), None
    return nets.build(net_name, _weights(cfg, net_name), seed=cfg["seed"], precision=cfg["precision"]), None


def run_net(_run, cfg, net_name, fnet, methods, store: CellStore, log) -> NetRun:
    """One net's cells: the evaluation set, each cell's key (reused from the store when an identical cell ran),
    then the optimisation cells and the trained cells still to compute."""
    nr = _net_run(cfg, net_name, fnet)
    priors = _method_priors(methods, nr)
    keys, runs = _plan_cells(cfg, fnet, nr, methods, priors, log)
    for cell, key in keys.items():  # (method id, depth) -> its key
        hit = store.load(key)
        if hit is not None:
            recs, scores, rid = hit
            nr.cells[cell], nr.recs[cell], nr.origin[cell] = scores, recs, f"run {rid}"
    n_all, n_hit = len(keys), len(nr.cells)
    print(
        f"[benchmark] {net_name}: {n_all} cells, {n_hit} reused from earlier runs, {n_all - n_hit} to compute",
        flush=True,
    )
    for (mid, d), run in runs.items():
        if (mid, d) not in nr.cells:
            print(f"[benchmark] {net_name} {d} ({nr.layer_of[d]}): {mid}", flush=True)
            _finish(cfg, nr, mid, d, run(), store, keys[(mid, d)], "this run")
    modes = [m.mode for m in methods if m.kind == "trained"]
    todo = {k for k in keys if k[0].startswith("trained_") and k not in nr.cells}
    if todo:
        _trained_cells(cfg, fnet, nr, modes, todo, log, _run._id, store, keys)
    return nr


def _net_run(cfg, net_name, fnet) -> NetRun:
    """The net's evaluation set (names must be unique: per-image scores are keyed by them) and depth layers."""
    from restoration import benchmark

    size = int(_per_net(cfg["size"], net_name, "size"))
    named, text = benchmark.evaluation_set(cfg["image_dir"], size, cfg["n_images"])
    names = [n for n, _ in named]
    if len(set(names)) != len(names):
        raise ValueError(
            f"evaluation images {names} repeat a name (per-image scores are keyed by it); give each "
            f"file in image_dir={cfg['image_dir']!r} its own name"
        )
    images = np.stack([im for _, im in named]).astype(np.float32)
    layer_of = benchmark.depth_layers(fnet, cfg["depths"], cfg["targets"])
    return NetRun(net_name, fnet.weights_label, list(layer_of), layer_of, named, images, text, fnet.default_size)


def _method_priors(methods, nr: NetRun) -> dict:
    """The learned priors the methods use, by name; a method whose prior is missing is left out, with a note."""
    from restoration_experiments._prior_common import load_prior

    priors = {}
    for m in methods:
        if m.prior and m.prior not in priors:
            try:
                priors[m.prior] = load_prior(m.prior, "input")
            except (FileNotFoundError, ValueError) as e:
                nr.notes.append(f"{m.label} left out: {e}")
    return priors


def _plan_cells(cfg, fnet, nr: NetRun, methods, priors: dict, log) -> tuple[dict, dict]:
    """Per (method, depth): the cell's key (everything its numbers depend on) and, for an optimisation method,
    the call that computes it."""
    from restoration import benchmark

    common = dict(
        net=fnet.digest(),
        images=_fingerprint(nr.images),
        seed=cfg["seed"],
        score_net=cfg["score_net"],
        score_layers=cfg["score_layers"],
        score_weights=cfg["vgg16_weights"],
    )
    trained = dict(
        crop=_per_net(cfg["crop"], nr.name, "crop"),
        batch_size=cfg["batch_size"],
        module_steps=cfg["module_steps"],
        lr=cfg["lr"],
        lr_decay=_trained_lr_decay(),
        targets=cfg["targets"],
        image_dir=cfg["image_dir"],
        deepest=max(cfg["depths"]),
    )
    finetune = dict(finetune_steps=cfg["finetune_steps"], finetune=cfg["finetune_lr_schedule"])
    keys, runs = {}, {}
    for m in methods:
        if m.prior and m.prior not in priors:
            continue
        for d, layer in nr.layer_of.items():
            if m.kind == "trained":
                parts = {**trained, **(finetune if m.mode == "merged" else {})}
            elif m.kind == "foe_thesis":
                parts, runs[(m.id, d)] = _foe_cell(cfg, fnet, nr.images, layer, m, log, priors)
            else:
                parts, runs[(m.id, d)] = _mv_cell(cfg, fnet, nr.images, layer, m, log, priors)
            keys[(m.id, d)] = benchmark.cell_key(layer=layer, method=m.id, **common, **parts)
    return keys, runs


def run_benchmark(_run, cfg: Mapping) -> float:
    """Every method x depth x net; tables, plots, grid and the report payload. Returns the mean PSNR over
    every computed cell of the first net (Sacred's float result)."""
    from restoration.contract import registry
    from restoration.contract.payload import Payload

    methods = check(cfg)
    t0 = time.time()
    done, skipped = _run_nets(_run, cfg, methods)
    parts = PayloadParts()
    paras = [_METRICS_PARAGRAPH.format(profile=cfg["profile"], targets=cfg["targets"])]
    for nr in done:
        methods_here = [m for m in methods if any((m.id, d) in nr.cells for d in nr.depths)]
        _cell_scores(nr, methods_here, parts)
        _net_tables_and_figures(_run, cfg, nr, methods_here, parts)
        paras += [_net_paragraph(nr), _verdict(nr, methods_here)]
    paras += skipped
    paras.append(_methods_paragraph(cfg))
    if any(m.kind == "foe_thesis" for m in methods):
        paras.append(_two_phase_paragraph(cfg, done))
    paras.append(f"Wall time {time.time() - t0:.0f} s.")
    payload = Payload(
        title=registry.title("benchmark"),
        net="; ".join(f"{nr.name}: {nr.label}" for nr in done),
        summary=parts.summary,
        paragraphs=paras,
        figures=parts.figures,
        tables=parts.tables,
        scores=parts.scores,
    )
    steps.finish(_run, payload)
    first = done[0]
    return float(np.mean([c.mean("psnr") for c in first.cells.values()]))


def _run_nets(_run, cfg: Mapping, methods) -> tuple[list[NetRun], list[str]]:
    """Each configured net's cells (reused or computed); the nets skipped, with why (no AlexNet weights)."""
    store = CellStore(_run, bool(cfg["reuse"]))
    log = tracking.metric_logger(_run)
    done, skipped = [], []
    for net_name in cfg["nets"]:
        fnet, why = _net_or_note(cfg, net_name)
        if fnet is None:
            print(f"[benchmark] {why}", flush=True)
            skipped.append(why)
            continue
        done.append(run_net(_run, cfg, net_name, fnet, methods, store, log))
    if not done:
        raise ValueError("no net to benchmark: " + "; ".join(skipped))
    return done, skipped


_METRICS_PARAGRAPH = (
    "Profile {profile}. Every method reconstructs the same images from the last convolution "
    "of each depth (pre-ReLU, '/{targets}', as the thesis's conv1/lin ... conv5/lin). Metrics as "
    "in the thesis (utils/rec_evaluation.py): MSE over RGB in [0, 255]; NMSE = sum((x0 - x)^2) / "
    "sum(x0 x) (the thesis's, not M&V's ||x0||^2); VGG score = the mean over conv1_1 ... conv5_1 "
    "(after ReLU) of ||G(x0) - G(x)||^2 / ||G(x0)||^2 with G the Gram matrix of the mean-subtracted maps, "
    "on the top-left 224 px crop. Deviation: the VGG score uses this project's VGG16 (the HED trunk), "
    "where the thesis used VGG19. All three are lower-is-better; PSNR and SSIM are given besides."
)


def _cell_scores(nr: NetRun, methods_here, parts: PayloadParts) -> None:
    """Each computed cell's means into the summary and its per-image scores under its qualifier."""
    from restoration import benchmark
    from restoration.contract.payload import ImageScores

    for m in methods_here:
        for d in nr.depths:
            if (m.id, d) not in nr.cells:
                continue
            cell = nr.cells[(m.id, d)]
            for metric, measure in _MEASURE.items():
                parts.summary[benchmark.summary_key(measure, nr.name, m.id, d)] = cell.mean(metric)
            parts.scores[benchmark.cell_qualifier(nr.name, m.id, d)] = ImageScores(
                [n for n, _ in nr.named],
                {measure: [float(v) for v in cell.scores["clip"][metric]] for metric, measure in _MEASURE.items()},
            )


def _net_tables_and_figures(_run, cfg: Mapping, nr: NetRun, methods_here, parts: PayloadParts) -> None:
    """One net's main, winners and display tables; a plot per metric by depth; the reconstruction grid."""
    from restoration import benchmark
    from restoration.contract.payload import FigureRef
    from restoration_reports.plots import benchmark as benchmark_plots
    from restoration_reports.tables import benchmark as benchmark_tables

    thesis = nr.name == "alexnet"
    parts.tables += [
        benchmark_tables.main_table(nr.name, nr.depths, nr.layer_of, methods_here, nr.cells, thesis=thesis),
        benchmark_tables.winners_table(nr.name, nr.depths, methods_here, nr.cells, thesis=thesis),
        benchmark_tables.display_table(nr.name, nr.depths, methods_here, nr.cells, thesis=thesis),
    ]
    for metric in benchmark.METRICS:
        values = {k: c.mean(metric) for k, c in nr.cells.items()}
        name = f"benchmark_{nr.name}_{metric}.png"
        plot = benchmark_plots.metric_plot(nr.name, nr.depths, methods_here, values, metric, thesis=thesis)
        tracking.add_figure(_run, plot, name)
        dashed = "; dashed: the thesis's AlexNet numbers" if thesis else ""
        caption = f"{nr.name}: {metric} by depth, one line per method (mean over the evaluation images{dashed})."
        parts.figures.append(FigureRef(name, caption))
    gi = min(int(cfg["grid_image"]), len(nr.named) - 1)
    grid = benchmark_plots.reconstruction_grid(
        nr.images[gi], nr.depths, methods_here, {k: v[gi] for k, v in nr.recs.items()}
    )
    tracking.add_figure(_run, grid, f"benchmark_{nr.name}_grid.png")
    parts.figures.append(
        FigureRef(
            f"benchmark_{nr.name}_grid.png",
            f"{nr.name}: reconstructions of {nr.named[gi][0]} (methods down, depths across; clipped to [0, 255]).",
        )
    )


def _net_paragraph(nr: NetRun) -> str:
    """One net's evaluation set, its layers, the cells reused from earlier runs, and its notes."""
    reused = sorted({o for o in nr.origin.values() if o != "this run"})
    taken = (
        f"{sum(o != 'this run' for o in nr.origin.values())} of {len(nr.origin)} cells were taken "
        f"from earlier runs ({', '.join(reused)}) with the same configuration. "
        if reused
        else ""
    )
    layers = ", ".join(f"{d} = {la}" for d, la in nr.layer_of.items())
    return f"{nr.name} ({nr.label}): evaluation set {nr.images_text}. Layers: {layers}. " + taken + " ".join(nr.notes)


def _methods_paragraph(cfg: Mapping) -> str:
    return (
        f"Methods: M&V 2016 {cfg['steps'] or 'recipe'} steps per cell (the recipe's schedule compressed), with the "
        "thesis's jitter rule and the 2B colour ball; 'start: the image' is how the thesis's benchmark ran it "
        "(utils/mv_benchmark.py). Trained inverters: one chain of DC modules from the deepest depth to the image, "
        f"{cfg['module_steps']} Adam steps per module (lr {cfg['lr']:g}, batch {cfg['batch_size']}, crops "
        f"{cfg['crop']}); 'stacked' reconstructs each depth through the sub-stack that starts there, 'merged' "
        f"fine-tunes that sub-stack jointly for {cfg['finetune_steps']} steps at the thesis's rates "
        f"{cfg['finetune_lr_schedule']}. 'M&V 2016 + prior' rows replace TV in M&V 2016's recipe by a learned "
        f"prior (weight {cfg['weight_scale']:g} x lambda_TV / the prior's natural-patch energy, as prior_compare); "
        "this is our form and has no thesis row."
    )


def _two_phase_paragraph(cfg, done) -> str:
    """What the ``foe_thesis`` rows ran, per net (steps, rate, and jitter and prior weight by layer), and where that
    differs from the thesis."""
    from restoration import benchmark
    from restoration.preimage import recipes
    from restoration.preimage.learned_prior import thesis_jitter_and_weight

    factor = 1.0 if cfg["steps"] is None else int(cfg["steps"]) / recipes.get_recipe("mv2016").n_steps
    per_net = []
    for nr in done:
        th = benchmark.two_phase_schedule(nr.name)
        s = th.scaled(factor, float(cfg["lr_scale"]))
        by_layer = ", ".join(
            "{} jitter {} weight {:g}".format(
                d, *thesis_jitter_and_weight(nr.name, la, size=int(nr.images.shape[1]), default_size=nr.default_size)
            )
            for d, la in nr.layer_of.items()
        )
        per_net.append(
            f"{nr.name}: {s.mse_steps} + {s.prior_steps} steps at lr {s.lr:g}, jitter for the first "
            f"{s.jitter_steps} steps of each phase (the thesis's {th.mse_steps} + {th.prior_steps} at "
            f"{th.lr:g}, jitter for {th.jitter_steps}); {by_layer}"
        )
    return (
        "Rows 'thesis's 2 phases' run the thesis's FoE procedure (foe_inv_funcs.py), which made its table's FoE "
        "row: Adam on the layer's mean squared feature error alone from N(114.8, 1.1) RGB noise, then, from that "
        "image, the same error plus the learned prior at the thesis's weight for the layer, with its jitter "
        "(zero padding) and no pixel constraint. Step counts are the thesis's times the factor the M&V cells "
        "use (" + "; ".join(per_net) + "). Where we differ from the thesis: our own trained prior; the images "
        "optimised as one batch; no gradient clipping (the thesis's 10,000 per entry); and VGG16's steps, rate "
        "and jitter window come from the thesis's VGG16 pool and fc runs, since its table had no VGG16. The "
        "thesis's AlexNet FoE numbers stand beside this row, not beside 'M&V 2016 + prior'."
    )


def _verdict(nr: NetRun, methods) -> str:
    """Which method wins at which depth, with numbers, and where that agrees with the thesis's AlexNet table."""
    from restoration.benchmark import THESIS_ALEXNET, thesis_value
    from restoration_reports.tables import benchmark as benchmark_tables

    label = {m.id: m.label for m in methods}
    parts = []
    for metric in ("mse", "vgg_score"):
        w = benchmark_tables.winners(nr.depths, methods, nr.cells, metric)
        bits = [f"{d} {label[w[d]]} ({nr.cells[(w[d], d)].mean(metric):.4g})" for d in nr.depths if d in w]
        th = []
        for d in nr.depths:
            have = [(thesis_value(mid, metric, d), mid) for (mid, met) in THESIS_ALEXNET if met == metric]
            if have:
                th.append(min(have)[1])
        agree = [d for d, t in zip(nr.depths, th) if w.get(d) == t]
        parts.append(
            f"lowest {metric}: "
            + "; ".join(bits)
            + (
                f" — the thesis's AlexNet winner is the same method at {len(agree)} of {len(th)} depths"
                + (f" ({', '.join(agree)})" if agree else "")
                if th
                else ""
            )
        )
    return f"{nr.name}: " + ". ".join(parts) + "."
