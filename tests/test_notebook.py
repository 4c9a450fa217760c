"""examples/explore_runs.ipynb runs top to bottom against a tiny run database (nbclient, a real kernel)."""

from __future__ import annotations

import nbformat
from fake_runs import BETTER, WORSE, _populate
from nbclient import NotebookClient

from restoration import paths


def test_the_notebook_runs_against_a_tiny_database(tmp_path, monkeypatch):
    _populate(tmp_path / "runs", monkeypatch, fig05=WORSE, fig06=BETTER)
    nb = nbformat.read(paths.REPO_ROOT / "examples" / "explore_runs.ipynb", as_version=4)
    NotebookClient(
        nb, timeout=600, kernel_name="python3", resources={"metadata": {"path": str(paths.REPO_ROOT)}}
    ).execute()
    outputs = [o for c in nb.cells if c.cell_type == "code" for o in c.outputs]
    assert not [o for o in outputs if o.output_type == "error"]
    images = [o for o in outputs if o.output_type == "display_data" and "image/png" in o.data]
    assert len(images) == 2  # the overlaid metric and the run's own figure
    tables = " ".join(o.data.get("text/plain", "") for o in outputs if o.output_type == "execute_result")
    assert "train/loss" in tables and "stacked_beats_end_to_end_vgg16" in tables and "fig06" in tables
