"""The reproduction report: ``python -m restoration_reports [--run-missing] [--out out/report.html] [--pdf]``.

Reads ``experiments/registry.toml`` (data only; experiment modules are never imported), takes each figure's
latest completed Sacred run through :mod:`restoration.tracking`, and renders ``templates/report.html.j2``.

Modules: ``build`` (the report model from the registry and the runs, rendering; the entry :func:`build.build`),
``figure_section`` (one figure's section), ``claims_section`` (the claims' table and forest plot), ``formatting``
(numbers, times, pictures), ``runs`` (run sources, failure summaries), ``running`` (``--run-missing``), ``claims``
and ``evidence`` (verdicts on paired per-image scores over seeds), ``forest`` (their plot), ``sweeps`` (sweep
sections), ``text`` (typesetting), ``pdf``; ``plots/`` and ``tables/`` (presentation made from results);
``board`` (the runs in TensorBoard).
"""
