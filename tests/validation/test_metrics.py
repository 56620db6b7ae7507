"""Validation metrics: hand-computed values, edge cases (N=0, N=1, zeros and negatives in log space), bootstrap."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from tasks.validation.metrics import CI_METRICS, METRIC_COLUMNS, ci_columns, compute_metrics, metrics_table

CONTRACT_COLUMNS = ("n", "bias", "median_bias", "mae", "mapd", "rmsd", "rpd", "apd", "log_bias", "log_mae", "mdsa",
                    "slope_ols", "intercept_ols", "slope_rma", "intercept_rma", "r", "r2", "n_log_excluded")

# S = satellite, O = in situ: d = [-0.5, 0, 0.5, -1], d/O = [-1/3, 0, 1/5, -1/5], S/O = [2/3, 1, 6/5, 4/5]
SAT = [1.0, 2.0, 3.0, 4.0]
INSITU = [1.5, 2.0, 2.5, 5.0]
# x = O: mean 2.75, dx = [-1.25, -0.75, -0.25, 2.25]; y = S: mean 2.5, dy = [-1.5, -0.5, 0.5, 1.5]
# Sxx = 7.25 = 29/4, Syy = 5, Sxy = 5.5 = 11/2
HAND = {
    "n": 4,
    "bias": -0.25,
    "median_bias": -0.25,                         # median of [-1, -0.5, 0, 0.5]
    "mae": 0.5,
    "rmsd": math.sqrt(1.5 / 4),
    "rpd": 100 * (-1 / 3 + 0 + 0.2 - 0.2) / 4,
    "apd": 100 * (1 / 3 + 0 + 0.2 + 0.2) / 4,
    "mapd": 20.0,                                 # median of [0, 0.2, 0.2, 1/3]
    "log_bias": (2 / 3 * 1 * 1.2 * 0.8) ** 0.25,  # geometric mean of S/O
    "log_mae": (1.5 * 1 * 1.2 * 1.25) ** 0.25,    # geometric mean of max(S/O, O/S)
    "mdsa": 100 * (math.sqrt(1.2 * 1.25) - 1),    # median of |log10 S/O| = mean of log10 1.2 and log10 1.25
    "sspb": -100 * (math.sqrt(1.25) - 1),         # median of log10 S/O = mean of log10 0.8 and log10 1
    "slope_ols": 22 / 29,
    "intercept_ols": 2.5 - 22 / 29 * 2.75,
    "slope_rma": math.sqrt(5 / 7.25),
    "intercept_rma": 2.5 - math.sqrt(5 / 7.25) * 2.75,
    "r": 5.5 / math.sqrt(7.25 * 5),
    "r2": 5.5**2 / (7.25 * 5),
    "n_log_excluded": 0,
}


def test_contract_columns_come_first():
    assert METRIC_COLUMNS[: len(CONTRACT_COLUMNS)] == CONTRACT_COLUMNS
    assert set(CI_METRICS) == {"bias", "mapd", "rmsd", "log_bias", "log_mae", "slope_rma"}


def test_hand_computed_values():
    out = compute_metrics(SAT, INSITU)
    assert list(out) == list(METRIC_COLUMNS)
    for name, expected in HAND.items():
        assert out[name] == pytest.approx(expected, rel=1e-12, abs=1e-15), name


def test_log_space_regression_is_ols_and_rma_on_log10_values():
    sat = [1.0, 10.0, 100.0, 1000.0]
    insitu = [1.0, 10.0, 10.0, 100.0]
    out = compute_metrics(sat, insitu, log_space=True)
    # x = [0, 1, 1, 2], y = [0, 1, 2, 3]: Sxx = 2, Syy = 5, Sxy = 3
    assert out["slope_ols"] == pytest.approx(1.5)
    assert out["intercept_ols"] == pytest.approx(1.5 - 1.5 * 1.0)
    assert out["slope_rma"] == pytest.approx(math.sqrt(5 / 2))
    assert out["r"] == pytest.approx(3 / math.sqrt(10))
    # linear metrics do not change with log_space
    linear = compute_metrics(sat, insitu)
    for name in ("bias", "mae", "rmsd", "mapd", "log_bias", "mdsa"):
        assert out[name] == linear[name]


def test_empty_input_gives_nan_and_zero_counts():
    out = compute_metrics([], [])
    assert out["n"] == 0 and out["n_log_excluded"] == 0
    assert all(math.isnan(v) for k, v in out.items() if k not in ("n", "n_log_excluded"))


def test_only_nan_pairs_count_as_empty():
    out = compute_metrics([np.nan, 1.0, np.inf], [1.0, np.nan, 2.0])
    assert out["n"] == 0 and math.isnan(out["bias"])


def test_single_pair_has_metrics_but_no_regression():
    out = compute_metrics([2.0], [1.0])
    assert out["n"] == 1
    assert out["bias"] == 1.0 and out["mae"] == 1.0 and out["rmsd"] == 1.0 and out["mapd"] == 100.0
    assert out["log_bias"] == pytest.approx(2.0) and out["mdsa"] == pytest.approx(100.0)
    for name in ("slope_ols", "intercept_ols", "slope_rma", "intercept_rma", "r", "r2"):
        assert math.isnan(out[name]), name


def test_constant_insitu_gives_nan_regression_and_constant_sat_nan_rma():
    out = compute_metrics([1.0, 2.0, 3.0], [0.1, 0.1, 0.1])
    assert math.isnan(out["slope_ols"]) and math.isnan(out["slope_rma"]) and math.isnan(out["r"])
    out = compute_metrics([0.1, 0.1, 0.1], [1.0, 2.0, 3.0])
    assert out["slope_ols"] == pytest.approx(0.0, abs=1e-15)
    assert math.isnan(out["slope_rma"]) and math.isnan(out["r"])


def test_zeros_and_negatives_are_excluded_from_log_metrics_and_counted():
    sat = [1.0, 2.0, -0.5, 0.0, 4.0]
    insitu = [1.0, 1.0, 1.0, 2.0, -1.0]
    out = compute_metrics(sat, insitu)
    assert out["n"] == 5 and out["n_log_excluded"] == 3
    # log metrics from the pairs (1, 1) and (2, 1) only
    assert out["log_bias"] == pytest.approx(math.sqrt(2))
    assert out["log_mae"] == pytest.approx(math.sqrt(2))
    assert out["mdsa"] == pytest.approx(100 * (math.sqrt(2) - 1))
    # linear metrics use every pair
    assert out["bias"] == pytest.approx(np.mean([0, 1, -1.5, -2, 5]))
    # log-space regression uses the 2 positive pairs only: both in situ values are 1, no variance
    assert math.isnan(compute_metrics(sat, insitu, log_space=True)["slope_ols"])
    assert compute_metrics(sat, insitu)["slope_ols"] == pytest.approx(np.polyfit(insitu, sat, 1)[0])


def test_log_space_with_no_positive_pair_does_not_crash():
    out = compute_metrics([-1.0, 0.0, -3.0], [1.0, 2.0, 3.0], log_space=True)
    assert out["n"] == 3 and out["n_log_excluded"] == 3
    for name in ("log_bias", "log_mae", "mdsa", "sspb", "slope_ols", "slope_rma", "r"):
        assert math.isnan(out[name]), name
    assert out["bias"] == pytest.approx(np.mean([-2, -2, -6]))


def test_zero_insitu_is_left_out_of_percent_metrics():
    out = compute_metrics([1.0, 3.0], [0.0, 2.0])
    assert out["rpd"] == pytest.approx(50.0) and out["apd"] == pytest.approx(50.0) and out["mapd"] == pytest.approx(50)
    assert out["bias"] == pytest.approx(1.0)


def test_length_mismatch_raises():
    with pytest.raises(ValueError, match="differ in length"):
        compute_metrics([1.0, 2.0], [1.0])


def test_swapping_sides_gives_the_published_symmetries():
    """The identities HypernetsTara's X->Y / Y->X rows show: RMSD, MAE, MdSA symmetric, SSPB antisymmetric,
    RMA slope reciprocal, product of the two OLS slopes = r2."""
    rng = np.random.default_rng(3)
    o = np.exp(rng.normal(0, 0.5, 40))
    s = o * np.exp(rng.normal(0.1, 0.2, 40))
    a, b = compute_metrics(s, o), compute_metrics(o, s)
    for name in ("rmsd", "mae", "mdsa", "log_mae", "r", "r2"):
        assert a[name] == pytest.approx(b[name], rel=1e-12), name
    assert a["sspb"] == pytest.approx(-b["sspb"], rel=1e-12)
    assert a["bias"] == pytest.approx(-b["bias"], rel=1e-12)
    assert a["slope_rma"] * b["slope_rma"] == pytest.approx(1.0, rel=1e-12)
    assert a["slope_ols"] * b["slope_ols"] == pytest.approx(a["r2"], rel=1e-12)
    assert a["slope_rma"] == pytest.approx(math.sqrt(a["slope_ols"] / b["slope_ols"]), rel=1e-12)


def test_bootstrap_intervals_bracket_the_estimate_and_are_reproducible():
    rng = np.random.default_rng(0)
    o = np.exp(rng.normal(0, 0.5, 200))
    s = o * np.exp(rng.normal(0.05, 0.1, 200))
    out = compute_metrics(s, o, bootstrap=300, seed=7)
    assert set(ci_columns()) <= set(out)
    for name in CI_METRICS:
        assert out[f"{name}_ci_low"] <= out[name] <= out[f"{name}_ci_high"], name
    again = compute_metrics(s, o, bootstrap=300, seed=7)
    assert all(out[k] == again[k] for k in ci_columns())
    assert compute_metrics(s, o, bootstrap=300, seed=8)["bias_ci_low"] != out["bias_ci_low"]


def test_bootstrap_of_one_pair_is_nan():
    out = compute_metrics([1.0], [2.0], bootstrap=50)
    assert all(math.isnan(out[k]) for k in ci_columns())


def test_bootstrap_blocks_cover_every_resample(monkeypatch):
    import tasks.validation.metrics as metrics

    rng = np.random.default_rng(1)
    o = np.exp(rng.normal(0, 0.5, 50))
    s = o * 1.1
    whole = compute_metrics(s, o, bootstrap=64, seed=2)
    monkeypatch.setattr(metrics, "_BLOCK_VALUES", 50 * 5)  # 5 resamples per block
    blocked = compute_metrics(s, o, bootstrap=64, seed=2)
    assert all(whole[k] == pytest.approx(blocked[k]) for k in ci_columns())


def test_metrics_table_groups_keep_null_keys_and_order():
    frame = pd.DataFrame({
        "product": ["a", "a", "b", "b", "b", "a"],
        "wavelength": [443.0, 443.0, np.nan, np.nan, np.nan, 560.0],
        "sat_filtered_mean": [1.0, 2.0, 3.0, 4.0, 5.0, 1.0],
        "insitu_value": [1.0, 1.5, 3.0, 3.0, 6.0, 2.0],
    })
    out = metrics_table(frame, ["product", "wavelength"])
    assert list(out.columns) == ["product", "wavelength", *METRIC_COLUMNS]
    assert out["product"].tolist() == ["a", "a", "b"]
    assert out["n"].tolist() == [2, 1, 3] and out["n"].dtype == np.int64
    assert math.isnan(out["wavelength"].iloc[2])
    expected = compute_metrics([3.0, 4.0, 5.0], [3.0, 3.0, 6.0])
    assert out.iloc[2]["bias"] == pytest.approx(expected["bias"])


def test_metrics_table_without_groups_and_with_bootstrap():
    frame = pd.DataFrame({"s": SAT, "o": INSITU})
    out = metrics_table(frame, [], sat_col="s", insitu_col="o", bootstrap=20)
    assert len(out) == 1 and list(out.columns) == [*METRIC_COLUMNS, *ci_columns()]
    assert out.iloc[0]["rmsd"] == pytest.approx(HAND["rmsd"])


def test_metrics_table_empty_and_missing_columns():
    empty = metrics_table(pd.DataFrame({"g": [], "sat_filtered_mean": [], "insitu_value": []}), ["g"])
    assert len(empty) == 0 and list(empty.columns) == ["g", *METRIC_COLUMNS]
    whole = metrics_table(pd.DataFrame({"sat_filtered_mean": [], "insitu_value": []}), [])
    assert whole["n"].tolist() == [0] and math.isnan(whole["bias"].iloc[0])
    with pytest.raises(KeyError, match="not in the frame"):
        metrics_table(pd.DataFrame({"x": [1.0]}), ["g"])
