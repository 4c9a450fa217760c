"""Report tables built from results (presentation only): :mod:`reports.tables.stacks` (trained inversion),
:mod:`reports.tables.preimage` (M&V pre-images), :mod:`reports.tables.benchmark` (the thesis's closing table)."""
