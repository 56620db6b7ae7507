"""SQL path of the validation metrics: same numbers as the numpy reference, on frames, the lake and files."""

from __future__ import annotations

import math
from datetime import datetime

import duckdb
import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

from tasks.lake import Lake, conform
from tasks.query import run_query
from tasks.synthetic.matchups import matchup_rows
from tasks.validation.metrics import METRIC_COLUMNS, ci_columns, metrics_table
from tasks.validation.stats import file_columns, file_stats, lake_stats, stats_sql

RTOL = 1e-9  # DuckDB (streaming sums, Welford) vs numpy (pairwise / two-pass) on the same doubles


def assert_same_metrics(left: pd.DataFrame, right: pd.DataFrame, keys: list[str], rtol: float = RTOL) -> None:
    left = left.sort_values(keys, na_position="last").reset_index(drop=True)
    right = right.sort_values(keys, na_position="last").reset_index(drop=True)
    assert len(left) == len(right)
    for key in keys:
        assert left[key].astype(str).tolist() == right[key].astype(str).tolist(), key
    for name in METRIC_COLUMNS:
        a, b = left[name].to_numpy(dtype=float), right[name].to_numpy(dtype=float)
        np.testing.assert_allclose(a, b, rtol=rtol, atol=1e-12, equal_nan=True, err_msg=name)


@pytest.fixture
def awkward_frame() -> pd.DataFrame:
    """Groups with negatives, zeros, NaN/inf, a constant side, one row, only NaN, a NULL key."""
    rng = np.random.default_rng(11)
    n = 3000
    o = np.exp(rng.normal(-3, 1, n))
    s = o * 10 ** rng.normal(0.03, 0.15, n) + rng.normal(0, 0.01, n)
    frame = pd.DataFrame({"g": rng.integers(0, 6, n).astype(str), "wl": rng.choice([443.0, 560.0, np.nan], n),
                          "s": s, "o": o})
    frame.loc[::13, "s"] = np.nan
    frame.loc[::29, "o"] = np.inf
    frame.loc[7, "o"] = 0.0
    frame.loc[8, "o"] = -0.02
    extra = pd.DataFrame({
        "g": ["const", "const", "const", "one", "nan", "nan", "ysame", "ysame", "ysame"],
        "wl": [443.0] * 9,
        "s": [0.5, 0.7, 0.9, 0.3, np.nan, 1.0, 0.25, 0.25, 0.25],
        "o": [0.2, 0.2, 0.2, 0.4, 1.0, np.nan, 0.1, 0.2, 0.4],
    })
    return pd.concat([frame, extra], ignore_index=True)


@pytest.mark.parametrize("log_space", [False, True])
def test_sql_equals_numpy_reference(awkward_frame, log_space):
    con = duckdb.connect()
    con.register("frame", awkward_frame)
    sql_out = con.execute(stats_sql("frame", ["g", "wl"], sat='"s"', insitu='"o"', log_space=log_space)).df()
    ref = metrics_table(awkward_frame, ["g", "wl"], sat_col="s", insitu_col="o", log_space=log_space)
    assert_same_metrics(sql_out, ref, ["g", "wl"])
    assert sql_out.query("g == 'nan'")["n"].tolist() == [0]  # a group of NaN pairs only: n = 0, metrics NaN
    assert list(sql_out.columns) == ["g", "wl", *METRIC_COLUMNS]


def test_sql_without_groups_gives_one_row():
    con = duckdb.connect()
    out = con.execute(stats_sql("(SELECT 2.0 AS s, 1.0 AS o)", [], sat="s", insitu="o")).df()
    assert len(out) == 1 and out["n"].iloc[0] == 1 and out["bias"].iloc[0] == 1.0
    assert math.isnan(out["slope_ols"].iloc[0])
    empty = con.execute(stats_sql("(SELECT 2.0 AS s, 1.0 AS o WHERE false)", [], sat="s", insitu="o")).df()
    reference = metrics_table(pd.DataFrame({"s": [], "o": []}), [], sat_col="s", insitu_col="o")
    assert len(empty) == len(reference) == 1 and empty["n"].iloc[0] == reference["n"].iloc[0] == 0


# -- the lake --------------------------------------------------------------------------------------------


@pytest.fixture
def stats_lake(settings):
    rows = conform("matchups", matchup_rows(n_argo=300, n_sequences=12, seed=5))
    sat = rows.column("sat_filtered_mean").to_numpy(zero_copy_only=False).copy()
    sat[::37] = np.nan  # missing satellite values: dropped pairs, identically in the view and lake_stats
    rows = rows.set_column(rows.schema.get_field_index("sat_filtered_mean"), "sat_filtered_mean", pa.array(sat))
    with Lake(settings) as lake:
        lake.transaction(lambda con: lake.insert(con, "matchups", rows))
    return settings, rows.to_pandas()


def _used(frame: pd.DataFrame) -> pd.DataFrame:
    return frame[frame["passed"] & frame["is_primary"]]


@pytest.mark.parametrize("log_space", [False, True])
def test_lake_stats_equal_the_reference_on_the_same_rows(stats_lake, log_space):
    settings, frame = stats_lake
    keys = ["insitu_source", "product", "protocol", "variable", "wavelength"]
    out = lake_stats(settings, {}, keys, log_space=log_space)
    assert out.column_names == [*keys, *METRIC_COLUMNS]
    assert out.schema.field("n").type == pa.int64()
    ref = metrics_table(_used(frame), keys, log_space=log_space)
    assert_same_metrics(out.to_pandas(), ref, keys)
    argo = out.to_pandas().query("insitu_source == 'argo'")
    assert len(argo) == 1 and math.isnan(argo["wavelength"].iloc[0])  # chlorophyll rows have no band


def test_lake_filters_are_bound_parameters(stats_lake):
    settings, frame = stats_lake
    used = _used(frame)
    out = lake_stats(settings, {"product": "olci-l2-wfr", "wavelength": 443, "site": "VEIT"}, ["wavelength"])
    expected = used[(used["product"] == "olci-l2-wfr") & (used["site"] == "VEIT")
                    & ((used["wavelength"] - 443).abs() <= 1.0)]
    assert out.column("wavelength").to_pylist() == [442.5]
    assert out.column("n").to_pylist() == [len(expected)]
    assert lake_stats(settings, {"site": "VEIT' OR '1'='1"}, ["site"]).num_rows == 0


def test_lake_period_filters_and_month_grouping(stats_lake):
    settings, frame = stats_lake
    used = _used(frame)
    start, end = datetime(2024, 4, 1), datetime(2024, 6, 1)
    out = lake_stats(settings, {"insitu": "argo", "start": "2024-04-01", "end": end}, ["month"]).to_pandas()
    in_period = used[(used["insitu_source"] == "argo") & (used["time_insitu"] >= start) & (used["time_insitu"] < end)
                     & used["sat_filtered_mean"].notna()]
    assert out["n"].sum() == len(in_period)
    assert [m.month for m in out["month"]] == [4, 5]


def test_lake_stats_reuses_an_open_connection(stats_lake):
    from tasks.query import connect_readonly

    settings, _ = stats_lake
    con = connect_readonly(settings)
    try:
        first = lake_stats(settings, {"variable": "rho_w"}, ["site"], con=con)
        second = lake_stats(settings, {"variable": "chlor_a"}, ["site"], con=con)
    finally:
        con.close()
    assert first.num_rows == 3 and second.num_rows == 5


def test_lake_stats_bootstrap_adds_intervals(stats_lake):
    settings, _ = stats_lake
    out = lake_stats(settings, {"insitu": "argo"}, ["product"], log_space=True, bootstrap=50).to_pandas()
    plain = lake_stats(settings, {"insitu": "argo"}, ["product"], log_space=True).to_pandas()
    assert list(out.columns) == ["product", *METRIC_COLUMNS, *ci_columns()]
    assert_same_metrics(out, plain, ["product"])
    assert out["log_bias_ci_low"].iloc[0] < out["log_bias"].iloc[0] < out["log_bias_ci_high"].iloc[0]


def test_lake_stats_refuses_unknown_columns_and_filters(stats_lake):
    settings, _ = stats_lake
    with pytest.raises(KeyError, match="cannot group by 'site; DROP TABLE matchups'"):
        lake_stats(settings, {}, ["site; DROP TABLE matchups"])
    with pytest.raises(KeyError, match="unknown filter 'color'"):
        lake_stats(settings, {"color": "red"}, ["site"])


def test_matchup_stats_view_equals_lake_stats(stats_lake):
    settings, _ = stats_lake
    keys = ["insitu_source", "product", "protocol", "variable", "wavelength", "site", "month"]
    view = run_query(settings, "SELECT * FROM matchup_stats").to_pandas()
    assert list(view.columns) == [*keys, *METRIC_COLUMNS]
    assert_same_metrics(view, lake_stats(settings, {}, keys).to_pandas(), keys)
    # the README example: bias at 443 nm per site per month
    readme = run_query(settings, "SELECT site, month, n, bias FROM matchup_stats "
                                 "WHERE wavelength BETWEEN 442 AND 444 ORDER BY site, month").to_pandas()
    assert len(readme) and set(readme["site"]) == {"VEIT", "GAIT", "MAFR"}


# -- external tables ------------------------------------------------------------------------------------


def test_file_stats_on_csv_with_na_and_awkward_column_names(tmp_path):
    frame = pd.DataFrame({"band nm": [443, 443, 443, 560, 560], 'sat "v4"': ["0.010", "0.012", "NA", "0.004", "0.005"],
                          "ins": [0.011, 0.010, 0.02, 0.005, 0.004]})
    path = tmp_path / "external.csv"
    frame.to_csv(path, index=False)
    out = file_stats(path, "ins", 'sat "v4"', ["band nm"]).to_pandas()
    ref = metrics_table(frame.assign(s=pd.to_numeric(frame['sat "v4"'], errors="coerce")), ["band nm"],
                        sat_col="s", insitu_col="ins")
    assert_same_metrics(out, ref, ["band nm"])
    assert out["n"].tolist() == [2, 2]


def test_file_stats_on_parquet_with_log_space_and_bootstrap(tmp_path):
    rng = np.random.default_rng(4)
    chl = np.exp(rng.normal(0, 1, 120))
    frame = pd.DataFrame({"insitu_chl": chl, "sat_chl": chl * 10 ** rng.normal(0.1, 0.2, 120),
                          "region": rng.choice(["a", "b"], 120)})
    path = tmp_path / "thomas.parquet"
    frame.to_parquet(path)
    assert file_columns(path) == ["insitu_chl", "sat_chl", "region"]
    out = file_stats(path, "insitu_chl", "sat_chl", ["region"], log_space=True).to_pandas()
    assert_same_metrics(out, metrics_table(frame, ["region"], sat_col="sat_chl", insitu_col="insitu_chl",
                                           log_space=True), ["region"])
    boot = file_stats(path, "insitu_chl", "sat_chl", [], log_space=True, bootstrap=40).to_pandas()
    assert len(boot) == 1 and set(ci_columns()) <= set(boot.columns)


def test_file_stats_errors_name_the_problem(tmp_path):
    path = tmp_path / "t.csv"
    pd.DataFrame({"a": [1.0], "b": [2.0]}).to_csv(path, index=False)
    with pytest.raises(KeyError, match="no column 'c'; columns are: a, b"):
        file_stats(path, "a", "c")
    with pytest.raises(FileNotFoundError):
        file_stats(tmp_path / "missing.csv", "a", "b")
    (tmp_path / "t.xlsx").write_bytes(b"")
    with pytest.raises(ValueError, match="unsupported table type"):
        file_stats(tmp_path / "t.xlsx", "a", "b")


def test_readme_validation_sql_examples_run(stats_lake):
    """The `oceanlake sql` examples of README.md's "Validation statistics" subsection, run as written."""
    import re
    from pathlib import Path

    settings, _ = stats_lake
    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text()
    section = readme.split("### Validation statistics", 1)[1].split("\n## ", 1)[0]
    examples = re.findall(r'oceanlake sql "(.*?)"([^\n]*)', section, flags=re.S)
    assert len(examples) == 3
    results = []
    for sql, rest in examples:
        params = dict(re.findall(r"-p (\w+)=(\S+)", rest))
        params = {k: ("6990000" if k == "wmo" else v) for k, v in params.items()}  # a synthetic float
        results.append(run_query(settings, sql.replace("\\$", "$"), params))
    assert all(r.num_rows > 0 for r in results)
    assert results[2].column_names == ["product", "n", "log_mae"] and results[2].column("log_mae")[0].as_py() > 1
