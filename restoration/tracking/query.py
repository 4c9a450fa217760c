"""Selecting and comparing runs: filters over the run database, pandas frames of runs and metrics, run diffs.

A :class:`RunFilter` selects runs by experiment (figure), state, start time and config values; :func:`select`
returns the matching :class:`~restoration.tracking.records.RunRecord` s newest first. The frames follow the
`incense <https://github.com/JarnoRFB/incense>`_ library's idea, read straight from SQL::

    from restoration import tracking
    df = tracking.runs_frame("fig06", status="completed", where=["lr=1e-3", "size.vgg16>32"])
    m = tracking.metrics_frame(df.id, names=["DC1/train_loss"])      # long form: run_id, experiment, name, ...
    print(tracking.compare("3", "7").config)                          # the config keys that differ

Experiment, status and dates are selected in SQL; config conditions are checked in Python afterwards, since the
config is a JSON text column whose layout SQL cannot read portably (SQLite and PostgreSQL alike).

``where`` conditions are ``KEY=VALUE``, ``KEY!=VALUE``, ``KEY>NUMBER``, ``KEY<NUMBER`` (and ``>=``, ``<=``).
``KEY`` is a dotted path into nested config dicts (``size.vgg16``); ``VALUE`` is read as JSON where it parses
(``1e-3`` is the number 0.001, ``true`` a bool, ``[1, 2]`` a list) and is a string otherwise (``vgg16``). A run
whose config lacks the key matches no condition on it, ``!=`` included (as SQL's NULL).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import math
import re
from collections.abc import Iterable, Sequence
from typing import Any

from restoration.tracking import database
from restoration.tracking.records import STATUSES, RunRecord, _connect, _records, get_run, normalise_status, run_query

BASE_COLUMNS = ("id", "experiment", "state", "start", "duration_s", "host", "commit", "dirty")
METRIC_COLUMNS = ("run_id", "experiment", "name", "step", "value")
_CONDITION = re.compile(r"^\s*(?P<key>[^\s=!<>]+)\s*(?P<op>!=|>=|<=|==|=|>|<)(?P<value>.*)$")
_EXAMPLE = "e.g. --where lr=1e-3, --where net!=alexnet, --where size.vgg16>32"


# ----------------------------------------------------------------------------------------------------------
# Conditions on config values
# ----------------------------------------------------------------------------------------------------------


def parse_value(text: str) -> Any:
    """``"1e-3"`` -> 0.001, ``"true"`` -> True, ``"[1, 2]"`` -> [1, 2], ``'"5"'`` -> "5", ``"vgg16"`` -> "vgg16":
    JSON where the text parses as JSON, the text itself otherwise (so plain names need no quotes)."""
    try:
        return json.loads(text)
    except ValueError:
        return text


def _is_number(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def _same(a: Any, b: Any) -> bool:
    """Equality for config and result values: numbers compare by value (1 == 1.0, NaN == NaN, within 1e-9
    relative), but a bool is never a number (True != 1)."""
    if _is_number(a) and _is_number(b):
        if isinstance(a, float) and isinstance(b, float) and math.isnan(a) and math.isnan(b):
            return True
        return a == b or math.isclose(a, b, rel_tol=1e-9, abs_tol=0.0)
    if isinstance(a, bool) or isinstance(b, bool):
        return type(a) is type(b) and a == b
    return a == b


class _Absent:
    """The value of a key that a run does not have (shown as ``(absent)``)."""

    def __repr__(self) -> str:
        return "(absent)"

    def __str__(self) -> str:
        return "(absent)"


ABSENT = _Absent()


def lookup(config: dict, dotted: str) -> Any:
    """The value at dotted key ``dotted`` (``"size.vgg16"``) in nested dicts, or :data:`ABSENT`."""
    node: Any = config
    for part in dotted.split("."):
        if not isinstance(node, dict) or part not in node:
            return ABSENT
        node = node[part]
    return node


#: every operator ``--where`` takes, in the order the help lists them
WHERE_OPERATORS = ("=", "==", "!=", ">", "<", ">=", "<=")


@dataclasses.dataclass(frozen=True)
class Condition:
    """One ``where`` condition: dotted config ``key``, operator ``op`` (``=``, ``!=``, ``>``, ``<``, ``>=``,
    ``<=``), the parsed ``value`` and the ``text`` as given (a string config value equal to the text matches
    ``=`` too, so ``layer=5`` finds ``"5"``)."""

    key: str
    op: str
    value: Any
    text: str

    @classmethod
    def parse(cls, text: str) -> "Condition":
        """``"lr=1e-3"`` -> ``Condition("lr", "=", 0.001, "1e-3")``; ``ValueError`` naming ``--where`` and a fix."""
        m = _CONDITION.match(str(text))
        if not m:
            raise ValueError(
                f"--where {text!r} is not KEY=VALUE, KEY!=VALUE, KEY>NUMBER or KEY<NUMBER (operators: "
                f"{' '.join(WHERE_OPERATORS)}); {_EXAMPLE}"
            )
        key, op, raw = m["key"], m["op"], m["value"].strip()
        if op == "==":
            op = "="
        if any(not part for part in key.split(".")):
            raise ValueError(f"--where {text!r}: key {key!r} has an empty part; write dotted keys like size.vgg16")
        if raw == "":
            raise ValueError(
                f"--where {text!r} has no value; give one ({key}{op}VALUE), or {key}{op}'\"\"' for the empty string"
            )
        value = parse_value(raw)
        if op in (">", "<", ">=", "<=") and not _is_number(value):
            raise ValueError(
                f"--where {text!r}: {op} compares numbers and {raw!r} is not one; e.g. --where "
                f"{key}{op}0.01, or {key}={raw} to match the value"
            )
        return cls(key, op, value, raw)

    def matches(self, config: dict) -> bool:
        """Whether ``config`` (nested dicts) satisfies this condition; a missing key satisfies none."""
        actual = lookup(config, self.key)
        if actual is ABSENT:
            return False
        if self.op in ("=", "!="):
            equal = _same(actual, self.value) or (isinstance(actual, str) and actual == self.text)
            return equal if self.op == "=" else not equal
        if not _is_number(actual) or (isinstance(actual, float) and math.isnan(actual)):
            return False
        return {
            ">": actual > self.value,
            "<": actual < self.value,
            ">=": actual >= self.value,
            "<=": actual <= self.value,
        }[self.op]

    def __str__(self) -> str:
        return f"{self.key}{self.op}{self.text}"


# ----------------------------------------------------------------------------------------------------------
# The filter
# ----------------------------------------------------------------------------------------------------------


def parse_time(
    value: str | dt.date | dt.datetime | None, argument: str, *, end_of_day: bool = False
) -> dt.datetime | None:
    """A naive UTC datetime (as Sacred stores ``start_time``) from an ISO date or datetime; a bare date is its
    first microsecond, or with ``end_of_day`` its last (so ``--until 2026-11-26`` includes that day). An aware
    datetime is converted to UTC. ``ValueError`` naming ``argument`` when the text is no date."""
    if value is None or value == "":
        return None
    if isinstance(value, dt.datetime):
        t = value
    elif isinstance(value, dt.date):
        t = dt.datetime.combine(value, dt.time.max if end_of_day else dt.time.min)
    else:
        text = str(value).strip()
        try:
            if len(text) == 10:
                return parse_time(dt.date.fromisoformat(text), argument, end_of_day=end_of_day)
            t = dt.datetime.fromisoformat(text)
        except ValueError:
            raise ValueError(
                f"{argument} {text!r} is not an ISO date or datetime; e.g. {argument} 2026-11-26 or "
                f"{argument} 2026-11-26T17:30 (UTC)"
            ) from None
    if t.tzinfo is not None:
        t = t.astimezone(dt.timezone.utc).replace(tzinfo=None)
    return t


def _names(value: str | Iterable[str] | None) -> tuple[str, ...]:
    if value is None:
        return ()
    if isinstance(value, str):
        return (value,) if value else ()
    return tuple(str(v) for v in value if v)


def _statuses(value: str | Iterable[str] | None) -> tuple[str, ...]:
    try:
        return tuple(normalise_status(s) for s in _names(value))
    except ValueError as e:
        raise ValueError(f"--status: {e}") from None


def _limit(value: int | str | None) -> int | None:
    if value is None:
        return None
    try:
        n = int(value)
    except (TypeError, ValueError):
        raise ValueError(f"--limit {value!r} is not a whole number; e.g. --limit 10") from None
    if n < 1:
        raise ValueError(f"--limit {n} must be at least 1; e.g. --limit 10 (leave it out for every run)")
    if n > 2**62:  # a database's LIMIT is a 64-bit integer; larger would overflow in the driver
        raise ValueError(f"--limit {n} is larger than any database holds; leave it out for every run")
    return n


@dataclasses.dataclass
class RunFilter:
    """Which runs to select. Every field is optional; given fields must all hold (AND).

    ``experiment``: experiment (figure) names, exact, any of them (``"fig06"`` or ``["fig06", "fig07"]``).
    ``status``: states, any case, any of them: completed, failed, interrupted, running, died, incomplete, ...
    ``where``: config conditions (strings as in the module docstring, or :class:`Condition` s).
    ``since`` / ``until``: on the start time (UTC), ISO dates or datetimes, both inclusive.
    ``limit``: at most this many runs, the newest.

    Strings are parsed when the filter is made, so a bad argument fails before any query.
    """

    experiment: tuple[str, ...] = ()
    status: tuple[str, ...] = ()
    where: tuple[Condition, ...] = ()
    since: dt.datetime | None = None
    until: dt.datetime | None = None
    limit: int | None = None

    def __post_init__(self):
        self.experiment = _names(self.experiment)
        self.status = _statuses(self.status)
        where = [self.where] if isinstance(self.where, (str, Condition)) else list(self.where or ())
        self.where = tuple(w if isinstance(w, Condition) else Condition.parse(w) for w in where)
        self.since = parse_time(self.since, "--since")
        self.until = parse_time(self.until, "--until", end_of_day=True)
        self.limit = _limit(self.limit)
        if self.since and self.until and self.since > self.until:
            raise ValueError(
                f"--since {self.since:%Y-%m-%d %H:%M:%S} is after --until {self.until:%Y-%m-%d %H:%M:%S}; swap them"
            )

    def describe(self) -> str:
        """The filter for messages: ``"figure fig06, status COMPLETED, where lr=1e-3"`` (empty when none)."""
        parts = []
        if self.experiment:
            parts.append("figure " + " or ".join(self.experiment))
        if self.status:
            parts.append("status " + " or ".join(self.status))
        if self.where:
            parts.append("where " + " and ".join(str(c) for c in self.where))
        if self.since:
            parts.append(f"started since {self.since:%Y-%m-%d %H:%M:%S}")
        if self.until:
            parts.append(f"started until {self.until:%Y-%m-%d %H:%M:%S}")
        return ", ".join(parts)

    def _checked_in_python(self) -> bool:
        """Whether some condition cannot be decided in SQL (config values; RUNNING rows' derived states)."""
        return bool(self.where) or any(s in ("RUNNING", "DIED", "INCOMPLETE") for s in self.status)

    def keeps(self, rec: RunRecord) -> bool:
        """The part of the filter checked in Python: derived states and config conditions."""
        if self.status and rec.state not in self.status:
            return False
        return all(c.matches(rec.config) for c in self.where)


def _as_filter(spec: RunFilter | str | Sequence[str] | None, **kwargs) -> RunFilter:
    """A :class:`RunFilter` from one, or from an experiment name (or names) plus keyword fields."""
    if isinstance(spec, RunFilter):
        if any(v not in (None, "") and v != () and v != [] for v in kwargs.values()):
            raise ValueError("give either a RunFilter or keyword filters (experiment=, status=, where=, ...), not both")
        return spec
    return RunFilter(experiment=spec, **kwargs)


def _time_param(url: str, t: dt.datetime) -> Any:
    """A start-time bound as the database compares it: SQLAlchemy's SQLite text format, or a datetime."""
    return t.strftime("%Y-%m-%d %H:%M:%S.%f") if database.sqlite_path(url) is not None else t


def _sql(flt: RunFilter, url: str) -> tuple[str, dict]:
    """The WHERE / ORDER BY / LIMIT tail of the run query for the SQL part of ``flt``, and its parameters."""
    stored = sorted({s if s in STATUSES else "RUNNING" for s in flt.status or ()})  # DIED, INCOMPLETE: RUNNING rows
    return run_query(
        experiments=flt.experiment or (),
        statuses=stored,
        since=_time_param(url, flt.since) if flt.since else None,
        until=_time_param(url, flt.until) if flt.until else None,
        limit=None if flt._checked_in_python() else flt.limit,
    )


def select(flt: RunFilter | None = None, url: str | None = None) -> list[RunRecord]:
    """The runs that ``flt`` selects (all runs for None) in the database ``url`` (default: ``SACRED_DB_URL`` or
    ``runs/sacred.sqlite``), newest first."""
    flt = flt or RunFilter()
    url = url or database.db_url()
    tail, params = _sql(flt, url)
    recs = [r for r in _records(tail, params, url) if flt.keeps(r)]
    return recs[: flt.limit] if flt.limit else recs


# ----------------------------------------------------------------------------------------------------------
# Frames
# ----------------------------------------------------------------------------------------------------------


def flatten(d: dict, prefix: str = "") -> dict[str, Any]:
    """Nested dicts as one level with dotted keys (``{"size": {"vgg16": 64}}`` -> ``{"size.vgg16": 64}``); lists
    and empty dicts stay values. Sacred's ``__doc__`` entry is left out."""
    out: dict[str, Any] = {}
    for k, v in d.items():
        if not prefix and k == "__doc__":
            continue
        key = f"{prefix}{k}"
        if isinstance(v, dict) and v:
            out.update(flatten(v, key + "."))
        else:
            out[key] = v
    return out


def result_numbers(rec: RunRecord) -> dict[str, float]:
    """The report summary of a run (``info["report"]["summary"]``, nested or stored with dotted keys), numbers
    only, in display order; a stored null (NaN) is NaN. Empty when the run stored no report."""
    payload = rec.report
    summary = payload.get("summary") if payload else None
    if not isinstance(summary, dict):
        return {}
    return {str(k): (math.nan if v is None else float(v)) for k, v in summary.items() if v is None or _is_number(v)}


def _row(rec: RunRecord) -> dict[str, Any]:
    row: dict[str, Any] = dict(
        id=rec.id,
        experiment=rec.experiment,
        state=rec.state,
        start=rec.start_time,
        duration_s=rec.duration_s,
        host=rec.host,
        commit=rec.commit,
        dirty=rec.dirty,
    )
    row.update({f"config.{k}": v for k, v in flatten(rec.config).items()})
    row.update({f"result.{k}": v for k, v in result_numbers(rec).items()})
    return row


def frame_of(records: Iterable[RunRecord]):
    """A ``pandas.DataFrame`` of ``records``, one row each in the given order: :data:`BASE_COLUMNS`, then the
    flattened config as ``config.<key>`` (sorted), then the report summary as ``result.<key>`` (in the order
    first seen). A key a run lacks is NaN/None in its row."""
    import pandas as pd

    rows = [_row(r) for r in records]
    config = sorted({k for r in rows for k in r if k.startswith("config.")})
    results = list(dict.fromkeys(k for r in rows for k in r if k.startswith("result.")))
    df = pd.DataFrame.from_records(rows, columns=[*BASE_COLUMNS, *config, *results])
    df["start"] = pd.to_datetime(df["start"])
    df["duration_s"] = df["duration_s"].astype(float)
    for k in results:
        df[k] = df[k].astype(float)
    return df


def runs_frame(
    experiment: RunFilter | str | Sequence[str] | None = None,
    status: str | Sequence[str] | None = None,
    where: str | Sequence[str] = (),
    since: str | dt.datetime | None = None,
    until: str | dt.datetime | None = None,
    limit: int | None = None,
    *,
    url: str | None = None,
):
    """One row per selected run, newest first (see :func:`frame_of` for the columns). ``experiment`` may be a
    :class:`RunFilter` instead of the keyword fields."""
    flt = _as_filter(experiment, status=status, where=where, since=since, until=until, limit=limit)
    return frame_of(select(flt, url))


def _run_ids(runs: Iterable[str | int | RunRecord] | str | int) -> list[str]:
    if isinstance(runs, (str, int, RunRecord)):
        runs = [runs]
    return list(dict.fromkeys(r.id if isinstance(r, RunRecord) else str(r) for r in runs))


def metrics_frame(
    run_ids: Iterable[str | int | RunRecord] | str | int,
    names: str | Iterable[str] | None = None,
    url: str | None = None,
):
    """The logged metrics of the runs (ids, records or a frame's ``id`` column) in long form, one row per point:
    :data:`METRIC_COLUMNS` (run_id, experiment, name, step, value), ordered by run, name and step; only metrics
    ``names`` (exact) when given. One SQL query for all runs."""
    import pandas as pd
    import sqlalchemy as sa

    ids, wanted = _run_ids(run_ids), _names(names)
    url = url or database.db_url()
    empty = pd.DataFrame(
        {
            "run_id": pd.Series(dtype=str),
            "experiment": pd.Series(dtype=str),
            "name": pd.Series(dtype=str),
            "step": pd.Series(dtype="int64"),
            "value": pd.Series(dtype=float),
        }
    )
    if not ids or not database.exists(url):
        return empty
    sql = (
        "SELECT m.run_id, e.name, m.name, m.step, m.value FROM metric m JOIN run r ON m.run_id = r.run_id "
        "JOIN experiment e ON r.experiment_id = e.experiment_id WHERE m.run_id IN :ids"
        + (" AND m.name IN :names" if wanted else "")
        + " ORDER BY r.id, m.name, m.step, m.metric_id"
    )
    query = sa.text(sql).bindparams(sa.bindparam("ids", expanding=True))
    params: dict[str, Any] = {"ids": ids}
    if wanted:
        query = query.bindparams(sa.bindparam("names", expanding=True))
        params["names"] = list(wanted)
    with _connect(url) as c:
        if not sa.inspect(c).has_table("metric"):
            return empty
        rows = c.execute(query, params).all()
    if not rows:
        return empty
    df = pd.DataFrame.from_records([tuple(r) for r in rows], columns=list(METRIC_COLUMNS))
    df["run_id"] = df["run_id"].astype(str)
    df["step"] = df["step"].astype("int64")
    df["value"] = df["value"].astype(float)  # a stored NULL (NaN logged) is NaN
    return df


@dataclasses.dataclass(frozen=True)
class MetricOverview:
    """One metric of one run: how many points, and the last one."""

    name: str
    points: int
    last_step: int
    last_value: float


def metric_overview(run: str | int | RunRecord, url: str | None = None) -> list[MetricOverview]:
    """Every metric of one run with its number of points and last value, by name."""
    if isinstance(run, RunRecord):
        url = url or run.url
    df = metrics_frame(run, url=url)
    out = []
    for name, g in df.groupby("name", sort=True):
        out.append(MetricOverview(str(name), len(g), int(g["step"].iloc[-1]), float(g["value"].iloc[-1])))
    return out


def artifact_sizes(run: str | int | RunRecord, url: str | None = None) -> dict[str, int]:
    """``{artifact name: bytes}`` of one run, sized in SQL (the contents are not read)."""
    import sqlalchemy as sa

    run_id = run.id if isinstance(run, RunRecord) else str(run)
    url = url or (run.url if isinstance(run, RunRecord) else None) or database.db_url()
    with _connect(url) as c:
        rows = c.execute(
            sa.text("SELECT filename, length(content) FROM artifact WHERE run_id = :r ORDER BY artifact_id"),
            dict(r=run_id),
        ).all()
    return {name: int(size or 0) for name, size in rows}


# ----------------------------------------------------------------------------------------------------------
# Comparing two runs
# ----------------------------------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class Difference:
    """One key whose value differs: in run a, in run b (:data:`ABSENT` where a run lacks the key), and
    ``delta`` = b - a when both are numbers."""

    key: str
    a: Any
    b: Any
    delta: float | None = None


@dataclasses.dataclass(frozen=True)
class RunSide:
    """What the comparison shows of each run besides its config and results."""

    id: str
    experiment: str
    state: str
    duration_s: float | None
    commit: str | None
    dirty: bool | None

    @classmethod
    def of(cls, rec: RunRecord) -> "RunSide":
        return cls(rec.id, rec.experiment, rec.state, rec.duration_s, rec.commit, rec.dirty)


@dataclasses.dataclass(frozen=True)
class RunDiff:
    """How run ``b`` differs from run ``a``: config keys (flattened, dotted) and report summary numbers whose
    values differ or that only one run has, sorted by key (results in display order)."""

    a: RunSide
    b: RunSide
    config: list[Difference]
    results: list[Difference]

    @property
    def same(self) -> bool:
        return not self.config and not self.results


def differences(a: dict[str, Any], b: dict[str, Any], keys: Iterable[str]) -> list[Difference]:
    """The keys (in the given order) whose values in flat dicts ``a`` and ``b`` differ."""
    out = []
    for k in keys:
        va, vb = a.get(k, ABSENT), b.get(k, ABSENT)
        if va is not ABSENT and vb is not ABSENT and _same(va, vb):
            continue
        delta = float(vb) - float(va) if _is_number(va) and _is_number(vb) else None
        out.append(Difference(k, va, vb, delta))
    return out


def compare(a: str | int | RunRecord, b: str | int | RunRecord, url: str | None = None) -> RunDiff:
    """The differences between runs ``a`` and ``b`` (records, or ids looked up in ``url``)."""
    ra = a if isinstance(a, RunRecord) else get_run(a, url=url)
    rb = b if isinstance(b, RunRecord) else get_run(b, url=url)
    ca, cb = flatten(ra.config), flatten(rb.config)
    sa_, sb = result_numbers(ra), result_numbers(rb)
    return RunDiff(
        RunSide.of(ra),
        RunSide.of(rb),
        config=differences(ca, cb, sorted(set(ca) | set(cb))),
        results=differences(sa_, sb, dict.fromkeys([*sa_, *sb])),
    )
