"""The report builder end to end on a throw-away Sacred database.

Tiny fake experiments run through ``tracking.make_experiment`` with ``RESTORATION_RUNS_DIR`` pointing at
``tmp_path``: two completed ones (fig05, fig06) that store a report payload, a PNG artifact and metrics, one
that fails for want of AlexNet weights (fig01), and one registry entry that was never run (fig02).
"""

from __future__ import annotations

import re
import textwrap

import pytest

from restoration_reports import __main__ as cli
from restoration_reports import build
from restoration_reports.runs import summarize_failure
from fake_runs import BETTER, REGISTRY, WEIGHTS_MESSAGE, WORSE, _populate


@pytest.fixture(scope="module")
def registry(tmp_path_factory):
    path = tmp_path_factory.mktemp("registry") / "registry.toml"
    path.write_text(REGISTRY)
    return path


@pytest.fixture
def report_html(tmp_path, monkeypatch, registry):
    _populate(tmp_path / "runs", monkeypatch, fig05=WORSE, fig06=BETTER)
    out = build.build(tmp_path / "out" / "report.html", registry=registry)
    return out.read_text()


def _section(html: str, fig_id: str) -> str:
    """The <article> of one figure."""
    m = re.search(rf'<article class="figure-section" id="{fig_id}">(.*?)</article>', html, re.S)
    assert m, f"no section for {fig_id}"
    return m.group(1)


def test_completed_figure_renders_payload_and_provenance(report_html):
    sec = _section(report_html, "fig06")
    # the heading is the registry's title (its one source), not the title the run stored
    assert "Fig. 6: stacked" in sec and "fig06: VGG16 pool1 inversion" not in sec
    assert "HED" in sec and "not ImageNet classification weights" in sec
    assert "Paragraph of fig06 with &lt;markup&gt;." in sec  # escaped, not injected
    assert re.search(r'<img src="data:image/png;base64,[A-Za-z0-9+/=]{200,}"', sec)
    assert "Reconstructions of fig06." in sec
    assert re.search(r"artifact <code>never_saved.png</code> of run \d+ not found", sec)
    # table: title, header and numbers formatted with shared decimals per column
    assert "Per-image scores of fig06" in sec
    assert ">21.23<" in sec and ">19.50<" in sec and ">0.6123<" in sec
    # summary and loss curves
    assert "PSNR, mean (dB)" in sec and ">20.25<" in sec
    assert "Logged metrics of run" in sec and "train/loss" in sec
    # provenance: run id, commit, config, start, duration, host
    assert "Provenance: run" in sec and "Git commit" in sec and "Host" in sec and "Started" in sec
    assert "&#34;profile&#34;: &#34;quick&#34;" in sec or '"profile": "quick"' in sec
    from restoration import tracking

    rec = tracking.latest_completed_run("fig06")
    assert f"Provenance: run {rec.id}" in sec
    if rec.commit:
        assert rec.commit in sec


def test_report_top_says_which_weights(report_html):
    head = report_html[: report_html.index('<nav class="toc"')]
    assert "HED" in head and "not the ImageNet classification weights" in head


def test_missing_and_failed_figures_say_why(report_html):
    assert "No completed run." in _section(report_html, "fig02")
    assert "python -m restoration_experiments fig02 with quick" in _section(report_html, "fig02")
    failed = _section(report_html, "fig01")
    assert f"needs AlexNet weights: {WEIGHTS_MESSAGE}" in failed
    assert "Traceback" in failed


def test_numbered_figures_tables_and_contents(report_html):
    numbers = [int(n) for n in re.findall(r'<span class="fignum">Figure (\d+)\.</span>', report_html)]
    # fig05: 3 payload figures; fig06: 2 + curves
    assert numbers == list(range(1, len(numbers) + 1)) and len(numbers) == 6
    assert re.findall(r'<span class="fignum">Table (\d+)\.</span>', report_html) == ["1", "2"]
    e2e = _section(report_html, "fig05")  # has its own loss figure: logged metrics folded, not numbered
    assert "Own loss figure." in e2e and "All logged metrics" in e2e
    assert "All logged metrics" not in _section(report_html, "fig06")
    toc = report_html[report_html.index('<nav class="toc"') : report_html.index("</nav>")]
    for fig_id in ("fig01", "fig02", "fig05", "fig06"):
        assert f'href="#{fig_id}"' in toc


@pytest.mark.parametrize("fig05, fig06, sign", [(WORSE, BETTER, "+"), (BETTER, WORSE, "-")])
def test_claim_with_one_run_per_side_is_exploratory_with_the_effect_oriented(
    tmp_path, monkeypatch, registry, fig05, fig06, sign
):
    """One run per side (seed 7) and no per-image scores: the effect is the difference of the stored means, oriented
    towards the expected side, and the verdict is exploratory, never held."""
    _populate(tmp_path / "runs", monkeypatch, fig05=fig05, fig06=fig06)
    html = build.build(tmp_path / "report.html", registry=registry).read_text()
    chapter = html[html.index('id="sec-trained-inversion"') :]
    claim = re.search(r'<p class="claim[^"]*"><strong>Claim.</strong> (.*?)</p>', chapter, re.S).group(1)
    claim = claim.replace("&#34;", '"')
    assert claim.startswith("“Stacked beats end to end”: exploratory (under 3 seeds) (1 seed, summary means)")
    assert chapter.index("Claim.") < chapter.index('id="fig05"')  # at the top of the section
    assert f"PSNR {sign}1.75 dB (1 seed)" in claim and f"SSIM {sign}0.125 (1 seed)" in claim
    table = html[html.index('<section id="claims"') : html.index('<section id="reproduced"')]
    row = re.search(r'id="claim-stacked_beats_end_to_end">(.*?)</tr>', table, re.S).group(1)
    assert "verdict-exploratory-under-3-seeds" in row and "1 seed (7)" in row and "summary means" in row
    assert f"PSNR {sign}1.75 dB (1 seed) <em>exploratory (under 3 seeds)</em>" in row
    b, w = (BETTER, WORSE) if sign == "+" else (WORSE, BETTER)
    assert f"means {b['psnr_mean']:.4g} dB vs {w['psnr_mean']:.4g} dB" in row
    assert "norm. error" in row and "(shown)" in row  # PSNR's family: shown, not voting
    other = re.search(r'id="claim-alexnet_claim">(.*?)</tr>', table, re.S).group(1)
    assert "not run: fig01: needs AlexNet weights</td>" in other
    assert "How a claim is judged" in table and 'id="claims-forest"' in table
    assert "1 exploratory (under 3 seeds), 1 not run." in html
    assert "run make claims: 3 seeds give the first look" in row


def test_run_missing_reports_a_failing_experiment(tmp_path, monkeypatch, registry):
    """--run-missing runs `python -m restoration_experiments <fig> with quick`; a crash before Sacred starts is
    shown."""
    monkeypatch.setenv("RESTORATION_RUNS_DIR", str(tmp_path / "runs"))
    fake = tmp_path / "proj" / "restoration_experiments"
    fake.mkdir(parents=True)
    (fake / "__init__.py").write_text("")
    (fake / "__main__.py").write_text(
        textwrap.dedent("""
        import sys
        print("args:", sys.argv[1:])
        raise SystemExit("ImportError: fake experiment cannot start for " + sys.argv[1])
    """)
    )
    from restoration_reports.runs import TrackingSource

    source = TrackingSource()
    entries = build.load_registry(registry).figures[:1]
    attempts = build.run_missing(entries, source, cwd=tmp_path / "proj", log=lambda s: None, echo=None)
    assert attempts["fig01"].returncode != 0
    assert "fake experiment cannot start for fig01" in attempts["fig01"].output_tail
    report = build.collect(entries, source, attempts=attempts)
    fig = report.sections[0].figures[0]
    assert fig.status == "failed" and "did not reach the database" in fig.failure["headline"]


def test_run_missing_timeout_stops_the_child_with_sigterm_first(tmp_path, monkeypatch, registry):
    """A child past --timeout gets SIGTERM (a real experiment then marks its run INTERRUPTED and keeps its
    checkpoints); here one that handles it and says so."""
    monkeypatch.setenv("RESTORATION_RUNS_DIR", str(tmp_path / "runs"))
    fake = tmp_path / "proj" / "restoration_experiments"
    fake.mkdir(parents=True)
    (fake / "__init__.py").write_text("")
    (fake / "__main__.py").write_text(
        textwrap.dedent("""
        import signal, sys, time
        def stop(signum, frame):
            print("got SIGTERM", flush=True)
            sys.exit(5)
        signal.signal(signal.SIGTERM, stop)
        print("started", flush=True)
        time.sleep(60)
    """)
    )
    from restoration_reports.runs import TrackingSource

    entries = build.load_registry(registry).figures[:1]
    attempts = build.run_missing(
        entries, TrackingSource(), cwd=tmp_path / "proj", timeout=3, log=lambda s: None, echo=None
    )
    tail = attempts["fig01"].output_tail
    assert attempts["fig01"].returncode == 5 and "got SIGTERM" in tail
    assert "stopped (SIGTERM; the run is marked INTERRUPTED" in tail and attempts["fig01"].seconds < 30


def _page_texts(pdf_path):
    from pypdf import PdfReader

    reader = PdfReader(str(pdf_path))
    return reader, [page.extract_text() or "" for page in reader.pages]


def test_cli_writes_the_pdf_page_by_page(tmp_path, monkeypatch, registry, capsys):
    """`--pdf` writes report.pdf beside report.html: a title page, contents with page numbers, the summary, one
    chapter per section, the appendix; no page blank; every figure of the HTML drawn in it."""
    _populate(tmp_path / "runs", monkeypatch, fig05=WORSE, fig06=BETTER)
    out = tmp_path / "out" / "report.html"
    assert cli.main(["--registry", str(registry), "--out", str(out), "--pdf"]) == 0
    pdf = out.with_suffix(".pdf")
    assert "wrote " + str(pdf) in capsys.readouterr().out
    reader, texts = _page_texts(pdf)
    # title, contents, summary (claims, reproduced, not), 2 chapters, appendix: each starts a page
    assert 6 <= len(texts) <= 12
    assert "Inverting deep image representations" in texts[0] and f"1 / {len(texts)}" not in texts[0]  # no footer
    for number, text in enumerate(texts[1:], start=2):
        assert f"{number} / {len(texts)}" in text, f"page {number} has no page number"
        body = text.replace(f"{number} / {len(texts)}", "").replace("Reproduction report", "")
        assert len(body.split()) >= 8 or reader.pages[number - 1].images, f"page {number} is blank"
    # contents: every chapter with the page it starts on
    toc = re.sub(r"[ \t]+", " ", texts[1])
    chapters = {
        "Summary": "Summary",
        "1 Optimisation inversion": "Optimisation inversion",
        "2 Trained inversion": "Trained inversion",
        "Appendix": "Appendix: provenance of every run",
    }
    for entry, heading in chapters.items():
        m = re.search(re.escape(entry) + r"[^\n]*?(\d+)\s*$", toc, re.M)
        assert m, f"{entry!r} not in the contents with a page number:\n{toc}"
        page = int(m.group(1))
        assert heading in texts[page - 1].split("\n", 3)[-1] or heading in texts[page - 1], (entry, page)
    # every figure of the HTML is drawn, and every numbered caption is there
    html = out.read_text()
    printed = html
    while True:  # what print shows: <details> (folded provenance and metrics) are hidden, innermost first
        folded = re.sub(r"<details\b(?:(?!<details\b).)*?</details>", "", printed, flags=re.S)
        if folded == printed:
            break
        printed = folded
    n_img = printed.count("<img ")
    drawn = sum(len(re.findall(rb"/\w+ Do\b", page.get_contents().get_data())) for page in reader.pages)
    assert n_img >= 3 and drawn == n_img
    everything = "\n".join(texts)
    for number in re.findall(r'<span class="fignum">Figure (\d+)\.</span>', html):
        assert f"Figure {number}." in everything
    # the appendix (its pages, to the end) names each shown run with its commit, seed, precision and machine:
    # fig05, fig06 and failed fig01
    start = int(re.search(r"Appendix[^\n]*?(\d+)\s*$", toc, re.M).group(1))
    appendix = "\n".join(texts[start - 1 :])
    assert "Appendix: provenance of every run" in appendix
    assert appendix.count("Seed") == 3 and appendix.count("Commit") == 3
    assert appendix.count("Precision") == 3 and appendix.count("Machine") == 3


def test_pdf_engine_missing_is_one_line_and_keeps_the_html(tmp_path, monkeypatch, registry, capsys):
    monkeypatch.setenv("RESTORATION_RUNS_DIR", str(tmp_path / "empty-runs"))
    from restoration_reports import pdf

    monkeypatch.setattr(pdf, "engine_problem", lambda: "WeasyPrint cannot load a system library (x): " + pdf.PANGO_HINT)
    out = tmp_path / "r.html"
    (tmp_path / "r.pdf").write_bytes(b"%PDF-old")
    assert cli.main(["--registry", str(registry), "--out", str(out), "--pdf"]) == cli.EXIT_NO_PDF == 3
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "apt-get install libpango-1.0-0" in err
    assert out.read_text().count("No completed run.") == 4
    assert (tmp_path / "r.pdf").read_bytes() == b"%PDF-old"  # the earlier PDF is left as it was


def test_failure_summary_and_number_formatting():
    trace = (
        'Traceback (most recent call last):\n  File "x.py", line 1, in <module>\n'
        "restoration.errors.WeightsNotFoundError: AlexNet weights not found at w/bvlc_alexnet.npy"
    )
    assert summarize_failure(trace).headline == "needs AlexNet weights: AlexNet weights not found at w/bvlc_alexnet.npy"
    assert summarize_failure("Traceback...\nValueError: bad layer").headline == "failed with ValueError: bad layer"
    strings, numeric = build.format_column([1234.5678, 0.5, None, float("inf")])
    assert numeric and strings == ["1\u2009235", "0", "—", "∞"]
    assert build.format_column([0.61234, 0.5])[0] == ["0.6123", "0.5000"]
    assert build.format_column(["a", 1])[1] is False
    assert build.format_column([1e-6, 2e-6])[0] == ["1.000e-06", "2.000e-06"]


def test_a_pinned_run_is_shown_instead_of_the_newest_and_the_appendix_says_so(tmp_path, monkeypatch, registry):
    from fake_runs import _fake_experiment

    from restoration import tracking

    _populate(tmp_path / "runs", monkeypatch, fig05=WORSE, fig06=BETTER)
    first = next(r for r in tracking.select() if r.experiment == "fig06")
    _fake_experiment("fig06", WORSE).run()  # a newer completed run with other numbers
    out = tmp_path / "out" / "report.html"
    assert cli.main(["--registry", str(registry), "--out", str(out)]) == 0
    assert "18.5" in _section(out.read_text(), "fig06")  # by default: the newest
    assert cli.main(["--registry", str(registry), "--out", str(out), "--pin", f"fig06={first.id}"]) == 0
    html = out.read_text()
    assert "20.25" in _section(html, "fig06") and f"{first.id} (pinned, completed" in html
    pins = tmp_path / "pins.txt"
    pins.write_text(f"# the runs the thesis chapter uses\nfig06 = {first.id}\n")
    assert cli.main(["--registry", str(registry), "--out", str(out), "--pins", str(pins)]) == 0
    assert "20.25" in _section(out.read_text(), "fig06")


@pytest.mark.parametrize(
    "pin, message",
    [
        ("fig06=999", "no run 999"),
        ("fig06", "is not FIGURE=RUN_ID"),
        ("fig99=1", "'fig99' is not a registered figure"),
        ("fig05=FIG06", "is not FIGURE=RUN_ID"),
    ],
)
def test_a_bad_pin_is_one_line(tmp_path, monkeypatch, registry, capsys, pin, message):
    _populate(tmp_path / "runs", monkeypatch, fig05=WORSE, fig06=BETTER)
    assert cli.main(["--registry", str(registry), "--out", str(tmp_path / "r.html"), "--pin", pin]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and message in err


def test_a_pin_of_another_figures_run_is_refused(tmp_path, monkeypatch, registry, capsys):
    from restoration import tracking

    _populate(tmp_path / "runs", monkeypatch, fig05=WORSE, fig06=BETTER)
    fig05 = next(r for r in tracking.select() if r.experiment == "fig05")
    assert cli.main(["--registry", str(registry), "--out", str(tmp_path / "r.html"), "--pin", f"fig06={fig05.id}"]) == 1
    assert f"run {fig05.id} is fig05, not fig06" in capsys.readouterr().err
