"""Sacred glue: the run database, the observer, run records, checkpoint folders. The only package importing
Sacred.

Every run lands in one SQL database: SQLite at ``runs/sacred.sqlite`` by default (a real database file, no
server); ``SACRED_DB_URL`` selects another (e.g. ``postgresql+psycopg://user@host/db``). Tables are Sacred's own
(``run``, ``experiment``, ``artifact``, ``source``, ``repository``, ``host``, ...) plus ``metric``, which Sacred
0.8.7's ``SqlObserver`` lacks (it drops every ``log_scalar`` value)::

    SELECT name, step, value FROM metric WHERE run_id = '3' AND name = 'DC1/train_loss' ORDER BY step;

Sacred keeps ``result`` in a FLOAT column, so structured results go in ``run.info["report"]``
(:func:`set_report`) and in artifacts.

Modules, the write side: :mod:`.experiment` (Sacred experiments, artifacts, report payload), :mod:`.observer`
(the observer: ids, retries, the spool), :mod:`.events` (the schema; an event stored on its run row),
:mod:`.spool`, :mod:`.recovery` (died runs, resume claims, draining spools), :mod:`.checkpoints` (attempt folders
with locks). The read side: :mod:`.records` (``RunRecord``, the one reader of a stored run), :mod:`.query`
(filters, pandas frames of runs and metrics, run diffs). Both: :mod:`.database` (URLs, engines, one-line errors,
transient errors).
"""

from restoration.tracking.checkpoints import checkpoint_dir, mark_checkpoint_complete, release
from restoration.tracking.database import DatabaseError, DatabaseLockedError, db_url, describe, engine, runs_dir
from restoration.tracking.experiment import (
    add_figure,
    add_file,
    add_json,
    add_npz,
    check_config_keys,
    check_options,
    command_line_updates,
    complete_on_success,
    config_of,
    make_experiment,
    metric_logger,
    record_complete,
    set_report,
)
from restoration.tracking.records import (
    CLAIMS_SWEEP,
    RunRecord,
    claim_runs,
    failure_message,
    get_run,
    latest_completed_run,
    latest_run,
    runs,
)
from restoration.tracking.recovery import claim_for_resume, mark_dead, recover
from restoration.tracking.query import RunDiff, RunFilter, compare, metrics_frame, runs_frame, select

__all__ = [
    "checkpoint_dir",
    "mark_checkpoint_complete",
    "release",
    "DatabaseError",
    "DatabaseLockedError",
    "db_url",
    "describe",
    "engine",
    "runs_dir",
    "add_figure",
    "add_file",
    "add_json",
    "add_npz",
    "complete_on_success",
    "make_experiment",
    "metric_logger",
    "check_config_keys",
    "check_options",
    "command_line_updates",
    "config_of",
    "record_complete",
    "set_report",
    "RunRecord",
    "failure_message",
    "get_run",
    "claim_for_resume",
    "CLAIMS_SWEEP",
    "claim_runs",
    "latest_completed_run",
    "latest_run",
    "mark_dead",
    "recover",
    "runs",
    "RunDiff",
    "RunFilter",
    "compare",
    "metrics_frame",
    "runs_frame",
    "select",
]
