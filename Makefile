# deep-restoration. `make report` reproduces what has no run yet (quick profile) and renders out/report.html and
# out/report.pdf;
# `make test` runs the tests. Every target installs what it needs into .venv first.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed
PROFILE ?= quick
ARGS   ?=

.PHONY: board browser claims install lint test postgres-server pdf-libs report report-pdf sweep bench clean benchmark runs help reproduce-all reproduce-benchmark
.DEFAULT_GOAL := help

help:
	@echo "make report                 reproduce missing figures (quick); render out/report.html and out/report.pdf"
	@echo "make test                   lint (ruff, import contracts) and run the test suite"
	@echo "make reproduce-figure-N     run figure N (PROFILE=quick|thesis, ARGS='image_dir=...')"
	@echo "make reproduce-ID           run any registered result by id, e.g. reproduce-fig11_vgg16"
	@echo "make reproduce-all          run every registered result in order; prints each wall time and the total"
	@echo "make reproduce-benchmark    the thesis's benchmark table (every method x depth x metric; reuses finished cells)"
	@echo "make claims                 every claim's arms for seeds 0..N-1 (N=3; CLAIMS='id ...' to choose); then make report"
	@echo "make sweep SWEEP=name        run a declared sweep on Dask (CLUSTER=local|serial|slurm|tcp://host:8786)"
	@echo "make bench                  every hot path in float32 and bfloat16 vs the matmul rate (appends benchmarks/results.jsonl)"
	@echo "make benchmark              run the benchmarks in benchmarks/"
	@echo "make runs                   list runs in the database"
	@echo "make board                  the runs in TensorBoard (scalars, images, HParams, text) on 127.0.0.1"
	@echo "make clean                  remove out/ and caches (keeps runs/ and .venv)"

$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e ".[test]"
	touch $(STAMP)

install: $(STAMP)

test: lint postgres-server pdf-libs browser
	$(PY) -m pytest -q

# ruff lint and format check (pyproject.toml [tool.ruff]) and the import contracts (.importlinter: layers, no cycles, Sacred only in
# tracking, science without matplotlib or the payload)
lint: $(STAMP)
	$(VENV)/bin/ruff check --no-cache .
	$(VENV)/bin/ruff format --check --no-cache .
	$(VENV)/bin/lint-imports

# The PostgreSQL tests start their own server (tests/pg.py) and need Debian's server package; installed here when
# missing and possible (root with apt), else those tests skip and say why.
postgres-server:
	@ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || command -v initdb >/dev/null 2>&1 || \
	  { [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null && \
	    (apt-get install -y -q postgresql >/dev/null 2>&1 || (apt-get update -q >/dev/null && apt-get install -y -q postgresql >/dev/null)) \
	    && echo "installed postgresql (for the PostgreSQL tests)"; } || \
	  echo "note: PostgreSQL server binaries not found and not installable here; the PostgreSQL tests will skip"

# The TensorBoard view's browser test drives Debian's headless chromium through chromium-driver; installed here when
# missing and possible (root with apt), else that test skips and says why.
browser:
	@command -v chromedriver >/dev/null 2>&1 || \
	  { [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null && \
	    (apt-get install -y -q chromium chromium-driver >/dev/null 2>&1 || (apt-get update -q >/dev/null && apt-get install -y -q chromium chromium-driver >/dev/null)) \
	    && echo "installed chromium and chromium-driver (for the TensorBoard browser test)"; } || \
	  echo "note: chromium-driver not found and not installable here; the TensorBoard browser test will skip"

# The runs in TensorBoard: event files in out/tensorboard/ from the run database, then TensorBoard on 127.0.0.1
# (ARGS='--follow' keeps running runs' curves growing; '--no-serve' writes only)
board: $(STAMP)
	$(PY) -m restoration_reports.board $(ARGS)

reproduce-figure-%: $(STAMP)
	$(PY) -m restoration_experiments $* with $(PROFILE) $(ARGS)

reproduce-all: $(STAMP)
	$(PY) -m restoration_experiments --all --profile $(PROFILE) $(if $(ARGS),-- $(ARGS))

# The benchmark needs the full512 image prior: trained first (quick profile) when runs/priors/ lacks it.
reproduce-benchmark: $(STAMP)
	@$(PY) -c "import sys; from restoration import tracking; sys.exit(0 if (tracking.runs_dir() / 'priors' / 'full512').is_dir() else 1)" \
	  || $(PY) -m restoration_experiments prior_full512 with quick
	$(PY) -m restoration_experiments benchmark with $(PROFILE) $(ARGS)

reproduce-%: $(STAMP)
	$(PY) -m restoration_experiments $* with $(PROFILE) $(ARGS)

report: $(STAMP) pdf-libs
	$(PY) -m restoration_reports --run-missing --out out/report.html --pdf

report-pdf: report

# WeasyPrint (the PDF engine, from PyPI) draws text with the system's Pango; installed here when missing and
# possible (root with apt), else the line below says what to install (the HTML report is written regardless).
pdf-libs: $(STAMP)
	@$(PY) -c "import sys; from restoration_reports.pdf import engine_problem; sys.exit(1 if engine_problem() else 0)" 2>/dev/null || \
	  { [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null && \
	    (apt-get install -y -q libpango-1.0-0 libpangoft2-1.0-0 fonts-dejavu-core >/dev/null 2>&1 || \
	     (apt-get update -q >/dev/null && apt-get install -y -q libpango-1.0-0 libpangoft2-1.0-0 fonts-dejavu-core >/dev/null)) \
	    && echo "installed Pango (libpango-1.0-0, libpangoft2-1.0-0) for the PDF report"; } || \
	  $(PY) -c "from restoration_reports.pdf import engine_problem; print('note: no PDF report possible here:', engine_problem())"

# Replicate seeds for the claims (experiments/claims.py), sequentially within BUDGET of wall time: 3 seeds for
# every claim, then seeds to the undecided claims closest to a decision (looks at 5, 8, 12), reusing completed
# runs of the current code; `make report` then judges each claim. N=5: a fixed design, seeds 0..4, no sequence.
BUDGET ?= 45m
N      ?=
CLAIMS ?=
claims: $(STAMP)
	$(PY) -m restoration_experiments --claims --budget $(BUDGET) $(if $(N),--n $(N)) $(if $(CLAIMS),--only $(CLAIMS)) --cluster $(CLUSTER)

# A grid of config values ([sweeps.<name>] in experiments/registry.toml) as Sacred runs on Dask; reruns skip
# what completed. SLURM: make sweep SWEEP=name CLUSTER=slurm SLURM=queue=defq,cores=8,jobs=4 (PostgreSQL needed).
CLUSTER ?= local
SLURM   ?=
sweep: $(STAMP)
	@test -n "$(SWEEP)" || { echo "usage: make sweep SWEEP=<name>; declared sweeps:"; $(PY) -m restoration_experiments --sweep --list; exit 2; }
	$(PY) -m restoration_experiments --sweep $(SWEEP) --cluster $(CLUSTER) $(if $(SLURM),--slurm $(SLURM))

bench: $(STAMP)
	$(PY) benchmarks/bench.py $(ARGS)

benchmark: $(STAMP)
	@for b in benchmarks/bench_*.py; do echo "== $$b"; $(PY) $$b || exit 1; done

runs: $(STAMP)
	$(PY) -m restoration runs

clean:
	rm -rf out .pytest_cache build *.egg-info
	find . -name __pycache__ -not -path './.venv/*' -exec rm -rf {} +
