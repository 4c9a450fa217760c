"""What a run hands its readers, in pure Python (no TensorFlow, no Sacred, no matplotlib).

* :mod:`restoration.results.payload` - ``Payload`` (summary, per-image ``ImageScores``, tables, figures,
  ``Comparability``), stored as JSON in a run's ``info["report"]``;
* :mod:`restoration.results.measures` - every reported number declared once: label, unit, direction, practical
  difference delta;
* :mod:`restoration.results.registry` - the registry of thesis results (``experiments/registry.toml``): figures,
  claims, measures checked against each other.
"""
