"""restoration_reports.plots builds figures with the right panels, without pyplot state."""

import matplotlib.pyplot as plt
import numpy as np
import pytest
from matplotlib.figure import Figure

from restoration_reports import plots


@pytest.fixture(scope="module")
def images():
    rng = np.random.default_rng(1)
    ims = rng.uniform(0, 255, size=(3, 16, 16, 3))
    recs = ims + rng.normal(0, 30, ims.shape)  # leaves [0, 255]: must be clipped for display
    return ims, recs


def test_error_map_rows_has_four_panels_per_image(images, tmp_path):
    ims, recs = images
    n_before = len(plt.get_fignums())
    fig = plots.error_map_rows(ims, recs, titles=["a", "b", "c"])
    assert isinstance(fig, Figure)
    assert len(fig.axes) == 4 * 3
    assert [ax.get_title() for ax in fig.axes[:4]] == list(plots.ERROR_MAP_COLUMNS)
    assert fig.axes[4].get_ylabel() == "b"
    assert "PSNR" in fig.axes[1].get_xlabel()
    shown = fig.axes[1].images[0].get_array()
    assert float(shown.min()) >= 0.0 and float(shown.max()) <= 1.0  # clipped to the display range
    fig.savefig(tmp_path / "rows.png")
    assert (tmp_path / "rows.png").stat().st_size > 1000
    assert len(plt.get_fignums()) == n_before  # no pyplot figure left open


def test_error_map_rows_accepts_lists_and_uint8(images):
    ims, recs = images
    fig = plots.error_map_rows([ims[0].astype(np.uint8)], [recs[0]], annotate=False)
    assert len(fig.axes) == 4


def test_error_map_rows_rejects_mismatched_counts(images):
    ims, recs = images
    with pytest.raises(ValueError, match="reconstructions"):
        plots.error_map_rows(ims, recs[:2])


def test_image_grid_pads_missing_panels(images):
    ims, recs = images
    fig = plots.image_grid(
        [[ims[0], recs[0], None], [ims[1]]], row_labels=["x", "y"], col_labels=["conv1", "pool1", "fc8"]
    )
    assert len(fig.axes) == 2 * 3
    assert [ax.get_title() for ax in fig.axes[:3]] == ["conv1", "pool1", "fc8"]
    assert len(fig.axes[2].images) == 0 and len(fig.axes[5].images) == 0
    with pytest.raises(ValueError, match="col_labels"):
        plots.image_grid([[ims[0]]], col_labels=["a", "b"])


def test_loss_curves_one_panel_per_metric():
    steps = np.arange(200)
    fig = plots.loss_curves(
        {"loss": (steps, np.exp(-steps / 20.0) + 1e-4), "psnr": (steps[::40], steps[::40] / 10.0)}, title="training"
    )
    assert len(fig.axes) == 2
    assert fig.axes[0].get_yscale() == "log"  # spans > two decades
    assert fig.axes[1].get_yscale() == "linear"
    assert len(plots.loss_curves({}).axes) == 1
    assert len(plots.loss_curves({f"m{i}": ([0, 1], [1, 2]) for i in range(4)}, ncols=3).axes) == 4


def test_loss_curves_draw_train_and_heldout_in_one_panel():
    from restoration_reports import plots

    steps = np.arange(1, 101)
    fig = plots.loss_curves(
        {
            "DC3": {"train": (steps, 100.0 / steps), "held-out": ([25, 50, 100], [5.0, 3.0, 2.0])},
            "e2e": (steps, 1.0 / steps),
        }
    )
    assert len(fig.axes) == 2
    ax = fig.axes[0]
    assert ax.get_title() == "DC3" and [t.get_text() for t in ax.get_legend().get_texts()] == ["train", "held-out"]
    assert len(ax.lines) == 3  # raw train (faint), its moving average, held-out
    with pytest.raises(ValueError, match=r"DC3\['train'\]"):
        plots.loss_curves({"DC3": {"train": ([1, 2], [1.0])}})
