"""Validation metrics as one DuckDB ``GROUP BY`` query: over the lake's ``matchups`` or an external table.

The numbers are those of :func:`tasks.validation.metrics.compute_metrics` (a test keeps them equal):
the query computes, per group, counts, means, medians (``median`` = ``quantile_cont(0.5)``, the same
interpolation as numpy) and the regression sums ``regr_sxx``/``regr_syy``/``regr_sxy``, then derives
the OLS and RMA slopes and ``r`` from them (a side with no variance: ``regr_sxx``/``regr_syy`` exactly 0 with
DuckDB's streaming algorithm, the numpy reference checks ``ptp == 0``).

Safety: user values (product, site, dates, file paths) are bound as ``$name`` parameters, never
formatted into SQL; column names come from a whitelist (the ``matchups`` columns) or from the
file's own columns, and are quoted as identifiers.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path

import duckdb
import pandas as pd
import pyarrow as pa

import lake_schema
from tasks.config import Settings
from tasks.validation.metrics import COUNT_COLUMNS, METRIC_COLUMNS, metrics_table

#: Default grouping of ``oceanlake stats`` and ``lake_stats``.
DEFAULT_GROUP_BY: tuple[str, ...] = ("product", "protocol", "variable", "wavelength")

#: Derived grouping columns of the lake (name -> SQL expression on ``matchups``).
DERIVED_GROUPS: dict[str, str] = {
    "month": "date_trunc('month', time_insitu)",
    "year": "year(time_insitu)",
}

#: Filters of ``lake_stats`` (name -> SQL condition with its bound parameter).
LAKE_FILTERS: dict[str, str] = {
    "product": "product = $product",
    "protocol": "protocol = $protocol",
    "insitu": "insitu_source = $insitu",
    "variable": "variable = $variable",
    "wavelength": "wavelength BETWEEN $wavelength - $wavelength_tolerance AND $wavelength + $wavelength_tolerance",
    "site": "site = $site",
    "insitu_id": "insitu_id = $insitu_id",
    "start": "time_insitu >= $start",
    "end": "time_insitu < $end",
}

#: A ``--wavelength`` filter matches bands within this distance (nm): 443 finds OLCI's 442.5.
WAVELENGTH_TOLERANCE_NM = 1.0

_EXTERNAL_SUFFIXES = {".csv": "read_csv", ".tsv": "read_csv", ".txt": "read_csv", ".parquet": "read_parquet",
                      ".pq": "read_parquet"}


def quote_identifier(name: str) -> str:
    """A SQL identifier in double quotes (embedded quotes doubled)."""
    return '"' + name.replace('"', '""') + '"'


@dataclass(frozen=True)
class GroupColumn:
    """One output grouping column: its name and the SQL expression computing it."""

    name: str
    expression: str


def _aggregates(log_space: bool) -> str:
    x, y = ("log10(insitu)", "log10(sat)") if log_space else ("insitu", "sat")
    positive = "sat > 0 AND insitu > 0"
    rx = f"CASE WHEN {positive} THEN {x} END" if log_space else x
    ry = f"CASE WHEN {positive} THEN {y} END" if log_space else y
    return f"""
        count(diff) AS n,
        count(log_ratio) AS n_log,
        avg(diff) AS bias,
        median(diff) AS median_bias,
        avg(abs(diff)) AS mae,
        median(abs(rel)) AS med_abs_rel,
        avg(diff * diff) AS mean_sq,
        avg(rel) AS mean_rel,
        avg(abs(rel)) AS mean_abs_rel,
        avg(log_ratio) AS mean_lr,
        avg(abs(log_ratio)) AS mean_abs_lr,
        median(log_ratio) AS med_lr,
        median(abs(log_ratio)) AS med_abs_lr,
        regr_sxx({ry}, {rx}) AS sxx,
        regr_syy({ry}, {rx}) AS syy,
        regr_sxy({ry}, {rx}) AS sxy,
        regr_avgx({ry}, {rx}) AS avgx,
        regr_avgy({ry}, {rx}) AS avgy,
        regr_count({ry}, {rx}) AS n_reg"""


_FINAL = """
        n,
        bias,
        median_bias,
        mae,
        100 * med_abs_rel AS mapd,
        sqrt(mean_sq) AS rmsd,
        100 * mean_rel AS rpd,
        100 * mean_abs_rel AS apd,
        pow(10, mean_lr) AS log_bias,
        pow(10, mean_abs_lr) AS log_mae,
        100 * (pow(10, med_abs_lr) - 1) AS mdsa,
        CASE WHEN n_reg >= 2 AND sxx > 0 THEN sxy / sxx END AS slope_ols,
        CASE WHEN n_reg >= 2 AND sxx > 0 THEN avgy - sxy / sxx * avgx END AS intercept_ols,
        CASE WHEN n_reg >= 2 AND sxx > 0 AND syy > 0 THEN sign(sxy) * sqrt(syy / sxx) END AS slope_rma,
        CASE WHEN n_reg >= 2 AND sxx > 0 AND syy > 0 THEN avgy - sign(sxy) * sqrt(syy / sxx) * avgx END
            AS intercept_rma,
        CASE WHEN n_reg >= 2 AND sxx > 0 AND syy > 0 THEN sxy / sqrt(sxx * syy) END AS r,
        CASE WHEN n_reg >= 2 AND sxx > 0 AND syy > 0 THEN sxy * sxy / (sxx * syy) END AS r2,
        n - n_log AS n_log_excluded,
        100 * sign(med_lr) * (pow(10, abs(med_lr)) - 1) AS sspb"""


def stats_sql(source: str, group_by: Sequence[GroupColumn | str], *, sat: str = '"sat_filtered_mean"',
              insitu: str = '"insitu_value"', where: str = "true", log_space: bool = False) -> str:
    """The grouped metrics query (CTEs ``source -> paired -> renamed -> aggregated -> final``).

    Args:
        source: a relation built by this module (a table name or ``read_parquet($path)``); never
            user text.
        group_by: grouping columns; plain strings are column names (quoted here), ``GroupColumn``
            carries its own trusted expression.
        sat: SQL expression of the satellite value (already quoted / cast by the caller).
        insitu: SQL expression of the in situ value.
        where: trusted SQL condition on the source rows, with ``$name`` placeholders for user values.
        log_space: regression and ``r`` on log10 values of the positive pairs.

    Returns:
        One SELECT statement whose columns are the group columns then METRIC_COLUMNS, ordered by
        the group columns.
    """
    groups = [g if isinstance(g, GroupColumn) else GroupColumn(g, quote_identifier(g)) for g in group_by]
    names = [quote_identifier(g.name) for g in groups]
    select_groups = "".join(f"{g.expression} AS {n}, " for g, n in zip(groups, names, strict=True))
    keys = ", ".join(names)
    group_clause = f"GROUP BY {keys}" if names else ""
    order_clause = f"ORDER BY {', '.join(f'{n} NULLS LAST' for n in names)}" if names else ""
    return f"""
WITH source AS (
    SELECT {select_groups}CAST({sat} AS DOUBLE) AS sat, CAST({insitu} AS DOUBLE) AS insitu
    FROM {source}
    WHERE {where}
),
paired AS (
    SELECT * REPLACE (
        CASE WHEN isfinite(sat) AND isfinite(insitu) THEN sat END AS sat,
        CASE WHEN isfinite(sat) AND isfinite(insitu) THEN insitu END AS insitu)
    FROM source
),
renamed AS (
    SELECT *,
        sat - insitu AS diff,
        CASE WHEN insitu <> 0 THEN (sat - insitu) / insitu END AS rel,
        CASE WHEN sat > 0 AND insitu > 0 THEN log10(sat) - log10(insitu) END AS log_ratio
    FROM paired
),
aggregated AS (
    SELECT {keys}{"," if names else ""}{_aggregates(log_space)}
    FROM renamed
    {group_clause}
),
final AS (
    SELECT {keys}{"," if names else ""}{_FINAL}
    FROM aggregated
)
SELECT * FROM final
{order_clause}
"""


def _result_table(result: duckdb.DuckDBPyConnection) -> pa.Table:
    """Arrow table of a stats query, with NULL metrics as NaN and counts as int64."""
    table = result.arrow()
    table = table.read_all() if hasattr(table, "read_all") else table
    columns = []
    for name in table.column_names:
        column = table.column(name)
        if name in COUNT_COLUMNS:
            column = column.cast(pa.int64())
        elif name in METRIC_COLUMNS:
            column = column.cast(pa.float64()).fill_null(float("nan"))
        columns.append(column)
    return pa.table(columns, names=table.column_names)


def _with_bootstrap(pairs: pd.DataFrame, group_names: Sequence[str], *, log_space: bool, bootstrap: int,
                    seed: int = 0) -> pa.Table:
    """Metrics and bootstrap intervals of fetched (group..., sat, insitu) rows, with the numpy path."""
    frame = metrics_table(pairs, group_names, sat_col="sat", insitu_col="insitu", log_space=log_space,
                          bootstrap=bootstrap, seed=seed)
    return pa.Table.from_pandas(frame, preserve_index=False)


def _pairs_sql(source: str, groups: Sequence[GroupColumn], sat: str, insitu: str, where: str) -> str:
    select_groups = "".join(f"{g.expression} AS {quote_identifier(g.name)}, " for g in groups)
    return f"SELECT {select_groups}CAST({sat} AS DOUBLE) AS sat, CAST({insitu} AS DOUBLE) AS insitu " \
           f"FROM {source} WHERE {where}"


# -- the lake ------------------------------------------------------------------------------------------


def lake_group_columns(group_by: Sequence[str]) -> list[GroupColumn]:
    """Validate grouping names against the ``matchups`` columns and the derived ``month``/``year``.

    Raises:
        KeyError: naming the unknown column and listing the valid ones.
    """
    columns = lake_schema.table("matchups").column_names
    out = []
    for name in group_by:
        if name in DERIVED_GROUPS:
            out.append(GroupColumn(name, DERIVED_GROUPS[name]))
        elif name in columns:
            out.append(GroupColumn(name, quote_identifier(name)))
        else:
            valid = ", ".join([*DERIVED_GROUPS, *columns])
            raise KeyError(f"cannot group by {name!r}: not a matchups column; valid: {valid}")
    return out


def _to_datetime(value) -> datetime:
    if isinstance(value, datetime):
        return value.replace(tzinfo=None)
    if isinstance(value, date):
        return datetime(value.year, value.month, value.day)
    return datetime.fromisoformat(str(value).replace("Z", "")).replace(tzinfo=None)


def lake_where(filters: Mapping[str, object] | None) -> tuple[str, dict[str, object]]:
    """The WHERE condition and bound parameters of ``lake_stats`` filters (None values are ignored).

    Always restricted to ``passed AND is_primary`` (the rows statistics are made of).

    Raises:
        KeyError: for an unknown filter name (the valid ones are listed).
    """
    conditions = ["passed", "is_primary"]
    params: dict[str, object] = {}
    for name, value in (filters or {}).items():
        if value is None:
            continue
        if name not in LAKE_FILTERS:
            raise KeyError(f"unknown filter {name!r}; filters are: {', '.join(LAKE_FILTERS)}")
        conditions.append(LAKE_FILTERS[name])
        if name in ("start", "end"):
            params[name] = _to_datetime(value)
        elif name == "wavelength":
            params[name] = float(value)
            params["wavelength_tolerance"] = WAVELENGTH_TOLERANCE_NM
        else:
            params[name] = str(value)
    return " AND ".join(conditions), params


def lake_stats(settings: Settings, filters: Mapping[str, object] | None = None,
               group_by: Sequence[str] = DEFAULT_GROUP_BY, log_space: bool = False, bootstrap: int = 0,
               *, con: duckdb.DuckDBPyConnection | None = None, seed: int = 0) -> pa.Table:
    """Validation metrics of the lake's primary passed match-ups, grouped, on a read-only connection.

    Args:
        settings: lake settings.
        filters: optional ``product``, ``protocol``, ``insitu`` (source), ``variable``, ``wavelength``
            (nm, +-1 nm), ``site``, ``insitu_id``, ``start`` (inclusive), ``end`` (exclusive); values
            are bound as parameters.
        group_by: ``matchups`` columns and/or ``month``, ``year``.
        log_space: regressions on log10 values (chlorophyll).
        bootstrap: resamples for 95 % intervals (computed with the numpy reference on the fetched
            pairs); 0 = one SQL aggregate query only.
        con: an open connection from ``tasks.query.connect_readonly`` to reuse (not closed here).
        seed: random seed of the bootstrap.

    Returns:
        One row per group: group columns, METRIC_COLUMNS (+ CI columns when ``bootstrap > 0``).

    Raises:
        KeyError: unknown grouping column or filter.
    """
    from tasks.query import connect_readonly

    groups = lake_group_columns(group_by)
    where, params = lake_where(filters)
    own = con is None
    con = connect_readonly(settings) if own else con
    try:
        if bootstrap > 0:
            pairs = con.execute(_pairs_sql("matchups", groups, '"sat_filtered_mean"', '"insitu_value"', where),
                                params or None).df()
            return _with_bootstrap(pairs, [g.name for g in groups], log_space=log_space, bootstrap=bootstrap,
                                   seed=seed)
        return _result_table(con.execute(stats_sql("matchups", groups, where=where, log_space=log_space),
                                         params or None))
    finally:
        if own:
            con.close()


# -- external match-up tables ---------------------------------------------------------------------------


def _reader(path: Path) -> str:
    try:
        return _EXTERNAL_SUFFIXES[path.suffix.lower()]
    except KeyError:
        raise ValueError(f"{path}: unsupported table type {path.suffix!r}; use .csv/.tsv/.txt or .parquet") from None


def file_columns(path: str | Path, con: duckdb.DuckDBPyConnection | None = None) -> list[str]:
    """Column names of an external CSV/Parquet match-up table."""
    path = Path(path)
    own = con is None
    con = duckdb.connect() if own else con
    try:
        return [row[0] for row in con.execute(f"DESCRIBE SELECT * FROM {_reader(path)}($path)",
                                              {"path": str(path)}).fetchall()]
    finally:
        if own:
            con.close()


def file_stats(path: str | Path, insitu_col: str, sat_col: str, group_by: Sequence[str] = (),
               log_space: bool = False, bootstrap: int = 0, *, seed: int = 0) -> pa.Table:
    """The same metrics on an external match-up table (ThoMaS, hypernets_val, SeaBASS-derived CSV/Parquet).

    Values that are not numbers (``NA``, empty) are treated as missing, so their pairs are dropped.

    Args:
        path: a ``.csv``/``.tsv``/``.txt`` (delimiter sniffed) or ``.parquet`` file.
        insitu_col: column of in situ values.
        sat_col: column of satellite values.
        group_by: grouping columns of the file (e.g. ``wavelength``).
        log_space: regressions on log10 values.
        bootstrap: resamples for 95 % intervals (numpy reference path).
        seed: random seed of the bootstrap.

    Returns:
        One row per group: group columns, METRIC_COLUMNS (+ CI columns when ``bootstrap > 0``).

    Raises:
        FileNotFoundError: the file does not exist.
        ValueError: unsupported file type.
        KeyError: a named column is not in the file (its columns are listed).
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such file")
    reader = _reader(path)
    con = duckdb.connect(config={"autoinstall_known_extensions": False, "autoload_known_extensions": False})
    try:
        columns = file_columns(path, con)
        missing = [c for c in (insitu_col, sat_col, *group_by) if c not in columns]
        if missing:
            raise KeyError(f"{path.name}: no column {', '.join(map(repr, missing))}; columns are: {', '.join(columns)}")
        source = f"{reader}($path)"
        sat = f"TRY_CAST({quote_identifier(sat_col)} AS DOUBLE)"
        insitu = f"TRY_CAST({quote_identifier(insitu_col)} AS DOUBLE)"
        params = {"path": str(path)}
        if bootstrap > 0:
            groups = [GroupColumn(g, quote_identifier(g)) for g in group_by]
            pairs = con.execute(_pairs_sql(source, groups, sat, insitu, "true"), params).df()
            return _with_bootstrap(pairs, list(group_by), log_space=log_space, bootstrap=bootstrap, seed=seed)
        return _result_table(con.execute(stats_sql(source, list(group_by), sat=sat, insitu=insitu,
                                                   log_space=log_space), params))
    finally:
        con.close()
