"""Selecting and comparing runs (restoration.tracking.query and `python -m restoration runs/show/compare`) on
runs made by small Sacred experiments in a real SQLite database, and once on a real PostgreSQL server."""

import datetime as dt

import pandas as pd
import pytest

from restoration import cli, tracking
from restoration.contract.payload import Payload
from restoration.tracking import query
from restoration.tracking.query import ABSENT, Condition, RunFilter

PSNR = {1e-3: 21.0, 1e-2: 30.0, 1e-4: 20.5}  # each run's summary, by learning rate


def _experiment(name: str, **extra):
    """A throw-away experiment: logs ``loss`` for ``steps`` steps and ``acc`` once, stores a report summary,
    fails at the end when ``fail``."""
    ex = tracking.make_experiment(name)
    ex.add_config(dict(seed=0, lr=1e-3, net="vgg16", steps=3, fail=False, opt={"name": "adam", "beta": 0.9}, **extra))

    @ex.main
    def main(_run, lr, steps, fail):
        for i in range(steps):
            _run.log_scalar("loss", 1.0 / (i + 1), i)
        _run.log_scalar("acc", 0.75, 0)
        tracking.set_report(_run, Payload("query test", "net", summary={"psnr_mean": PSNR[lr], "ssim_mean": 0.5}))
        if fail:
            raise RuntimeError("boom at the end")

    return ex


def _make_runs() -> None:
    """Runs 1-4 in the database SACRED_DB_URL / RESTORATION_RUNS_DIR names at the time:
    1 figq completed lr=1e-3 vgg16 adam/0.9 3 steps; 2 figq completed lr=1e-2 alexnet adam/0.5 4 steps;
    3 figq FAILED lr=1e-3 vgg16 sgd/0.9 2 steps; 4 figr completed lr=1e-4 vgg16 5 steps, extra key `only_r`."""
    q = _experiment("figq")
    q.run()
    q.run(config_updates={"lr": 1e-2, "net": "alexnet", "steps": 4, "opt.beta": 0.5})
    with pytest.raises(RuntimeError, match="boom"):
        q.run(config_updates={"steps": 2, "fail": True, "opt.name": "sgd"})
    _experiment("figr", only_r="x").run(config_updates={"lr": 1e-4, "steps": 5})


@pytest.fixture(scope="module")
def runs_folder(tmp_path_factory):
    folder = tmp_path_factory.mktemp("query") / "runs"
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("RESTORATION_RUNS_DIR", str(folder))
        mp.delenv("SACRED_DB_URL", raising=False)
        _make_runs()
    return folder


@pytest.fixture
def db(runs_folder, monkeypatch):
    """The four runs' database as the default database of this test."""
    monkeypatch.setenv("RESTORATION_RUNS_DIR", str(runs_folder))
    return runs_folder


def ids(recs) -> list[str]:
    return [r.id for r in recs]


# ---------------------------------------------------------------------------------------------------------
# Conditions and filters, no database
# ---------------------------------------------------------------------------------------------------------


def test_where_conditions_are_parsed_as_json_where_they_can_be():
    assert Condition.parse("lr=1e-3") == Condition("lr", "=", 0.001, "1e-3")
    assert Condition.parse("net=vgg16").value == "vgg16"
    assert Condition.parse("flip=true").value is True
    assert Condition.parse("size.vgg16 >= 64") == Condition("size.vgg16", ">=", 64, "64")
    assert Condition.parse("layers==[1, 2]").value == [1, 2]
    assert Condition.parse('tag="5"').value == "5"
    cfg = {"lr": 0.001, "net": "vgg16", "flip": True, "seed": 1, "layer": "5", "size": {"vgg16": 64}}
    assert Condition.parse("lr=0.001").matches(cfg) and Condition.parse("lr=1e-3").matches(cfg)
    assert not Condition.parse("lr=1e-2").matches(cfg)
    assert Condition.parse("net!=alexnet").matches(cfg) and not Condition.parse("net!=vgg16").matches(cfg)
    assert Condition.parse("lr>1e-4").matches(cfg) and not Condition.parse("lr<1e-4").matches(cfg)
    assert Condition.parse("size.vgg16=64").matches(cfg) and not Condition.parse("size.alexnet=64").matches(cfg)
    assert Condition.parse("layer=5").matches(cfg)  # a string config value equal to the text as given
    assert not Condition.parse("flip=1").matches(cfg) and not Condition.parse("seed=true").matches(cfg)
    assert not Condition.parse("missing!=3").matches(cfg)  # a key the run lacks matches nothing
    assert not Condition.parse("net>3").matches(cfg)  # a string is never greater than a number


@pytest.mark.parametrize(
    "text, message",
    [
        (
            "lr",
            "--where 'lr' is not KEY=VALUE, KEY!=VALUE, KEY>NUMBER or KEY<NUMBER (operators: = == != > < >= <=); "
            "e.g. --where lr=1e-3",
        ),
        ("lr=", "--where 'lr=' has no value"),
        ("net>vgg16", "--where 'net>vgg16': > compares numbers and 'vgg16' is not one; e.g. --where net>0.01"),
        ("a..b=1", "--where 'a..b=1': key 'a..b' has an empty part"),
        ("=3", "--where '=3' is not KEY=VALUE"),
    ],
)
def test_a_bad_where_is_one_line_naming_it_and_the_fix(text, message):
    with pytest.raises(ValueError) as e:
        RunFilter(where=[text])
    assert str(e.value).startswith(message) and "\n" not in str(e.value)


def test_filter_fields_are_normalised_and_checked():
    f = RunFilter(
        experiment="fig06", status="completed", where="lr=1e-3", since="2026-11-26", until="2026-11-26", limit="5"
    )
    assert f.experiment == ("fig06",) and f.status == ("COMPLETED",) and f.limit == 5
    assert f.since == dt.datetime(2026, 11, 26) and f.until == dt.datetime(2026, 11, 26, 23, 59, 59, 999999)
    assert RunFilter(since="2026-11-26T12:00+02:00").since == dt.datetime(2026, 11, 26, 10, 0)  # to UTC
    assert f.describe() == (
        "figure fig06, status COMPLETED, where lr=1e-3, started since 2026-11-26 00:00:00, "
        "started until 2026-11-26 23:59:59"
    )
    for kwargs, message in [
        (dict(status="finished"), "--status: unknown status 'finished'"),
        (dict(since="yesterday"), "--since 'yesterday' is not an ISO date"),
        (dict(limit=0), "--limit 0 must be at least 1"),
        (dict(limit="ten"), "--limit 'ten' is not a whole number"),
        (dict(since="2026-11-27", until="2026-11-26"), "--since 2026-11-27 00:00:00 is after"),
    ]:
        with pytest.raises(ValueError, match=message):
            RunFilter(**kwargs)


# ---------------------------------------------------------------------------------------------------------
# Selecting runs
# ---------------------------------------------------------------------------------------------------------


def test_select_by_figure_status_and_config(db):
    assert ids(tracking.select()) == ["4", "3", "2", "1"]  # newest first
    assert ids(tracking.select(RunFilter(experiment="figq"))) == ["3", "2", "1"]
    assert ids(tracking.select(RunFilter(experiment=["figq", "figr"], limit=2))) == ["4", "3"]
    assert ids(tracking.select(RunFilter(experiment="fig"))) == []  # names are exact
    assert ids(tracking.select(RunFilter(status="failed"))) == ["3"]
    assert ids(tracking.select(RunFilter(status=["Completed", "FAILED"], experiment="figq"))) == ["3", "2", "1"]
    assert ids(tracking.select(RunFilter(where=["lr=1e-3"]))) == ["3", "1"]  # 1e-3 is the number 0.001
    assert ids(tracking.select(RunFilter(where=["lr=0.001", "fail=false"]))) == ["1"]
    assert ids(tracking.select(RunFilter(where=["net!=vgg16"]))) == ["2"]
    assert ids(tracking.select(RunFilter(where=["lr>1e-3"]))) == ["2"]
    assert ids(tracking.select(RunFilter(where=["lr<1e-3"]))) == ["4"]
    assert ids(tracking.select(RunFilter(where=["steps>=4"]))) == ["4", "2"]
    assert ids(tracking.select(RunFilter(where=["opt.beta=0.5"]))) == ["2"]
    assert ids(tracking.select(RunFilter(where=["opt.name=sgd"]))) == ["3"]
    assert ids(tracking.select(RunFilter(where=["only_r=x"]))) == ["4"]
    assert ids(tracking.select(RunFilter(where=["lr=1e-3"], limit=1))) == ["3"]  # the limit after the config check
    assert ids(tracking.select(RunFilter(where=["net=resnet"]))) == []


def test_select_by_start_time(db):
    recs = {r.id: r for r in tracking.select()}
    t3 = recs["3"].start_time
    assert ids(tracking.select(RunFilter(since=t3))) == ["4", "3"]
    assert ids(tracking.select(RunFilter(until=t3))) == ["3", "2", "1"]
    assert ids(tracking.select(RunFilter(since=recs["2"].start_time, until=t3))) == ["3", "2"]
    aware = (t3 + dt.timedelta(hours=2)).isoformat() + "+02:00"  # the same instant, in another time zone
    assert ids(tracking.select(RunFilter(since=aware))) == ["4", "3"]
    day = recs["1"].start_time.date()
    assert ids(tracking.select(RunFilter(until=(day - dt.timedelta(days=1)).isoformat()))) == []
    assert ids(tracking.select(RunFilter(since=(recs["4"].start_time.date() + dt.timedelta(days=1)).isoformat()))) == []
    assert len(tracking.select(RunFilter(since=day.isoformat(), until=recs["4"].start_time.date().isoformat()))) == 4


# ---------------------------------------------------------------------------------------------------------
# Frames
# ---------------------------------------------------------------------------------------------------------


def test_runs_frame_has_one_row_per_run_with_config_and_results(db):
    df = tracking.runs_frame("figq")
    assert list(df.columns[:8]) == ["id", "experiment", "state", "start", "duration_s", "host", "commit", "dirty"]
    assert [c for c in df.columns if c.startswith("config.")] == [
        "config.fail",
        "config.lr",
        "config.net",
        "config.opt.beta",
        "config.opt.name",
        "config.precision",
        "config.seed",
        "config.steps",
    ]
    assert [c for c in df.columns if c.startswith("result.")] == ["result.psnr_mean", "result.ssim_mean"]
    assert list(df["id"]) == ["3", "2", "1"] and list(df["state"]) == ["FAILED", "COMPLETED", "COMPLETED"]
    assert list(df["config.lr"]) == [0.001, 0.01, 0.001] and list(df["config.opt.beta"]) == [0.9, 0.5, 0.9]
    by_id = df.set_index("id")
    assert by_id.loc["2", "result.psnr_mean"] == 30.0 and by_id.loc["1", "result.psnr_mean"] == 21.0
    assert by_id.loc["2", "config.net"] == "alexnet" and by_id.loc["1", "config.steps"] == 3
    assert df["start"].is_monotonic_decreasing and (df["duration_s"] >= 0).all()
    assert df["commit"].str.fullmatch("[0-9a-f]{40}").all()

    both = tracking.runs_frame(status="completed", where=["lr<=1e-3"])
    assert list(both["id"]) == ["4", "1"] and list(both["experiment"]) == ["figr", "figq"]
    only_r = both.set_index("id")["config.only_r"]
    assert only_r["4"] == "x" and pd.isna(only_r["1"])
    assert list(tracking.runs_frame(RunFilter(where=["net=alexnet"]))["id"]) == ["2"]
    empty = tracking.runs_frame("nothing")
    assert len(empty) == 0 and list(empty.columns) == list(query.BASE_COLUMNS)
    with pytest.raises(ValueError, match="either a RunFilter or keyword filters"):
        tracking.runs_frame(RunFilter(), status="failed")


def test_metrics_frame_is_long_form_in_one_query(db):
    m = tracking.metrics_frame(["1", 2])
    assert list(m.columns) == ["run_id", "experiment", "name", "step", "value"]
    assert len(m) == (3 + 1) + (4 + 1)
    loss1 = m[(m.run_id == "1") & (m.name == "loss")]
    assert list(loss1.step) == [0, 1, 2] and list(loss1.value) == [1.0, 0.5, 1 / 3]
    assert set(m.experiment) == {"figq"} and list(m.run_id.unique()) == ["1", "2"]
    only_acc = tracking.metrics_frame(tracking.runs_frame()["id"], names=["acc"])
    assert sorted(only_acc.run_id) == ["1", "2", "3", "4"] and set(only_acc.value) == {0.75}
    assert len(tracking.metrics_frame(tracking.select(RunFilter(experiment="figr")), names="loss")) == 5
    assert tracking.metrics_frame([]).empty and tracking.metrics_frame(["999"]).empty


def test_compare_finds_exactly_the_keys_that_differ(db):
    d = tracking.compare("1", "2")
    assert [(x.key, x.a, x.b) for x in d.config] == [
        ("lr", 0.001, 0.01),
        ("net", "vgg16", "alexnet"),
        ("opt.beta", 0.9, 0.5),
        ("steps", 3, 4),
    ]
    assert [x.delta for x in d.config] == [pytest.approx(0.009), None, pytest.approx(-0.4), 1.0]
    assert [(x.key, x.a, x.b, x.delta) for x in d.results] == [("psnr_mean", 21.0, 30.0, 9.0)]
    assert (d.a.state, d.b.state, d.a.experiment) == ("COMPLETED", "COMPLETED", "figq") and not d.same

    other = tracking.compare("1", "4")
    assert [(x.key, x.a, x.b) for x in other.config] == [
        ("lr", 0.001, 0.0001),
        ("only_r", ABSENT, "x"),
        ("steps", 3, 5),
    ]
    assert tracking.compare("1", "1").same
    with pytest.raises(KeyError, match="no run 99"):
        tracking.compare("1", "99")


# ---------------------------------------------------------------------------------------------------------
# The command line
# ---------------------------------------------------------------------------------------------------------


def _lines(text: str) -> list[str]:
    return [ln for ln in text.splitlines() if ln.strip()]


def test_cli_lists_runs_selected_with_where_and_writes_csv(db, tmp_path, capsys):
    assert cli.main(["runs", "--where", "lr=1e-3"]) == 0
    out = _lines(capsys.readouterr().out)
    assert out[0].split()[:6] == ["id", "figure", "state", "started", "duration", "lr"]
    assert [ln.split()[:3] for ln in out[1:]] == [["3", "figq", "FAILED"], ["1", "figq", "COMPLETED"]]
    assert out[1].split()[6] == "0.001" and "failed: RuntimeError: boom at the end" in out[1]

    assert cli.main(["runs", "--figure", "figq", "--figure", "figr", "--status", "completed", "--limit", "2"]) == 0
    assert [ln.split()[0] for ln in _lines(capsys.readouterr().out)[1:]] == ["4", "2"]

    csv = tmp_path / "out" / "runs.csv"
    metrics = tmp_path / "metrics.csv"
    assert (
        cli.main(
            [
                "runs",
                "--where",
                "net=vgg16",
                "--where",
                "opt.name!=sgd",
                "--csv",
                str(csv),
                "--metrics-csv",
                str(metrics),
            ]
        )
        == 0
    )
    out = capsys.readouterr().out
    assert f"wrote 2 runs to {csv}" in out and f"wrote 10 metric points of 2 runs to {metrics}" in out
    back = pd.read_csv(csv, dtype={"id": str})
    assert list(back["id"]) == ["4", "1"] and list(back["config.lr"]) == [1e-4, 1e-3]
    assert list(back["result.psnr_mean"]) == [20.5, 21.0]
    m = pd.read_csv(metrics, dtype={"run_id": str})
    assert sorted(set(m.run_id)) == ["1", "4"] and m[m.run_id == "4"].name.tolist().count("loss") == 5

    assert cli.main(["runs", "--figure", "figr", "--csv", "-"]) == 0
    captured = capsys.readouterr()
    stdout = pd.read_csv(pd.io.common.StringIO(captured.out), dtype={"id": str})
    assert list(stdout["id"]) == ["4"] and "wrote 1 runs to stdout" in captured.err

    assert cli.main(["runs", "--where", "net=resnet"]) == 0
    assert "no runs in" in capsys.readouterr().out


def test_cli_bad_arguments_are_one_line_and_exit_2(db, tmp_path, capsys):
    (tmp_path / "afile").write_text("")
    blocked = tmp_path / "afile" / "runs.csv"
    for argv, message in [
        (["runs", "--csv", str(blocked)], f"error: --csv {blocked}: cannot be written"),
        (["runs", "--csv", "-", "--metrics-csv", "-"], "error: --csv - and --metrics-csv - would"),
        (["runs", "--status", "finished"], "error: --status: unknown status 'finished'"),
        (["runs", "--where", "lr"], "error: --where 'lr' is not KEY=VALUE"),
        (["runs", "--where", "lr>fast"], "error: --where 'lr>fast': > compares numbers"),
        (["runs", "--since", "last week"], "error: --since 'last week' is not an ISO date"),
        (["runs", "--limit", "0"], "error: --limit 0 must be at least 1"),
        (["show", "42"], "error: no run 42 in"),
        (["compare", "1", "42"], "error: no run 42 in"),
    ]:
        assert cli.main(argv) == 2, argv
        captured = capsys.readouterr()
        assert captured.err.startswith(message) and len(captured.err.strip().splitlines()) == 1, captured.err
        assert captured.out == ""


def test_cli_show_prints_one_run_whole(db, capsys):
    assert cli.main(["show", "1"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("run 1: figq (main), COMPLETED")
    words = " ".join(out.split())  # the columns' padding aside
    for expected in [
        "config (8 keys)",
        "fail = false",
        "lr = 0.001",
        "net = vgg16",
        "opt.beta = 0.9",
        "opt.name = adam",
        "seed = 0",
        "steps = 3",
        "summary (2 numbers)",
        "psnr_mean = 21",
        "ssim_mean = 0.5",
        "artifacts (0)",
        "metrics (2)",
    ]:
        assert expected in words, expected
    assert "  lr        = 0.001\n" in out  # '=' aligned under the longest key (precision, every experiment's)
    assert "loss  3 points  last 0.333333 at step 2" in out and "acc   1 points  last 0.75 at step 0" in out
    assert "failure" not in out

    assert cli.main(["show", "3", "--trace-lines", "2"]) == 0
    out = capsys.readouterr().out
    assert "state     failed: RuntimeError: boom at the end" in out
    assert "failure (last 2 of" in out and out.rstrip().endswith("RuntimeError: boom at the end")


def test_cli_compare_prints_the_differences_in_columns(db, capsys):
    assert cli.main(["compare", "1", "2"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split() == ["run", "1", "run", "2"]
    assert lines[1].split() == ["figure", "figq", "figq"]
    config = lines[lines.index(next(ln for ln in lines if ln.startswith("config"))) :]
    assert [ln.split() for ln in config[1:5]] == [
        ["lr", "0.001", "0.01"],
        ["net", "vgg16", "alexnet"],
        ["opt.beta", "0.9", "0.5"],
        ["steps", "3", "4"],
    ]
    assert config[1].index("0.001") == config[2].index("vgg16")  # aligned columns
    result = next(i for i, ln in enumerate(lines) if ln.startswith("result"))
    assert lines[result].split() == ["result", "run", "1", "run", "2", "b", "-", "a"]
    assert lines[result + 1].split() == ["psnr_mean", "21", "30", "+9"]

    assert cli.main(["compare", "1", "4"]) == 0
    out = capsys.readouterr().out
    assert "only_r" in out and "(absent)" in out and "result: the same summary numbers" not in out


# ---------------------------------------------------------------------------------------------------------
# PostgreSQL
# ---------------------------------------------------------------------------------------------------------


def test_queries_on_postgresql(monkeypatch, postgres):
    """The same queries through a real PostgreSQL server (SACRED_DB_URL): names, dates and limits bound as
    PostgreSQL takes them."""
    monkeypatch.setenv("SACRED_DB_URL", postgres.url)
    ex = _experiment("figquery_pg")
    first = ex.run()
    second = ex.run(config_updates={"lr": 1e-2, "opt.beta": 0.5})
    a, b = str(first._id), str(second._id)
    mine = RunFilter(experiment="figquery_pg")
    assert ids(tracking.select(mine)) == [b, a]
    assert ids(tracking.select(RunFilter(experiment="figquery_pg", where=["lr=1e-3"]))) == [a]
    assert ids(tracking.select(RunFilter(experiment="figquery_pg", where=["opt.beta<0.9"], status="COMPLETED"))) == [b]
    start_b = tracking.get_run(b).start_time
    assert ids(tracking.select(RunFilter(experiment="figquery_pg", since=start_b))) == [b]
    assert ids(tracking.select(RunFilter(experiment="figquery_pg", until=start_b, limit=1))) == [b]
    df = tracking.runs_frame(mine)
    assert list(df["id"]) == [b, a] and list(df["result.psnr_mean"]) == [30.0, 21.0]
    m = tracking.metrics_frame(df["id"], names=["loss"])
    assert len(m) == 6 and list(m[m.run_id == a].value) == [1.0, 0.5, 1 / 3]
    d = tracking.compare(a, b)
    assert [x.key for x in d.config] == ["lr", "opt.beta"] and d.results[0].delta == 9.0
    assert cli.main(["runs", "--figure", "figquery_pg", "--where", "lr=0.01"]) == 0
