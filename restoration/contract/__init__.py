"""What a run hands its readers, in pure Python (no TensorFlow, no Sacred, no matplotlib).

* :mod:`restoration.contract.payload` - ``Payload`` (summary, per-image ``ImageScores``, tables, figures,
  ``Comparability``), stored as JSON in a run's ``info["report"]``;
* :mod:`restoration.contract.measures` - every reported number declared once: label, unit, direction, practical
  difference delta;
* :mod:`restoration.contract.registry` - the registry of thesis results (``experiments/registry.toml``): figures,
  claims, measures checked against each other.
"""
