"""Issue 17, Figs. 1-2: the M&V 2015 recipe clips gradients as the thesis did (``grad_clip=100``, thesis repository
``mahendran_vedaldi.py``), the clip bounds each update exactly, and with it the 2015 recipe runs on the tiny nets
through layers where, unclipped, its first steps overshoot and the alpha-norm reaches inf (on the real HED VGG16
the same happened at step 3 from conv3_3 and step 2 from pool5 at 64 px; measured for fig02's docstring).
"""

import numpy as np
import pytest

from helpers import linear_term

from restoration import data
from restoration.preimage import recipes
from restoration.errors import DivergenceError
from restoration.preimage import QUIET, invert, invert_layer
from restoration.preimage import InvertSettings as S
from restoration.nets import tiny_vgg


def test_grad_clip_bounds_every_gradient_element_before_the_update():
    """Momentum-free steps of lr 1 on a linear energy: unclipped x moves by -3 c; clipped to 0.5, each element
    moves by -min(|c|, 0.5) sign(c) per step."""
    c = np.random.default_rng(0).normal(scale=2.0, size=(1, 6, 6, 3)).astype(np.float32)
    x0 = np.zeros_like(c)
    free = invert(
        tiny_vgg(), linear_term(c), S(optimizer="momentum", momentum=0.0, n_steps=3, lr=1.0), x_init=x0, report=QUIET
    )
    clipped = invert(
        tiny_vgg(),
        linear_term(c),
        S(optimizer="momentum", momentum=0.0, n_steps=3, lr=1.0, grad_clip=0.5),
        x_init=x0,
        report=QUIET,
    )
    np.testing.assert_allclose(free.x_bgr, -3 * c, rtol=1e-5)
    np.testing.assert_allclose(clipped.x_bgr, -3 * np.clip(c, -0.5, 0.5), rtol=1e-5, atol=1e-6)
    assert (np.abs(c) > 0.5).mean() > 0.5  # most elements were clipped: the test can tell the two apart
    with pytest.raises(ValueError, match="grad_clip must be >= 0"):
        S(grad_clip=-1.0)


def test_mv2015_clips_like_the_thesis_and_runs_where_unclipped_it_diverges():
    r = recipes.get_recipe("mv2015")
    assert r.grad_clip == 100.0 and r.paper == "mv2015"
    assert recipes.get_recipe("mv2016").grad_clip == 0.0 and recipes.get_recipe("mv2016_thesis_vgg16").paper == "mv2016"
    net = tiny_vgg(seed=0)
    images = np.stack(
        [data.center_crop_resize(dict(data.embedded_images("all"))[n], 16) for n in ("astronaut", "coffee")]
    ).astype(np.float32)
    with pytest.raises(DivergenceError, match="alpha6"):
        invert_layer(net, images, "pool1", recipe=r.replace(grad_clip=0.0), n_steps=40, report=QUIET)
    res = invert_layer(net, images, "pool1", recipe=r, n_steps=40, report=QUIET)
    assert np.all(np.isfinite(res.rgb)) and np.isfinite(res.terms["alpha6"])
    with pytest.raises(ValueError, match="paper 'mv2017'"):
        r.replace(paper="mv2017")
