"""Trained modules kept by what determines them, so stacks that share a module train it once.

A module trained in *stacked* mode sees only true activations of the net: its weights are a function of the
net's weights, its own spec, the batches it was trained on, the optimiser settings and its seed, and of nothing
else in the stack. The thesis used this the same way: every module was trained once into a ``solotrain``
folder and each stack loaded it from there (``inv_default_modules.py``, ``alt_load_subdir='solotrain'``). Here
the folder is named by a hash of exactly those inputs (:meth:`ModuleStore.key`), so a module is reused only
when it would have come out of the same training, and the run that reuses it says from which run it came.

Layout: ``<root>/<key>/weights.npz`` and ``module.json`` (spec, the key's inputs, provenance, final losses).
An entry is written to a temporary folder and renamed into place, so a reader never sees half an entry; an
entry that does not load or holds non-finite weights is ignored (with a warning) and retrained.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
import uuid
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from restoration import code_digest
from restoration.stacks import FORMAT, ModuleSpec
from restoration.optim import TrainSettings

#: Bump when training changes in a way that changes the weights it produces.
TRAINING_VERSION = 1


@dataclass
class StoredModule:
    key: str
    arrays: list[np.ndarray]
    meta: dict


class ModuleStore:
    """Content-addressed trained modules under ``root`` (see the module docstring)."""

    def __init__(self, root: str | os.PathLike):
        self.root = Path(root)

    @staticmethod
    def key(*, net_digest: str, spec: ModuleSpec, data_fingerprint: str, settings: TrainSettings, seed: int) -> str:
        """Hash of everything that determines a separately trained module's weights (logging cadence excluded)."""
        if not spec.bound:
            raise ValueError(f"module {spec.name!r} must be bound to a net to be stored")
        inputs = {
            "format": FORMAT,
            "training": TRAINING_VERSION,
            "code": code_digest.code_digest(),  # only modules made by the current code are reused
            "net": net_digest,
            "spec": spec.to_dict(),
            "data": data_fingerprint,
            "seed": int(seed),
            "settings": {
                "steps": settings.steps,
                "lr": settings.lr,
                "lr_schedule": settings.lr_schedule,
                # a decaying rate (when the settings have one and it is set) changes the weights too
                **({"lr_decay": settings.lr_decay} if getattr(settings, "lr_decay", None) else {}),
            },
        }
        return hashlib.sha1(json.dumps(inputs, sort_keys=True, default=str).encode()).hexdigest()[:20]

    def path(self, key: str) -> Path:
        return self.root / key

    def load(self, key: str) -> StoredModule | None:
        """The stored module for ``key``, or None (missing, unreadable or non-finite: warned and ignored)."""
        folder = self.path(key)
        if not folder.is_dir():
            return None
        try:
            meta = json.loads((folder / "module.json").read_text())
            with np.load(folder / "weights.npz") as f:
                arrays = [np.asarray(f[str(k)]) for k in range(len(f.files))]
        except Exception as e:  # noqa: BLE001 - any damage means: retrain
            warnings.warn(f"module store entry {folder} is unreadable ({type(e).__name__}: {e}); retraining it")
            return None
        if not all(np.all(np.isfinite(a)) for a in arrays):
            warnings.warn(f"module store entry {folder} holds NaN/inf weights; retraining it")
            return None
        code_digest.note("module", str(meta.get("spec", {}).get("name", key)), key, meta.get("code"))
        return StoredModule(key, arrays, meta)

    def save(self, key: str, spec: ModuleSpec, arrays, meta: dict) -> Path:
        """Store ``arrays`` (the module's weights in order) under ``key``; an existing entry is kept."""
        arrays = [np.asarray(a) for a in arrays]
        if not all(np.all(np.isfinite(a)) for a in arrays):
            raise ValueError(f"module {spec.name}: refusing to store non-finite weights")
        target = self.path(key)
        if target.is_dir():
            if self.load(key) is not None:
                return target
            # a damaged entry (warned about by load): moved aside so the freshly trained module takes its place
            os.rename(target, target.with_name(f".{key}.damaged-{uuid.uuid4().hex[:8]}"))
        self.root.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=f".{key}.", dir=self.root))
        np.savez(tmp / "weights.npz", **{str(k): a for k, a in enumerate(arrays)})
        (tmp / "module.json").write_text(
            json.dumps(
                {"key": key, "spec": spec.to_dict(), "code": code_digest.code_digest(), **meta}, indent=1, default=str
            )
        )
        try:
            os.rename(tmp, target)
        except OSError:  # another process stored the same module first: theirs is as good as ours
            for p in tmp.iterdir():
                p.unlink()
            tmp.rmdir()
        return target
