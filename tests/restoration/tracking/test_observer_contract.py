"""Our observer against the contract of Sacred's own SqlObserver tests (IDSIA/sacred 0.8.7,
``tests/test_observers/test_sql_observer.py``) and the events its ``tests/test_run.py`` drives.

Each test follows one of Sacred's. Where ours differs on purpose the test says so:

* it binds its own session (one session, one re-entrant lock for the run and heartbeat threads), so the checks
  read through a second, independent session instead of sharing the observer's;
* ids it assigns itself equal the row's database id (1, 2, ...), not Sacred's ``max(id) + 1`` (whose first run
  is "0"), so two processes starting at once cannot collide;
* a result that is not a number is stored as NULL instead of breaking the session;
* it adds the ``metric`` table (``log_metrics``).
"""

import datetime
import hashlib

import pytest
from sacred.observers.sql_bases import Experiment, Host, Resource, Run, Source
from sacred.serializer import json
from sqlalchemy.orm import Session

from restoration.tracking import database
from restoration.tracking.observer import make_observer

T1 = datetime.datetime(1999, 5, 4, 3, 2, 1, 0)
T2 = datetime.datetime(1999, 5, 5, 5, 5, 5, 5)


@pytest.fixture
def url(tmp_path):
    return f"sqlite:///{tmp_path / 'contract.sqlite'}"


@pytest.fixture
def obs(url):
    return make_observer(url)


@pytest.fixture
def session(url, obs):
    with Session(database.engine(url)) as s:
        yield s


@pytest.fixture
def tmpfile(tmp_path):
    path = tmp_path / "tmpfile.py"
    path.write_text("import sacred\n")

    class F:
        name = str(path)
        content = "import sacred\n"
        md5sum = hashlib.md5(b"import sacred\n").hexdigest()

    return F


@pytest.fixture
def sample_run(tmp_path):
    return {
        "_id": "FEDCBA9876543210",
        "ex_info": {
            "name": "test_exp",
            "sources": [],
            "repositories": [],
            "dependencies": [],
            "base_dir": str(tmp_path),
        },
        "command": "run",
        "host_info": {"hostname": "test_host", "cpu": "Intel", "os": ["Linux", "Ubuntu"], "python_version": "3.4"},
        "start_time": T1,
        "config": {"config": "True", "foo": "bar", "answer": 42},
        "meta_info": {"comment": "test run"},
    }


def test_started_event_creates_run(obs, sample_run, session):
    sample_run["_id"] = None
    _id = obs.started_event(**sample_run)
    assert _id == 1  # differs on purpose: the row's id, not Sacred's first id 0
    assert session.query(Run).count() == 1 and session.query(Host).count() == 1
    assert session.query(Experiment).count() == 1
    run = session.query(Run).first()
    assert run.to_json() == {
        "_id": "1",
        "command": "run",
        "start_time": T1,
        "heartbeat": None,
        "stop_time": None,
        "queue_time": None,
        "status": "RUNNING",
        "result": None,
        "meta": {"comment": "test run", "priority": 0.0},
        "resources": [],
        "artifacts": [],
        "host": sample_run["host_info"],
        "experiment": sample_run["ex_info"],
        "config": sample_run["config"],
        "captured_out": None,
        "fail_trace": None,
    }


def test_started_event_uses_given_id(obs, sample_run, session):
    assert obs.started_event(**sample_run) == sample_run["_id"]
    assert session.query(Run).count() == 1 and session.query(Run).first().run_id == sample_run["_id"]


def test_started_event_saves_source(obs, sample_run, session, tmpfile):
    sample_run["ex_info"]["sources"] = [["tmpfile.py", tmpfile.md5sum]]
    obs.started_event(**sample_run)
    db_run = session.query(Run).first()
    assert session.query(Source).count() == 1 and len(db_run.experiment.sources) == 1
    source = db_run.experiment.sources[0]
    assert (source.filename, source.content, source.md5sum) == ("tmpfile.py", "import sacred\n", tmpfile.md5sum)


def test_heartbeat_event_updates_run(obs, sample_run, session):
    obs.started_event(**sample_run)
    obs.heartbeat_event(info={"my_info": [1, 2, 3], "nr": 7}, captured_out="some output", beat_time=T2, result=23.5)
    db_run = session.query(Run).first()
    assert db_run.heartbeat == T2 and db_run.result == 23.5 and db_run.captured_out == "some output"
    assert json.decode(db_run.info) == {"my_info": [1, 2, 3], "nr": 7}


def test_completed_event_updates_run(obs, sample_run, session):
    obs.started_event(**sample_run)
    obs.completed_event(stop_time=T2, result=42)
    db_run = session.query(Run).first()
    assert (db_run.stop_time, db_run.result, db_run.status) == (T2, 42, "COMPLETED")


def test_completed_event_with_a_result_that_is_not_a_number(obs, sample_run, session):
    """Differs on purpose: Sacred's observer breaks its session on a dict result; ours stores NULL."""
    obs.started_event(**sample_run)
    obs.completed_event(stop_time=T2, result={"psnr": 20.0})
    db_run = session.query(Run).first()
    assert (db_run.result, db_run.status) == (None, "COMPLETED")


def test_interrupted_event_updates_run(obs, sample_run, session):
    obs.started_event(**sample_run)
    obs.interrupted_event(interrupt_time=T2, status="INTERRUPTED")
    db_run = session.query(Run).first()
    assert (db_run.stop_time, db_run.status) == (T2, "INTERRUPTED")


def test_failed_event_updates_run(obs, sample_run, session):
    obs.started_event(**sample_run)
    obs.failed_event(fail_time=T2, fail_trace=["lots of errors and", "so", "on..."])
    db_run = session.query(Run).first()
    assert (db_run.stop_time, db_run.status) == (T2, "FAILED")
    assert db_run.fail_trace == "lots of errors and\nso\non..."


def test_artifact_event(obs, sample_run, session, tmpfile):
    obs.started_event(**sample_run)
    obs.artifact_event("my_artifact.py", tmpfile.name)
    db_run = session.query(Run).first()
    assert len(db_run.artifacts) == 1 and db_run.artifacts[0].filename == "my_artifact.py"
    assert db_run.artifacts[0].content.decode() == tmpfile.content


def test_resource_event(obs, sample_run, session, tmpfile):
    obs.started_event(**sample_run)
    obs.resource_event(tmpfile.name)
    res = session.query(Run).first().resources[0]
    assert (res.filename, res.md5sum, res.content.decode()) == (tmpfile.name, tmpfile.md5sum, tmpfile.content)


def test_sources_and_resources_are_not_duplicated(url, sample_run, session, tmpfile):
    first, second = make_observer(url), make_observer(url)
    sample_run["_id"] = None
    sample_run["ex_info"]["sources"] = [["tmpfile.py", tmpfile.md5sum]]
    assert [first.started_event(**sample_run), second.started_event(**sample_run)] == [1, 2]
    first.resource_event(tmpfile.name)
    second.resource_event(tmpfile.name)
    assert session.query(Run).count() == 2 and session.query(Source).count() == 1
    assert session.query(Resource).count() == 1


def test_log_metrics_fills_the_metric_table(obs, sample_run, session):
    """An addition: Sacred's SqlObserver drops log_scalar values."""
    import sqlalchemy as sa

    obs.started_event(**sample_run)
    obs.log_metrics({"loss": {"steps": [0, 1], "values": [2.0, 1.0], "timestamps": [T1, T2]}}, info={})
    rows = session.execute(sa.text("SELECT run_id, name, step, value FROM metric ORDER BY step")).all()
    assert [tuple(r) for r in rows] == [(sample_run["_id"], "loss", 0, 2.0), (sample_run["_id"], "loss", 1, 1.0)]
