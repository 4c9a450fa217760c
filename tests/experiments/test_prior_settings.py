"""Issue 17, learned priors: the settings where this project follows the thesis's code (frhrdr/deep_restoration,
branch Thesis-Submission) and where its quick profile deliberately does not.

* the CICA energy is normalised as ``utils/patch_prior_losses.py``'s ``*_channelwise_mrf_loss`` (sum over patch
  positions, mean over channels x components), checked against a numpy transcription of that code;
* the two-phase prior inversion jitters by the thesis's rule (zero padding, ``T + 1`` positions, ``T`` scaled
  to the image size);
* the quick profile's prior-training photos are natural photographs only.
"""

import numpy as np
import pytest
import tensorflow as tf

from restoration.priors import learned as L
from restoration.priors import patches as P

# ----------------------------------------------------------------------------------------------------------
# 1. CICA energy normalisation
# ----------------------------------------------------------------------------------------------------------


def thesis_mrf_loss(xw, ica_a, expert, channelwise):
    """The thesis's ``{student,logistic}_{full,channelwise}_mrf_loss`` (utils/patch_prior_losses.py), in numpy.

    channelwise: ``xw (C, M, K)``, ``ica_a (C, K)``; the per-component terms times ``softplus(a)`` stacked over
    the ``M`` positions (axis 1), summed over axis 1, then ``reduce_mean`` over what is left, ``(C, K)``.
    full: ``xw (M, K)``, ``ica_a (K,)``; summed over components (axis 1), ``reduce_mean`` over positions.
    """
    a_pos = np.log1p(np.exp(ica_a))
    if expert == "student":
        rho = np.log(1.0 + 0.5 * np.square(xw))
    else:
        xw_abs = np.abs(xw)
        rho = np.log(0.5) + np.log(1 + np.exp(-2 * xw_abs)) + xw_abs
    if channelwise:
        neg_g_wx = rho * np.stack([a_pos] * xw.shape[1], axis=1)
        return np.mean(np.sum(neg_g_wx, axis=1))
    return np.mean(np.sum(rho * a_pos, axis=1))


def _prior(tmp_path, *, channelwise, expert, K=4, ph=3, pw=2):
    rng = np.random.default_rng(0)
    maps = (rng.normal(size=(2, 11, 10, 3)) @ (rng.normal(size=(3, 3)) + 2 * np.eye(3)) + 5.0).astype(np.float32)
    spec = P.PatchSpec("input", 3, ph, pw)
    x = P.extract_patches(maps, ph, pw)
    store = P.PatchStore.create(tmp_path / "s", spec, len(x))
    store.write(0, x)
    wh = P.fit_whitening(
        store, P.Normalisation("dataset_channel", "dataset_channel"), "pca", 0, channelwise=channelwise
    )
    W = rng.normal(size=(3, K, wh.d) if channelwise else (K, wh.d))
    a = rng.normal(size=W.shape[:-1])
    return L.PriorParams(L.PriorSpec("t", spec, K, expert, channelwise), wh, W, a), maps


@pytest.mark.parametrize("expert", L.EXPERTS)
@pytest.mark.parametrize("channelwise", [True, False], ids=["cica", "full"])
def test_prior_energy_per_image_is_the_thesis_mrf_loss(tmp_path, expert, channelwise):
    """Per image (the thesis inverted one image at a time), ``PatchPrior.energy`` equals the thesis's mrf loss of
    the same expert inputs. For CICA the old normalisation (mean over the 81 positions, sum over 3 x 4 channels
    x components) was off by 81 / 12 and fails this."""
    params, maps = _prior(tmp_path, channelwise=channelwise, expert=expert)
    got = L.PatchPrior(params, weight=1.0).energy(tf.constant(maps)).numpy()
    for i in range(len(maps)):
        z = params.whitening.apply(P.extract_patches(maps[i : i + 1], 3, 2)).astype(np.float64)  # (M, C, d)|(M, D)
        if channelwise:  # the thesis: x (C, M, d) @ ica_w (C, d, K), columns of ica_w unit
            xw = np.transpose(z, (1, 0, 2)) @ np.transpose(params.W_unit, (0, 2, 1))
        else:
            xw = z.reshape(len(z), -1) @ params.W_unit.T
        want = thesis_mrf_loss(xw, params.a, expert, channelwise)
        assert got[i] == pytest.approx(want, rel=2e-4)


def test_energy_factor_converts_the_mean_patch_energy_to_the_term():
    """``energy_factor`` is ``M / (C K)`` for CICA and 1 otherwise, and the term's energy is the mean per-patch
    energy times it; VGG16 conv1_2 with 8x8 patches and 150 components, the issue's numbers."""
    conv1 = P.PatchSpec("conv1_2/lin", 64, 8, 8)
    cica = L.PriorSpec("c", conv1, 150, "logistic", True)
    assert L.energy_factor(cica, 32, 32) == pytest.approx(25 * 25 / 9600)  # 0.065
    assert L.energy_factor(cica, 224, 224) == pytest.approx(217 * 217 / 9600)  # 4.9
    assert L.energy_factor(L.PriorSpec("f", conv1, 150, "logistic"), 224, 224) == 1.0
    with pytest.raises(ValueError, match="needs maps of at least 8x8, got 4x4"):
        L.energy_factor(cica, 4, 4)


def test_the_term_is_the_mean_patch_energy_times_the_factor(tmp_path):
    params, maps = _prior(tmp_path, channelwise=True, expert="logistic")
    term = L.PatchPrior(params, weight=1.0)
    mean_patch = term.patch_energies(tf.constant(maps)).numpy().mean(axis=(1, 2))
    np.testing.assert_allclose(
        term.energy(tf.constant(maps)).numpy(), mean_patch * L.energy_factor(params.spec, 11, 10), rtol=1e-5
    )


# ----------------------------------------------------------------------------------------------------------
# 2. the two-phase prior inversion jitters by the thesis's rule
# ----------------------------------------------------------------------------------------------------------


def test_prior_inversion_uses_the_thesis_jitter_rule():
    """net_inversion.train_pre_featmap: zero padding T // 2 before and T - T // 2 after, T + 1 window starts,
    jitter for the first 3200 of 5000 steps."""
    from restoration.preimage.learned_prior import PriorInversion

    pi = PriorInversion(mse_steps=10, prior_steps=10, jitter=4)
    st = pi.settings(100)
    assert (st.jitter_rule, st.jitter, st.jitter_off_steps) == ("thesis", 4, 36)
    assert "'thesis' rule (zero (black) padding, 5 positions per axis)" in pi.describe()
    assert PriorInversion().describe() == "no jitter"
    with pytest.raises(ValueError, match="jitter rule must be one of"):
        PriorInversion(jitter_rule="zeros")
    with pytest.raises(ValueError, match="jitter amount must be an int >= 0"):
        PriorInversion(jitter=-1)


def test_both_phases_run_with_the_thesis_rule(monkeypatch):
    """phase_one and phase_two hand the inverter the thesis's rule (a spy on ``invert``, the real one runs)."""
    from restoration import nets
    from restoration.preimage import learned_prior as PI
    from restoration.priors import TotalVariation

    seen, real = [], PI.invert

    def spy(net, objective, settings, **kw):
        seen.append((settings.jitter_rule, settings.jitter, settings.n_steps))
        return real(net, objective, settings, **kw)

    monkeypatch.setattr(PI, "invert", spy)
    net = nets.build("tiny_vgg", None, seed=0)
    images = np.random.default_rng(0).uniform(0, 255, (1, 16, 16, 3)).astype(np.float32)
    cfg = PI.PriorInversion(mse_steps=3, prior_steps=2, lr=1.0, jitter=2)
    start = PI.phase_one(net, images, "conv1_2", cfg)
    PI.phase_two(net, images, "conv1_2", start, TotalVariation(weight=1e-3), cfg)
    assert seen == [("thesis", 2, 3), ("thesis", 2, 2)]


@pytest.mark.parametrize(
    "layer,size,want",
    [
        ("conv4_3", 224, 2),
        ("conv4_3", 64, 1),
        ("pool5", 224, 8),
        ("pool5", 64, 2),
        ("conv3_3", 32, 1),
        ("conv1_2", 64, 0),
    ],
)
def test_the_thesis_jitter_is_scaled_to_the_image(layer, size, want):
    """VGG16's table (foe_inv_funcs.get_imagerec_jitter_and_prior_weight) at 224 px, scaled by size / 224,
    rounded, at least 1 where the thesis jittered."""
    from restoration.preimage.learned_prior import thesis_jitter_and_weight

    assert thesis_jitter_and_weight("vgg16", layer, size=size, default_size=224)[0] == want


def test_the_thesis_jitter_rejects_a_bad_size():
    from restoration.preimage.learned_prior import thesis_jitter_and_weight

    with pytest.raises(ValueError, match="default_size=None must be a positive integer"):
        thesis_jitter_and_weight("vgg16", "conv4_3", size=64)


# ----------------------------------------------------------------------------------------------------------
# 3. the quick profile's priors learn from natural photographs only
# ----------------------------------------------------------------------------------------------------------

NOT_PHOTOS = {"hubble_deep_field", "immunohistochemistry", "retina"}


def test_the_default_prior_photos_are_natural_photographs():
    from restoration_experiments import _learned_priors, _prior_whitening
    from restoration import data

    assert set(data.NOT_NATURAL) == NOT_PHOTOS and NOT_PHOTOS <= set(data.EMBEDDED_TRAIN)
    assert data.PRIOR_TRAIN == ("astronaut", "coffee", "stereo_motorcycle")
    assert [n for n, _ in data.embedded_images("prior_train")] == list(data.PRIOR_TRAIN)
    for base in (_learned_priors.BASE, _prior_whitening.BASE):
        assert base["photos"] == list(data.PRIOR_TRAIN)
    cfg = {**_learned_priors.BASE, "image_size": 32}
    train, held, train_names, held_names = _learned_priors._photos(cfg)
    assert train_names == list(data.PRIOR_TRAIN) and NOT_PHOTOS.isdisjoint(train_names)
    assert held_names == ["chelsea", "rocket"] and train.shape == (3, 32, 32, 3)
    line = _learned_priors.photos_line(cfg, train_names, held_names)
    assert line.startswith("Photos the prior saw: astronaut, coffee, stereo_motorcycle (")
    assert "hubble_deep_field, immunohistochemistry, retina ship with it too but are not natural" in line


def test_bad_photo_lists_fail_naming_the_fix():
    from restoration_experiments._learned_priors import _photos, check_photos

    with pytest.raises(ValueError, match="held out from every prior's training"):
        check_photos(["astronaut", "chelsea"])
    with pytest.raises(ValueError, match="must be a list of embedded photo names"):
        check_photos("astronaut")
    with pytest.raises(ValueError, match="must be a list of embedded photo names"):
        check_photos([])
    with pytest.raises(ValueError, match=r"unknown embedded image\(s\) \['lena'\]; known: astronaut"):
        _photos({"image_dir": None, "profile": "quick", "image_size": 32, "photos": ["lena"]})


def test_a_saved_prior_keeps_its_photos(tmp_path):
    params, _ = _prior(tmp_path, channelwise=False, expert="student")
    assert "photos not recorded" in params.describe_photos()
    params.photos, params.photo_source = [f"img{i}" for i in range(10)], "/data/imagenet"
    L.save_prior(params, tmp_path / "runs")
    back = L.load_prior("t", tmp_path / "runs")
    assert back.photos == params.photos and back.photo_source == "/data/imagenet"
    assert back.describe_photos() == (
        "10 photos of /data/imagenet (img0, img1, img2, img3, img4, img5, img6, img7 and 2 more)"
    )
