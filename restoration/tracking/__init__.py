"""Sacred glue: the run database, the observer, run records, checkpoint folders. The only package importing
Sacred.

Every run lands in one SQL database: SQLite at ``runs/sacred.sqlite`` by default (a real database file, no
server); ``SACRED_DB_URL`` selects another (e.g. ``postgresql+psycopg://user@host/db``). Tables are Sacred's own
(``run``, ``experiment``, ``artifact``, ``source``, ``repository``, ``host``, ...) plus ``metric``, which Sacred
0.8.7's ``SqlObserver`` lacks (it drops every ``log_scalar`` value)::

    SELECT name, step, value FROM metric WHERE run_id = '3' AND name = 'DC1/train_loss' ORDER BY step;

Sacred keeps ``result`` in a FLOAT column, so structured results go in ``run.info["report"]``
(:func:`set_report`) and in artifacts.

Modules: :mod:`.database` (URLs, engines, one-line errors), :mod:`.observer` (the observer: ids, retries, the
spool), :mod:`.spool`, :mod:`.records` (reading runs, dead runs, recovery), :mod:`.query` (selecting and comparing
runs: filters, pandas frames of runs and metrics, run diffs), :mod:`.checkpoints` (attempt folders with locks),
:mod:`.experiment` (Sacred experiments, artifacts, report payload).
"""

from restoration.tracking.checkpoints import checkpoint_dir, mark_checkpoint_complete, release
from restoration.tracking.database import (DatabaseError, DatabaseLockedError, db_url, describe, engine,
                                           runs_dir)
from restoration.tracking.experiment import (add_figure, add_file, add_json, add_npz, check_config_keys,
                                             command_line_updates, complete_on_success, make_experiment,
                                             metric_logger, record_complete, set_report)
from restoration.tracking.records import (CLAIMS_SWEEP, RunRecord, claim_for_resume, claim_runs,
                                          failure_message, get_run, latest_completed_run, latest_run, mark_dead, recover, runs)
from restoration.tracking.query import RunDiff, RunFilter, compare, metrics_frame, runs_frame, select

__all__ = [
    "checkpoint_dir", "mark_checkpoint_complete", "release", "DatabaseError", "DatabaseLockedError", "db_url",
    "describe", "engine", "runs_dir", "add_figure", "add_file", "add_json", "add_npz", "complete_on_success",
    "make_experiment", "metric_logger", "check_config_keys", "command_line_updates", "record_complete", "set_report", "RunRecord", "failure_message",
    "get_run", "claim_for_resume", "CLAIMS_SWEEP", "claim_runs", "latest_completed_run", "latest_run", "mark_dead", "recover", "runs", "RunDiff", "RunFilter",
    "compare", "metrics_frame", "runs_frame", "select",
]
