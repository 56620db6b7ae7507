"""Quality gates: physical ranges only for good QC, failing rows split off and labelled per object."""

from __future__ import annotations

from datetime import datetime, timedelta

import pyarrow as pa

import lake_schema
from tasks.quality import gate


def _rows(table, **columns):
    spec = lake_schema.table(table)
    n = len(next(iter(columns.values())))
    return pa.Table.from_pydict({c: columns.get(c, [None] * n) for c in spec.column_names}, schema=spec.arrow_schema())


def test_physical_range_applies_to_good_qc_only():
    rows = _rows("argo_measurements",
                 platform_number=["6903247"] * 4, cycle_number=[1] * 4, direction=["A"] * 4, profile_index=[0] * 4,
                 file_kind=["bgc-s"] * 4, parameter=["TEMP", "TEMP", "CHLA", "PSAL"],
                 value=[45.0, 45.0, 0.2, 38.0], qc=["1", "4", "1", "2"], pres=[5.0] * 4, pres_qc=["1"] * 4)
    result = gate("argo_measurements", rows)
    assert result.passed.num_rows == 3 and result.n_failed_rows == 1
    assert result.failed.column("qc").to_pylist() == ["1"]
    [rejection] = result.rejected
    assert rejection["label"] == "profile 6903247_1A #0 (bgc-s) TEMP"
    assert "TEMP with good QC outside the physical range [-2.5, 40.0]" in rejection["reason"]


def test_future_time_and_bad_latitude_are_rejected_with_reasons():
    now = datetime.utcnow()
    rows = _rows("argo_profiles", platform_number=["1", "2", "3"], cycle_number=[1, 1, 1], direction=["A"] * 3,
                 profile_index=[0] * 3, file_kind=["core"] * 3, latitude=[10.0, 95.0, 10.0], longitude=[0.0] * 3,
                 time=[now - timedelta(days=1), now - timedelta(days=1), now + timedelta(days=30)])
    result = gate("argo_profiles", rows)
    reasons = {r["label"].split()[1]: r["reason"] for r in result.rejected}
    assert result.passed.column("platform_number").to_pylist() == ["1"]
    assert "latitude outside" in reasons["2_1A"]
    assert "in the future" in reasons["3_1A"]


def test_empty_batch_passes():
    assert gate("argo_profiles", _rows("argo_profiles", platform_number=[])).passed.num_rows == 0
