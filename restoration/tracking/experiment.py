"""Sacred experiments and what a run body hands to them: metrics, artifacts, the report payload, and the
checkpoint folders to mark complete once the run's record is safe."""

from __future__ import annotations

import io
import json
import os
import signal
import tempfile
import threading
import warnings
from pathlib import Path
from typing import Callable

import numpy as np

from restoration.tracking import database


def _interrupt_on_sigterm():
    """A ``kill`` (SIGTERM) becomes KeyboardInterrupt, so Sacred marks the run INTERRUPTED and the last
    checkpoint stays; a later run with the same config resumes from it."""
    if threading.current_thread() is not threading.main_thread():
        return

    def handler(signum, _frame):
        raise KeyboardInterrupt(f"received signal {signum}; the last checkpoint is kept, re-run to resume")

    signal.signal(signal.SIGTERM, handler)


def config_changes(config: dict, changed_keys) -> dict:
    """``{dotted key: value}`` for the changed keys, leaving out a key whose parent is listed too (``module_steps``
    covers ``module_steps.DC1``)."""
    keys = sorted(set(changed_keys))
    top = [k for k in keys if not any(k.startswith(p + ".") for p in keys if p != k)]
    from sacred.utils import get_by_dotted_path

    return {k: _jsonable(get_by_dotted_path(config, k)) for k in top}


def _record_provenance(_run):
    """Store how the run's config differs from the experiment's defaults (the named configs and every key they or
    the command line changed, from Sacred's ``config_modifications``), and the sweep the run belongs to (given
    in ``meta_info["sweep"]`` by :mod:`restoration.sweeps`), in ``run.info["provenance"]``."""
    from restoration import code_digest

    mods = _run.config_modifications
    changed = set(mods.added) | set(mods.modified) | set(mods.typechanged)
    code_digest.clear()  # what this run loads is noted from here on (a Dask worker runs several in one process)
    _run.info["provenance"] = {
        "named_configs": [str(n) for n in _run.meta_info.get("named_configs", [])],
        "changed": config_changes(_run.config, changed),
        "code": code_digest.code_digest(),
    }
    # the machine and the precision the run computes in ("auto" resolved by this machine's cached probe)
    from restoration.precision import provenance

    # (a run that computes also records TensorFlow's own word on its kernel library; printing commands do not start it)
    precision = str(_run.config.get("precision", "float32"))
    _run.info["provenance"].update(provenance(precision, confirm_library=not _run.unobserved))
    sweep = _run.meta_info.get("sweep")
    if sweep:
        _run.info["sweep"] = _jsonable(sweep)


def make_experiment(name: str, *, observe: bool = True):
    """A Sacred experiment named ``name`` (the figure id, e.g. ``"fig06"``) with the project's observer.

    Sources under the repository root are recorded with the run, and so are the git commit (Sacred's
    ``save_git_info``), the host and the config including ``seed``. ``SACRED_DB_URL`` / ``RESTORATION_RUNS_DIR``
    choose the database; ``observe=False`` makes a throw-away experiment (no database).
    """
    import sacred
    from sacred.utils import apply_backspaces_and_linefeeds

    sacred.SETTINGS.CAPTURE_MODE = "sys"  # fd capture would swallow TensorFlow's C++ logs into a tee process
    # "imported": the experiment file and every imported module of this repository (the library) are stored
    # with the run; .venv is excluded because its module names do not match their paths.
    sacred.SETTINGS.DISCOVER_SOURCES = "imported"
    warnings.filterwarnings("ignore", message=".*not in session, add operation along.*")  # Sacred 0.8.7 + SA 2
    import logging

    logging.getLogger("absl").setLevel(logging.WARNING)  # TF checkpointing's "Sharding callback duration" lines
    ex = sacred.Experiment(name, base_dir=str(database.REPO_ROOT), save_git_info=True)
    ex.captured_out_filter = apply_backspaces_and_linefeeds  # tqdm bars stored as their final state
    # every experiment's compute precision (restoration.precision.CHOICES): "auto" measures this machine once and
    # takes bfloat16 only where it is faster and within its accuracy budget; a family may set its own default
    # (joint training from scratch and score-matching training stay float32)
    ex.add_config(precision="auto")
    if observe:
        from restoration.tracking.observer import make_observer  # Sacred's observers take a second to import

        ex.observers.append(make_observer())
    ex.pre_run_hook(_interrupt_on_sigterm)
    ex.pre_run_hook(_record_provenance)
    return ex


def _dotted_keys(config: dict, prefix: str = "") -> list[str]:
    out = []
    for k, v in config.items():
        out.append(prefix + str(k))
        if isinstance(v, dict):
            out += _dotted_keys(v, prefix + str(k) + ".")
    return out


def check_config_keys(ex, keys, named_configs=(), *, what: str | None = None) -> None:
    """Refuse config ``keys`` (dotted, as on a command line or in a sweep grid) that the experiment ``ex`` with
    ``named_configs`` does not have: one ``ValueError`` line with the closest valid names. Sacred itself would add
    such a key silently and run with the intended one unchanged (``stepz=5`` leaves ``steps`` as it was)."""
    import difflib

    from sacred.utils import NamedConfigNotFoundError

    keys = [str(k) for k in keys]
    unknown = [
        n
        for n in named_configs
        if n not in ex.named_configs and not str(n).endswith((".json", ".yaml", ".yml", ".pickle"))
    ]
    if unknown:
        raise ValueError(
            f"unknown named config {unknown[0]!r} for {what or ex.path}; use one of "
            f"{', '.join(sorted(ex.named_configs))}"
        )
    if not keys:
        return
    try:
        config = config_of(ex, named_configs)
    except NamedConfigNotFoundError as e:
        raise ValueError(f"{e} ({what or ex.path})") from None
    valid = _dotted_keys(config)
    known = set(valid)
    for key in keys:
        if key in known:
            continue
        parent = key.rsplit(".", 1)[0] if "." in key else None
        if parent in known and not isinstance(_get(config, parent), dict):
            raise ValueError(f"config key {key!r}: {parent!r} is not a group of keys in {what or ex.path}")
        close = difflib.get_close_matches(key, valid, n=3, cutoff=0.6)
        hint = f"; did you mean {' or '.join(repr(c) for c in close)}?" if close else ""
        raise ValueError(
            f"unknown config key {key!r} for {what or ex.path}{hint} (`python -m restoration_experiments "
            f"{what or ex.path} print_config` lists them)"
        )


def _get(config: dict, dotted: str):
    for part in dotted.split("."):
        config = config[part]
    return config


def config_of(ex, named_configs=()) -> dict:
    """The config experiment ``ex`` runs with under ``named_configs``, without running it (nothing is stored)."""
    from sacred.initialize import create_run

    return dict(create_run(ex, ex.default_command, config_updates={}, named_configs=list(named_configs)).config)


#: the Sacred options that mean something with this project's observer (MongoDB, file-storage, TinyDB, S3 and
#: SQL observer flags would add observers that do nothing here, and queue/priority need MongoDB)
OPTIONS = {
    "-c": "--comment TEXT",
    "-n": "--name NAME",
    "-u": "--unobserved",
    "-p": "--print-config",
    "-l": "--loglevel LEVEL",
    "-d": "--debug",
    "-D": "--pdb",
    "-C": "--capture sys|fd|no",
    "-f": "--force",
}


def check_options(argv, what: str) -> None:
    """Refuse a Sacred option this project does not offer (``--bogus``, ``-m mongo``) with one line naming the
    ones it does; a value option's value is skipped."""
    long_of = {long.split()[0]: short for short, long in OPTIONS.items()}
    takes_value = {o for short, long in OPTIONS.items() if " " in long for o in (short, long.split()[0])}
    skip = False
    for token in argv:
        if skip:
            skip = False
            continue
        if not token.startswith("-") or token[1:2].isdigit() or token in ("-", "--"):
            continue
        name = token.split("=", 1)[0]
        if name not in OPTIONS and name not in long_of:
            offered = ", ".join(f"{s}/{lng}" for s, lng in OPTIONS.items())
            raise ValueError(
                f"unknown option {name!r} for {what}; options: {offered} "
                f"(`python -m restoration_experiments {what} --help`)"
            )
        skip = name in takes_value and "=" not in token


def command_line_updates(argv) -> tuple[list[str], list[str]]:
    """``(named configs, updated keys)`` from a Sacred command line after the experiment's name
    (``[command] with quick steps=5 size.vgg16=64 [options]``)."""
    argv = list(argv)
    if "with" not in argv:
        return [], []
    named, keys = [], []
    for token in argv[argv.index("with") + 1 :]:
        if token.startswith("-"):
            break
        if "=" in token:
            keys.append(token.split("=", 1)[0].strip())
        else:
            named.append(token)
    return named, keys


def metric_logger(run) -> Callable[[str, float, int], None]:
    """``log(name, value, step)`` for library code: forwards to ``run.log_scalar``; NaN is logged as-is."""

    def log(name: str, value: float, step: int) -> None:
        run.log_scalar(name, float(value), int(step))

    return log


def _artifact_name(filename: str) -> str:
    if len(filename) > 64:
        raise ValueError(f"artifact name {filename!r} is longer than Sacred's 64-character column; shorten it")
    return filename


def add_file(run, path: str | os.PathLike, name: str | None = None) -> None:
    """Store an existing file as an artifact of ``run``."""
    run.add_artifact(str(path), name=_artifact_name(name or Path(path).name))


def _add_bytes(run, data: bytes, filename: str) -> None:
    with tempfile.TemporaryDirectory() as d:
        p = Path(d) / filename
        p.write_bytes(data)
        add_file(run, p, filename)


def add_figure(run, fig, filename: str, *, dpi: int = 110) -> None:
    """Save a matplotlib figure as a PNG artifact and close it."""
    import matplotlib.pyplot as plt

    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi, bbox_inches="tight")
    plt.close(fig)
    _add_bytes(run, buf.getvalue(), filename)


def _jsonable(obj):
    if isinstance(obj, dict):
        return {str(k): _jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_jsonable(v) for v in obj]
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    if isinstance(obj, np.generic):
        return obj.item()
    return obj


def add_json(run, obj, filename: str) -> None:
    """Store a JSON-serialisable object (numpy values converted) as an artifact."""
    _add_bytes(run, json.dumps(_jsonable(obj), indent=1).encode(), filename)


def add_npz(run, filename: str, **arrays) -> None:
    """Store named arrays as one compressed ``.npz`` artifact."""
    buf = io.BytesIO()
    np.savez_compressed(buf, **arrays)
    _add_bytes(run, buf.getvalue(), filename)


def set_report(run, report) -> None:
    """Put the report payload (:class:`restoration.contract.payload.Payload`) in ``run.info["report"]``.

    The summary keys are checked against the measure registry (:mod:`restoration.contract.measures`) and the whole
    payload against JSON, here and not in the observer, so a bad payload fails the run with a clear message.
    """
    from restoration.contract.payload import Payload

    if not isinstance(report, Payload):
        raise TypeError(f"set_report takes a restoration.contract.payload.Payload, got {type(report).__name__}")
    report.validate()
    report.seed = _seed(run)
    report.comparable = comparability(run, report)
    from restoration import code_digest

    prov = getattr(run, "info", {}).get("provenance")
    if isinstance(prov, dict):  # what the run loaded, whole (the payload keeps its digest)
        prov["loaded"] = [x.to_dict() for x in code_digest.loaded()]
    payload = _jsonable(report.to_dict())
    json.dumps(payload)
    run.info["report"] = payload


#: config keys that do not change what a claim compares: the replicate (seed), the precision (compared on its
#: own), where the images come from (the image set says it), bookkeeping
# config keys that are not part of a run's profile: the seed and precision are compared on their own, the image
# set by its ids, and the rest change no number. ``methods`` and ``nets`` choose which of the benchmark's
# independent cells run (each cell is keyed by its method, net, depth and seed, and reused across runs with other
# lists), so a run of some rows pairs with a whole table's run of the same settings.
_NOT_PROFILE = {
    "seed",
    "precision",
    "profile",
    "image_dir",
    "observe",
    "weights",
    "log_every",
    "ckpt_every",
    "progress",
    "rows",
    "methods",
    "nets",
}


def _seed(run) -> int | None:
    seed = (getattr(run, "config", None) or {}).get("seed")
    return int(seed) if isinstance(seed, int) and not isinstance(seed, bool) else None


def comparability(run, report):
    """The :class:`restoration.contract.payload.Comparability` of ``run`` for its ``report``: the profile (its named
    config, ``+key=value`` for every other config key changed), the variant, the resolved precision, the image
    set (image folder and a digest of the scored image ids), the steps, the code digest and what the run loaded
    (:mod:`restoration.code_digest`): the inputs' digest, and those made by other code, which make the run stale."""
    import hashlib

    from restoration import code_digest
    from restoration.contract.payload import Comparability

    cfg = getattr(run, "config", None) or {}
    prov = (getattr(run, "info", None) or {}).get("provenance") or {}
    changed = prov.get("changed") or {}
    extra = sorted(f"{k}={v}" for k, v in changed.items() if k.split(".")[0] not in _NOT_PROFILE)
    profile = str(cfg.get("profile") or "custom") + "".join(f"+{e}" for e in extra)
    ids = sorted({i for sc in report.scores.values() for i in sc.images})
    where = str(cfg.get("image_dir") or "embedded photos")
    image_set = (
        f"{where}, {len(ids)} images #{hashlib.sha1(json.dumps(ids).encode()).hexdigest()[:8]}" if ids else where
    )
    loaded = code_digest.loaded()
    steps = {
        k: cfg[k]
        for k in ("steps", "module_steps", "finetune_steps", "mse_steps", "prior_steps")
        if k in cfg and cfg[k] not in ({}, None)
    }
    return Comparability(
        profile=profile,
        variant=str(cfg.get("variant") or report.variant or ""),
        precision=str((prov.get("precision") or {}).get("resolved") or cfg.get("precision") or ""),
        image_set=image_set,
        steps=json.dumps(steps, sort_keys=True, default=str) if steps else "",
        variants=report.comparable.variants,
        code=str(prov.get("code") or ""),
        inputs=hashlib.sha1(json.dumps([x.to_dict() for x in loaded]).encode()).hexdigest()[:12] if loaded else "",
        stale_inputs=", ".join(f"{x.kind} {x.name}" for x in loaded if x.code != prov.get("code")),
        priors=", ".join(x.name for x in loaded if x.kind == "prior"),
    )


def _observer(run):
    from sacred.observers import SqlObserver

    for obs in getattr(run, "observers", []):
        if isinstance(obs, SqlObserver) and hasattr(obs, "complete_on_success"):
            return obs
    return None


def complete_on_success(run, path: str | os.PathLike) -> None:
    """Mark checkpoint folder ``path`` complete when ``run`` ends COMPLETED *and* its whole record is stored in
    the database; until then (a spooled or lost record, a failure, a kill) the folder stays resumable."""
    obs = _observer(run)
    if obs is None:  # no database (observe=False): the run's own end is all there is
        from restoration.tracking.checkpoints import mark_checkpoint_complete

        mark_checkpoint_complete(path)
        return
    obs.complete_on_success.append(str(path))


def record_complete(run) -> tuple[bool, str]:
    """``(True, "")`` when everything ``run`` produced is stored in the database; otherwise ``(False, why)``.

    Waits for the run's last heartbeat first (it carries the final info, e.g. the report payload)."""
    from restoration.tracking.observer import wait_for_last_heartbeat

    obs = _observer(run)
    if obs is None:
        return True, ""
    if obs.run is None:
        return False, "the run never reached the database"
    wait_for_last_heartbeat(obs)
    if obs in getattr(run, "_failed_observers", ()):
        return False, f"run {obs.run.run_id}: the database observer failed during the run (see the log above)"
    if obs.incomplete:
        return False, f"run {obs.run.run_id}: {obs.incomplete}"
    return True, ""
