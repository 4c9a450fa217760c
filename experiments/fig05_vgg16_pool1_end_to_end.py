"""Fig. 5: VGG16 pool1 -> image with the three modules of Fig. 6 trained end to end, loss on the image only.

Same modules as Fig. 6 (thesis settings, frhrdr/deep_restoration ``vgg16_specs`` DC1-DC3): ``DC3: pool1 ->
conv1_2/lin`` (stride 2), ``DC2: conv1_2/lin -> conv1_1/lin``, ``DC1: conv1_1/lin -> image``, 5x5 kernels, 64
hidden channels. Here the chain is trained at once from true pool1 activations with an MSE loss only on the
reconstructed (normalised BGR) image; the intermediate modules get no target of their own. The thesis claims
the stacked version (Fig. 6) reconstructs better.

Reproduce::

    make reproduce-figure-5          # = .venv/bin/python -m experiments fig05 with quick
    .venv/bin/python -m experiments fig05 with thesis image_dir=/path/to/imagenet_subset   # GPU scale

``quick`` (default): embedded scikit-image photos, 32 px random crops, batch 16, 1000 Adam steps (lr 1e-3) of
the whole chain (the same number of updates per module, and about the same compute, as Fig. 6's quick run),
evaluated on the same 8 held-out 128 px crops. About 4.5 min on 2 CPU cores (measured 4:24 and 4:41).
``thesis``: 224 px images from ``image_dir``, batch 32, 3000 steps, Adam lr 3e-4 (hours on CPU; use a GPU). A killed run
resumes from its last checkpoint when re-run with the same config; a NaN/inf loss fails the run and keeps the
last good checkpoint. A completed run marks its checkpoints finished, so re-running a config that already
completed trains afresh.
"""

from __future__ import annotations

import time

from restoration import tracking

NAME = "fig05"
ex = tracking.make_experiment(NAME)


@ex.config
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
    steps = 1000  # steps of the whole chain
    lr = 1e-3
    eval_size = 128  # held-out image side
    eval_per_image = 4  # held-out crops per held-out image (1, 4, 9, ...)
    max_heldout = 16
    log_every = 10
    eval_every = 250
    ckpt_every = 100
    rows = 4  # figure rows
    seed = 0


@ex.named_config
def quick():
    profile = "quick"  # noqa: F841


@ex.named_config
def thesis():
    profile = "thesis"  # noqa: F841
    image_size = 224
    crop = 224
    batch_size = 32
    steps = 3000
    lr = 3e-4
    eval_size = 224
    eval_per_image = 1
    log_every = 10
    eval_every = 100
    ckpt_every = 250


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


@ex.automain
def main(_run, _config, profile, net, weights, image_dir, image_size, max_images, heldout_fraction, kind, kernel,
         hidden,
         crop, batch_size, steps, lr, eval_size, eval_per_image, max_heldout, log_every, eval_every, ckpt_every,
         rows, seed):
    import numpy as np

    from restoration import modules, nets, plots

    t0 = time.time()
    fnet = nets.build(net, weights, seed=seed)
    train, held = load_images(profile, image_dir, image_size, max_images, heldout_fraction, eval_size,
                              eval_per_image, max_heldout, seed)
    stack = modules.InversionStack.for_net(fnet, modules.vgg16_pool1_specs(kind=kind, kernel=kernel,
                                                                           hidden=hidden), seed=seed,
                                           meta={"experiment": NAME, "mode": "end_to_end"})
    settings = modules.TrainSettings(steps=steps, lr=lr, log_every=log_every, eval_every=eval_every,
                                     ckpt_every=ckpt_every)
    curves: dict[str, tuple[list, list]] = {}
    run_log = tracking.metric_logger(_run)

    def log(name, value, step):
        run_log(name, value, step)
        c = curves.setdefault(name, ([], []))
        c[0].append(step)
        c[1].append(value)

    ckpt_dir = tracking.checkpoint_dir(NAME, dict(_config))
    result = modules.train_end_to_end(
        fnet, stack, modules.crop_batches([im for _, im in train], crop=crop, batch_size=batch_size, seed=seed),
        settings, heldout=np.stack([im for _, im in held]), ckpt_dir=ckpt_dir, log=log)
    t_train = time.time() - t0

    ev = modules.evaluate(fnet, stack, held)
    train_loss = result.train_loss
    tracking.add_npz(_run, f"{NAME}_modules.npz", **stack.weight_arrays())
    tracking.add_json(_run, stack.to_json_dict(), f"{NAME}_modules.json")
    tracking.add_json(_run, {"names": ev.names, **ev.scores}, f"{NAME}_scores.json")
    show = np.unique(np.linspace(0, len(ev.names) - 1, min(rows, len(ev.names))).round().astype(int))
    rows_fig = plots.error_map_rows(ev.images[show], ev.reconstructions[show], titles=[ev.names[i] for i in show])
    tracking.add_figure(_run, rows_fig, f"{NAME}_rows.png")
    if curves:
        tracking.add_figure(_run, plots.loss_curves(curves, title="Fig. 5 end-to-end training losses"),
                            f"{NAME}_losses.png")

    resumed = {"e2e": result.start_step} if result.start_step > 0 else {}
    tracking.set_report(_run, {
        "title": "Fig. 5: VGG16 pool1 -> image, three modules trained end to end",
        "net": fnet.weights_label,
        "summary": {k: float(ev.summary[k]) for k in ("psnr_mean", "ssim_mean", "mse_mean", "nerr_mean")},
        "paragraphs": [
            f"Three {kind} modules ({kernel}x{kernel} kernels, {hidden} hidden channels) invert VGG16's first "
            f"three operations: " + ", ".join(f"{s.name}: {s.in_layer} -> {s.out_layer}" for s in stack.specs)
            + ". The chain was trained at once from true pool1 activations with the MSE loss only on the "
            f"reconstructed image, {steps} Adam steps (lr {lr:g}) of batch {batch_size} random {crop} px crops. "
            "Intermediate modules' losses against the true conv1_2/lin and conv1_1/lin are logged for comparison "
            "with Fig. 6 but carry no gradient.",
            f"Profile '{profile}', net {net} ({fnet.weights_label}); training images: "
            f"{'embedded scikit-image photos' if image_dir is None else image_dir} ({len(train)}); held-out: "
            f"{len(held)} crops of {eval_size} px. Training + evaluation took {t_train:.0f} s"
            + (f"; resumed from checkpoints at steps {resumed}" if resumed else "") + ".",
            "Image MSE/PSNR/SSIM are on RGB in [0, 255] with the reconstruction clipped; the normalised error "
            "is ||x - x0||^2 / ||x0||^2 in pixel space (Mahendran & Vedaldi's definition).",
        ],
        "figures": [
            {"artifact": f"{NAME}_rows.png",
             "caption": "Held-out images | end-to-end reconstruction from pool1 | colour error | absolute error."},
        ] + ([{"artifact": f"{NAME}_losses.png",
               "caption": "Image loss (e2e) and intermediate MSEs, train and held-out."}] if curves else []),
        "tables": [modules.loss_table(stack, ev, train_loss), modules.numbers_table(ev)],
    })
    tracking.mark_checkpoint_complete(ckpt_dir)  # the next run of this config trains afresh
    return float(ev.summary["psnr_mean"])
