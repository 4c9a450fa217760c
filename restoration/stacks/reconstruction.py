"""Applying trained inversion stacks to images and scoring what comes back.

:func:`reconstruct` pushes RGB images through the net to the stack's input layer and back through the modules;
:func:`evaluate` scores a set of held-out images (PSNR, SSIM, MSE, M&V's normalised error) and the per-module
losses; :func:`evaluate_depths` does that from every pooling layer a stack passes (pool3, pool2, pool1 of a
VGG16 pool3 stack), using the sub-stack that starts there, which is how the thesis's depth comparison reads
when every module was trained on its own operation.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from restoration.stacks import InversionStack, is_input
from restoration.stacks.training import module_losses as _losses
from restoration.stacks.training import true_features


def reconstruct(net, stack: InversionStack, rgb: np.ndarray, *, batch_size: int = 8, clip: bool = True) -> np.ndarray:
    """Reconstruct RGB images from their ``stack.in_layer`` representation through the stack.

    Parameters
    ----------
    rgb : ndarray
        (N, H, W, 3) or (H, W, 3) RGB in [0, 255], any size the net accepts.

    Returns
    -------
    ndarray
        Same shape, float32 RGB; clipped to [0, 255] when ``clip`` (the image one would display). Requires
        ``stack.out_layer`` to be the input.
    """
    if not is_input(stack.out_layer):
        raise ValueError(f"the stack ends at {stack.out_layer!r}, not the image; cannot reconstruct RGB")
    rgb = np.asarray(rgb, np.float32)
    single = rgb.ndim == 3
    batch = rgb[None] if single else rgb
    hw = tuple(batch.shape[1:3])
    outs = []
    for b in range(0, len(batch), batch_size):
        x_bgr = net.preprocess(batch[b : b + batch_size])
        phi = true_features(net, x_bgr, [stack.in_layer])[stack.in_layer]
        outs.append(np.asarray(net.deprocess(stack(phi, hw))))
    out = np.concatenate(outs).astype(np.float32)
    if clip:
        out = np.clip(out, 0.0, 255.0)
    return out[0] if single else out


def module_losses(net, stack: InversionStack, rgb: np.ndarray, *, chained: bool, batch_size: int = 8) -> dict:
    """Mean per-module MSE on RGB images (N, H, W, 3): own true input (``chained=False``) or through the stack."""
    rgb = np.asarray(rgb, np.float32)
    idx = list(range(len(stack)))
    sums = np.zeros(len(idx))
    for b in range(0, len(rgb), batch_size):
        chunk = rgb[b : b + batch_size]
        sums += np.array([float(l) for l in _losses(net, stack, chunk, idx, chained=chained)]) * len(chunk)
    return {s.name: float(v) for s, v in zip(stack.specs, sums / len(rgb))}


@dataclass
class Evaluation:
    """Held-out evaluation of a stack that ends at the image.

    ``images``/``reconstructions``: (N, H, W, 3) RGB [0, 255] (reconstructions clipped); ``scores``: per-image
    arrays from :func:`restoration.metrics.score_batch` (mse, psnr, ssim, nerr = ||x - x0||^2 / ||x0||^2 in
    pixel space); ``summary``: their means (``psnr_mean``, ...) and the worst PSNR (``psnr_min``);
    ``own_loss``/``chained_loss``: per-module MSE on the held-out images with true inputs and through the stack
    from ``stack.in_layer``.
    """

    names: list[str]
    images: np.ndarray
    reconstructions: np.ndarray
    scores: dict[str, np.ndarray]
    summary: dict[str, float]
    own_loss: dict[str, float]
    chained_loss: dict[str, float]

    @classmethod
    def of(cls, names, images, reconstructions, scores, own=None, chained=None) -> "Evaluation":
        """An evaluation with its summary computed here, the one place: the means and the worst PSNR."""
        from restoration import metrics

        summary = {**metrics.summarize_scores(scores), "psnr_min": float(np.min(scores["psnr"]))}
        return cls(list(names), images, reconstructions, scores, summary, dict(own or {}), dict(chained or {}))


def evaluate(net, stack: InversionStack, named_images, *, losses: bool = True) -> Evaluation:
    """Reconstruct ``[(name, rgb (H, W, 3)), ...]`` (all one size) and score them."""
    from restoration import metrics

    names = [n for n, _ in named_images]
    images = np.stack([np.asarray(im, np.float32) for _, im in named_images])
    recs = reconstruct(net, stack, images)
    scores = metrics.score_batch(images, recs)
    own = module_losses(net, stack, images, chained=False) if losses else {}
    chained = module_losses(net, stack, images, chained=True) if losses else {}
    return Evaluation.of(names, images, recs, scores, own, chained)


def depth_starts(net, stack: InversionStack) -> list[int]:
    """Indices of the modules whose input is a pooling layer (deepest first): where a depth comparison starts."""
    kinds = {op.name: op.kind for op in net.ops}
    return [i for i, s in enumerate(stack.specs) if kinds.get(s.in_layer) == "pool"]


def evaluate_depths(net, stack: InversionStack, named_images) -> dict[str, Evaluation]:
    """``{layer: Evaluation}`` of the sub-stack from each pooling layer of the stack down to the image.

    For a stack trained in stacked mode every sub-stack is itself a trained stack (its modules never saw their
    neighbours), so a pool3 stack scores pool3, pool2 and pool1 reconstructions with the same modules.
    """
    return {
        stack.specs[i].in_layer: evaluate(net, stack.sub(i), named_images, losses=False)
        for i in depth_starts(net, stack)
    }
