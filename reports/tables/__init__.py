"""Report tables built from results (presentation only): :mod:`restoration_reports.tables.stacks` (trained inversion),
:mod:`restoration_reports.tables.preimage` (M&V pre-images), :mod:`restoration_reports.tables.benchmark` (the thesis's
closing table)."""
