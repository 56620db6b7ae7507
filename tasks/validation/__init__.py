"""Validation statistics of satellite match-ups: metric definitions and their SQL over the lake.

* :mod:`tasks.validation.metrics` — the numpy reference implementation (the definition of every
  metric: bias, MAE, RMSD, percent differences, log-space bias/MAE, MdSA, OLS and RMA regressions,
  bootstrap intervals) and ``metrics_table`` for pandas frames.
* :mod:`tasks.validation.stats` — the same metrics as one DuckDB ``GROUP BY`` query: over the
  ``matchups`` table (read-only connection, bound filters) or over an external CSV/Parquet
  match-up table (ThoMaS, hypernets_val, SeaBASS exports), for ``oceanlake stats``.

Formulas and references: ``docs/validation.md``.
"""
