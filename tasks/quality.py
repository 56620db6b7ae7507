"""Quality gates: great-expectations suites (defined in ``lake_schema/suites``) run on every batch.

A gate returns the rows that passed and one rejection per failing object (a profile, a
parameter of a profile, a sequence) with the reasons, so the caller can quarantine them and
publish the rest.
"""

from __future__ import annotations

import logging
import os
import time
from collections import defaultdict
from dataclasses import dataclass, field
from functools import cache
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

import lake_schema
from tasks.lake import utc_now

log = logging.getLogger(__name__)


@dataclass
class GateResult:
    """Outcome of one quality gate on one batch.

    Attributes:
        passed: the rows that satisfy every expectation.
        failed: the rows that do not (None when all passed).
        rejected: ``{"row": index of the first failing row, "label": object label, "reason": text}``
            per failing object (rows of one object are merged).
        n_failed_rows: number of rows removed.
        n_expectations: number of expectations evaluated.
    """

    passed: pa.Table
    failed: pa.Table | None = None
    rejected: list[dict[str, Any]] = field(default_factory=list)
    n_failed_rows: int = 0
    n_expectations: int = 0


@cache
def _context():
    os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")
    import great_expectations as gx
    from great_expectations.data_context.types.base import ProgressBarsConfig

    logging.getLogger("great_expectations").setLevel(logging.WARNING)
    ctx = gx.get_context(mode="ephemeral")
    ctx.variables.progress_bars = ProgressBarsConfig(globally=False, metric_calculations=False)
    return ctx


def _bound(value: Any, params: dict[str, Any]) -> Any:
    if isinstance(value, str) and value.startswith("${") and value.endswith("}"):
        name = value[2:-1]
        if name not in params:
            raise KeyError(f"quality suite bound {value} needs the gate parameter {name!r}")
        return params[name]
    if value == "now":
        return pd.Timestamp(utc_now())
    if isinstance(value, str):
        return pd.Timestamp(value)
    return value


def _expectation_specs(suite: dict[str, Any], present: set[str] | None = None) -> list[dict[str, Any]]:
    """Expectation specs of a suite, with per-parameter physical ranges expanded.

    Args:
        suite: the suite definition.
        present: parameters present in the batch; ranges of absent parameters are not evaluated
            (they could not fail). None evaluates all.
    """
    specs = [dict(spec) for spec in suite.get("expectations", [])]
    good = suite.get("good_qc", ["1", "2", "5", "8"])
    for parameter, (low, high) in suite.get("physical_ranges", {}).items():
        if present is not None and parameter not in present:
            continue
        specs.append({
            "expectation": "expect_column_values_to_be_between",
            "column": "value",
            "min_value": low,
            "max_value": high,
            "row_condition": f'parameter=="{parameter}" and qc in {list(good)}',
            "reason": f"{parameter} with good QC outside the physical range [{low}, {high}]",
        })
    return specs


def _columns(spec: dict[str, Any]) -> set[str]:
    """Columns an expectation reads."""
    return {spec[k] for k in ("column", "column_A", "column_B") if k in spec} | set(spec.get("column_list", ()))


def _build_suite(name: str, specs: list[dict[str, Any]], params: dict[str, Any]):
    import great_expectations as gx

    suite = gx.ExpectationSuite(name=f"oceanlake-{name}")
    for spec in specs:
        kwargs = {k: v for k, v in spec.items() if k not in {"expectation", "reason"}}
        for bound in ("min_value", "max_value"):
            if bound in kwargs:
                kwargs[bound] = _bound(kwargs[bound], params)
        if "row_condition" in kwargs:
            kwargs["condition_parser"] = "pandas"
        cls_name = "".join(part.title() for part in spec["expectation"].split("_"))
        suite.add_expectation(getattr(gx.expectations, cls_name)(**kwargs))
    return suite


@cache
def _batch_definition(table_name: str):
    """The (reused) great-expectations batch definition of a table: a whole pandas dataframe."""
    source = _context().data_sources.add_or_update_pandas(f"oceanlake-{table_name}")
    return source.add_dataframe_asset("batch").add_batch_definition_whole_dataframe("whole")


_SUITES: dict[tuple, tuple[float, Any]] = {}


def _suite(table_name: str, variant: tuple[str, ...], specs: list[dict[str, Any]], params: dict[str, Any]):
    """The built suite of this table and set of expectations (rebuilt each minute: "now" bounds)."""
    key = (table_name, variant, tuple(sorted(params.items())))
    built = _SUITES.get(key)
    if built is None or time.monotonic() - built[0] > 60:
        built = _SUITES[key] = (time.monotonic(), _build_suite(table_name, specs, params))
    return built[1]


def _label(template: str, row: dict[str, Any]) -> str:
    values = {k: ("" if v is None or (isinstance(v, float) and np.isnan(v)) else v) for k, v in row.items()}
    return template.format_map(defaultdict(str, values))


def _frame(rows: pa.Table) -> pd.DataFrame:
    """Pandas view for great-expectations.

    Low-cardinality strings become categoricals (fast row conditions), timestamps naive UTC.
    """
    frame = rows.to_pandas()
    for col in frame.columns:
        if pd.api.types.is_datetime64_any_dtype(frame[col]):
            frame[col] = frame[col].astype("datetime64[us]")
        elif frame[col].dtype == object or pd.api.types.is_string_dtype(frame[col]):
            if frame[col].nunique(dropna=True) < 256:
                frame[col] = frame[col].astype("category")
    return frame


def gate(table_name: str, rows: pa.Table, params: dict[str, Any] | None = None) -> GateResult:
    """Validate ``rows`` of ``table_name`` against its suite; split passed rows from rejections.

    Args:
        table_name: the table (its suite is ``lake_schema/suites/<table_name>.yaml``).
        rows: the batch.
        params: values of the suite's ``${name}`` bounds (e.g. the protocol's time window).
    """
    params = params or {}
    suite_def = lake_schema.suite(table_name)
    present = set(pc.unique(rows.column("parameter")).to_pylist()) if "parameter" in rows.column_names else None
    specs = _expectation_specs(suite_def, present)
    if rows.num_rows == 0:
        return GateResult(passed=rows, n_expectations=len(specs))
    needed = set().union(*(_columns(s) for s in specs)) | {"parameter", "qc", "pres_qc"} & set(rows.column_names)
    needed = sorted(needed)
    frame = _frame(rows.select([c for c in needed if c in rows.column_names]))

    batch = _batch_definition(table_name).get_batch(batch_parameters={"dataframe": frame})
    suite = _suite(table_name, tuple(s.get("row_condition", "") for s in specs), specs, params)
    # Most batches pass: a cheap boolean run first, the row-level run only when something failed.
    if batch.validate(suite, result_format="BOOLEAN_ONLY").success:
        return GateResult(passed=rows, n_expectations=len(specs))
    result = batch.validate(suite, result_format="COMPLETE")

    reasons: dict[int, list[str]] = defaultdict(list)
    for spec, outcome in zip(specs, result.results, strict=True):
        if outcome.success:
            continue
        indices = outcome.result.get("unexpected_index_list") or []
        for idx in indices:
            reasons[int(idx)].append(spec["reason"])
        if not indices and outcome.exception_info and outcome.exception_info.get("raised_exception"):
            raise RuntimeError(f"quality suite {table_name}: {spec['expectation']} on {sorted(_columns(spec))} "
                               f"failed to run: {outcome.exception_info.get('exception_message')}")
    if not reasons:
        return GateResult(passed=rows, n_expectations=len(specs))

    failed = np.zeros(rows.num_rows, dtype=bool)
    failed[list(reasons)] = True
    template = suite_def["object"]
    label_cols = [c for c in rows.column_names if "{" + c + "}" in template]
    failed_rows = rows.take(pa.array(np.flatnonzero(failed))).select(label_cols).to_pylist()
    merged: dict[str, dict[str, Any]] = {}
    for idx, row in zip(np.flatnonzero(failed), failed_rows, strict=True):
        label = _label(template, row)
        entry = merged.setdefault(label, {"row": int(idx), "label": label, "reasons": {}, "count": 0})
        entry["count"] += 1
        for reason in reasons[int(idx)]:
            entry["reasons"][reason] = None
    rejected = [{"row": e["row"], "label": e["label"],
                 "reason": "; ".join(e["reasons"]) + (f" ({e['count']} rows)" if e["count"] > 1 else "")}
                for e in merged.values()]
    mask = pa.array(failed)
    passed = rows.filter(pc.invert(mask))
    log.info("quality gate %s: %d rows rejected in %d objects", table_name, int(failed.sum()), len(rejected))
    return GateResult(passed=passed, failed=rows.filter(mask), rejected=rejected,
                      n_failed_rows=int(failed.sum()), n_expectations=len(specs))
