"""The reproduction report: ``python -m restoration_reports [--run-missing] [--out out/report.html] [--pdf]``.

Reads ``experiments/registry.toml`` (data only; experiment modules are never imported), takes each figure's
latest completed Sacred run through :mod:`restoration.tracking`, and renders ``templates/report.html.j2``.

Modules: ``build`` (registry, model, rendering, PDF), ``runs`` (run source, failure summaries), ``claims``
(cross-figure claims such as "stacked beats end to end").
"""
