"""Shared body of the trained-inversion figures (Fig. 5 end to end, Fig. 6 stacked): config, data, run, report.

The two figures differ only in how the same three modules (VGG16 pool1 -> conv1_2/lin -> conv1_1/lin -> image)
are trained; :data:`MODES` holds that difference and the words that describe it.
"""

from __future__ import annotations

import time

from restoration import tracking

MODES = {
    "stacked": dict(
        title="Fig. 6: VGG16 pool1 -> image, three modules trained separately and stacked",
        how="Each was trained alone on true activations of the net (input and target computed from the same "
            "image), {steps} Adam steps (lr {lr:g}) of batch {batch_size} random {crop} px crops, MSE loss on "
            "its target; then the modules were chained and fed held-out pool1 activations.",
        rows_caption="Held-out images | stacked reconstruction from pool1 | colour error | absolute error.",
        loss_title="Fig. 6 module losses",
        loss_caption="Per-module train and held-out MSE."),
    "end_to_end": dict(
        title="Fig. 5: VGG16 pool1 -> image, three modules trained end to end",
        how="The chain was trained at once from true pool1 activations with the MSE loss only on the "
            "reconstructed image, {steps} Adam steps (lr {lr:g}) of batch {batch_size} random {crop} px crops. "
            "Intermediate modules' losses against the true conv1_2/lin and conv1_1/lin are logged for comparison "
            "with Fig. 6 but carry no gradient.",
        rows_caption="Held-out images | end-to-end reconstruction from pool1 | colour error | absolute error.",
        loss_title="Fig. 5 end-to-end training losses",
        loss_caption="Image loss (e2e) and intermediate MSEs, train and held-out."),
}


def config():
    profile = "quick"  # noqa: F841  label of the named config used
    net = "vgg16"  # "vgg16" | "tiny_vgg" (tests)
    weights = "hed"  # vgg16 weights: "hed" or a .h5/.npy path (ignored by tiny_vgg)
    image_dir = None  # folder of training images; None = embedded scikit-image photos
    image_size = None  # folder images: centre crop + resize to this size (None = as they are)
    max_images = None  # folder: use at most this many images (sorted by name)
    heldout_fraction = 0.1  # folder images held out for evaluation
    kind = "DC"  # module kind: CD | DC | DD | UCC
    kernel = 5
    hidden = 64
    crop = 32  # training crop side (multiple of 2)
    batch_size = 16
    steps = 1000  # per module (stacked) / of the whole chain (end to end)
    lr = 1e-3
    eval_size = 128  # held-out image side
    eval_per_image = 4  # held-out crops per held-out image (1, 4, 9, ...)
    max_heldout = 16
    log_every = 10
    eval_every = 250
    ckpt_every = 100
    rows = 4  # figure rows
    seed = 0


def quick():
    profile = "quick"  # noqa: F841


def thesis():
    profile = "thesis"  # noqa: F841
    image_size = 224  # noqa: F841
    crop = 224  # noqa: F841
    batch_size = 32  # noqa: F841
    steps = 3000  # noqa: F841
    lr = 3e-4  # noqa: F841
    eval_size = 224  # noqa: F841
    eval_per_image = 1  # noqa: F841
    log_every = 10  # noqa: F841
    eval_every = 100  # noqa: F841
    ckpt_every = 250  # noqa: F841


def attach(ex) -> None:
    """Give a Sacred experiment the shared config and the ``quick`` / ``thesis`` named configs."""
    ex.config(config)
    ex.named_config(quick)
    ex.named_config(thesis)


def load_images(profile, image_dir, image_size, max_images, heldout_fraction, eval_size, eval_per_image,
                max_heldout, seed):
    """Training images and fixed held-out evaluation crops ``[(name, rgb float32 (S, S, 3))]``."""
    from restoration import data

    if image_dir is None:
        if profile == "thesis":
            raise ValueError("the thesis profile trains on a folder of images: pass image_dir=/path/to/images "
                             "(e.g. an ImageNet validation subset); the embedded photos are the quick profile")
        train, held = data.embedded_images("train"), data.embedded_images("heldout")
    else:
        images = data.folder_images(image_dir, size=image_size, limit=max_images)
        train, held = data.split_named(images, heldout_fraction, seed=seed)
    return train, data.fixed_crops(held, eval_size, eval_per_image)[:max_heldout]


def run_figure(_run, cfg: dict, *, name: str, mode: str) -> float:
    """Train the three pool1 modules in ``mode`` ("stacked" | "end_to_end"), evaluate on held-out crops and
    store modules, scores, figures and the report payload in the run. Returns the held-out mean PSNR."""
    import numpy as np

    from restoration import modules, nets, plots

    text = MODES[mode]
    c = dict(cfg)
    t0 = time.time()
    fnet = nets.build(c["net"], c["weights"], seed=c["seed"])
    train, held = load_images(c["profile"], c["image_dir"], c["image_size"], c["max_images"],
                              c["heldout_fraction"], c["eval_size"], c["eval_per_image"], c["max_heldout"],
                              c["seed"])
    specs = modules.vgg16_pool1_specs(kind=c["kind"], kernel=c["kernel"], hidden=c["hidden"])
    stack = modules.InversionStack.for_net(fnet, specs, seed=c["seed"], meta={"experiment": name, "mode": mode})
    settings = modules.TrainSettings(steps=c["steps"], lr=c["lr"], log_every=c["log_every"],
                                     eval_every=c["eval_every"], ckpt_every=c["ckpt_every"])
    curves: dict[str, tuple[list, list]] = {}
    run_log = tracking.metric_logger(_run)

    def log(metric, value, step):
        run_log(metric, value, step)
        xs, ys = curves.setdefault(metric, ([], []))
        xs.append(step)
        ys.append(value)

    ckpt_dir = tracking.checkpoint_dir(name, c)
    batches = modules.crop_batches([im for _, im in train], crop=c["crop"], batch_size=c["batch_size"],
                                   seed=c["seed"])
    heldout = np.stack([im for _, im in held])
    if mode == "stacked":
        results = modules.train_stack(fnet, stack, batches, settings, heldout=heldout, ckpt_dir=ckpt_dir, log=log)
        train_loss = {k: r.train_loss.get(k) for k, r in results.items()}
        resumed = {k: r.start_step for k, r in results.items() if r.start_step > 0}
    else:
        result = modules.train_end_to_end(fnet, stack, batches, settings, heldout=heldout, ckpt_dir=ckpt_dir,
                                          log=log)
        train_loss = result.train_loss
        resumed = {"e2e": result.start_step} if result.start_step > 0 else {}
    ev = modules.evaluate(fnet, stack, held)
    t_total = time.time() - t0
    tracking.add_npz(_run, f"{name}_modules.npz", **stack.weight_arrays())
    tracking.add_json(_run, stack.to_json_dict(), f"{name}_modules.json")
    tracking.add_json(_run, {"names": ev.names, **ev.scores}, f"{name}_scores.json")
    show = np.unique(np.linspace(0, len(ev.names) - 1, min(c["rows"], len(ev.names))).round().astype(int))
    rows_fig = plots.error_map_rows(ev.images[show], ev.reconstructions[show], titles=[ev.names[i] for i in show])
    tracking.add_figure(_run, rows_fig, f"{name}_rows.png")
    loss_caption = text["loss_caption"]
    if resumed:  # this run only logged the steps after its checkpoint; the rest are in the interrupted run
        loss_caption += (f" Curves start where this run resumed ({resumed}); earlier steps were logged by the "
                         "interrupted run.")
    if curves:
        tracking.add_figure(_run, plots.loss_curves(curves, title=text["loss_title"]), f"{name}_losses.png")

    tracking.set_report(_run, {
        "title": text["title"],
        "net": fnet.weights_label,
        "summary": {k: float(ev.summary[k]) for k in ("psnr_mean", "ssim_mean", "mse_mean", "nerr_mean")},
        "paragraphs": [
            f"Three {c['kind']} modules ({c['kernel']}x{c['kernel']} kernels, {c['hidden']} hidden channels) "
            "invert VGG16's first three operations: "
            + ", ".join(f"{s.name}: {s.in_layer} -> {s.out_layer}" for s in stack.specs) + ". "
            + text["how"].format(**c),
            f"Profile '{c['profile']}', net {c['net']} ({fnet.weights_label}); training images: "
            f"{'embedded scikit-image photos' if c['image_dir'] is None else c['image_dir']} ({len(train)}); "
            f"held-out: {len(held)} crops of {c['eval_size']} px. Set-up, training and evaluation took "
            f"{t_total:.0f} s"
            + (f"; resumed from checkpoints at steps {resumed}" if resumed else "") + ".",
            "Image MSE/PSNR/SSIM are on RGB in [0, 255] with the reconstruction clipped; the normalised error "
            "is ||x - x0||^2 / ||x0||^2 in pixel space (Mahendran & Vedaldi's definition).",
        ],
        "figures": [{"artifact": f"{name}_rows.png", "caption": text["rows_caption"]}]
        + ([{"artifact": f"{name}_losses.png", "caption": loss_caption}] if curves else []),
        "tables": [modules.loss_table(stack, ev, train_loss), modules.numbers_table(ev)],
    })
    tracking.mark_checkpoint_complete(ckpt_dir)  # the next run of this config trains afresh
    return float(ev.summary["psnr_mean"])
