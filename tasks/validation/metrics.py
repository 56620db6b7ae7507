"""Validation metrics of satellite (S) against in situ (O) values: the numpy reference implementation.

This module is the definition; ``tasks.validation.stats`` computes the same numbers in DuckDB and
a test keeps both equal. With ``d = S - O`` over the ``n`` pairs where both values are finite:

=================  ===========================================================================
``n``              pairs with both values finite (NaN/inf pairs are dropped before everything)
``bias``           mean(d)  (same units as the values)
``median_bias``    median(d)
``mae``            mean(|d|)
``rmsd``           sqrt(mean(d**2))
``rpd``            100 * mean(d / O)               (hypernets_val "RPD"; pairs with O != 0)
``apd``            100 * mean(|d| / |O|)           (hypernets_val "APD" = HypernetsTara "MAPE")
``mapd``           100 * median(|d| / |O|)         (median absolute percent difference, O != 0)
``log_bias``       10 ** mean(log10(S/O))          (Seegers et al. 2018 multiplicative bias)
``log_mae``        10 ** mean(|log10(S/O)|)        (Seegers et al. 2018 multiplicative MAE)
``mdsa``           100 * (10 ** median(|log10(S/O)|) - 1)   (Morley et al. 2018 median symmetric accuracy)
``slope_ols``      OLS slope of S on O: Sxy / Sxx
``intercept_ols``  mean(S) - slope_ols * mean(O)
``slope_rma``      reduced major axis (type II, SMA): sign(Sxy) * sqrt(Syy / Sxx)
``intercept_rma``  mean(S) - slope_rma * mean(O)
``r``, ``r2``      Pearson correlation Sxy / sqrt(Sxx * Syy) and its square
``n_log_excluded`` pairs with S <= 0 or O <= 0, left out of every log-space metric
``sspb``           100 * sign(m) * (10 ** |m| - 1), m = median(log10(S/O))   (Morley et al. 2018)
=================  ===========================================================================

Log metrics use only the pairs where both values are positive; ``log_space=True`` computes the
regressions and ``r`` on (log10 O, log10 S) of those pairs too (chlorophyll). Degenerate cases give
NaN, never an exception: n = 0 (everything NaN, ``n`` = 0), n = 1 or a constant in situ side
(regressions and ``r`` NaN), a constant satellite side (``slope_rma`` and ``r`` NaN), no positive
pair (log metrics NaN).
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence

import numpy as np
import pandas as pd

#: Output metrics, in order (``metrics_table`` puts the group columns first).
METRIC_COLUMNS: tuple[str, ...] = (
    "n", "bias", "median_bias", "mae", "mapd", "rmsd", "rpd", "apd", "log_bias", "log_mae", "mdsa",
    "slope_ols", "intercept_ols", "slope_rma", "intercept_rma", "r", "r2", "n_log_excluded",
    "sspb",
)

#: Metrics that get bootstrap 95 % intervals (``<metric>_ci_low`` / ``<metric>_ci_high``).
CI_METRICS: tuple[str, ...] = ("bias", "mapd", "rmsd", "log_bias", "log_mae", "slope_rma")

#: Count columns (integers) among METRIC_COLUMNS.
COUNT_COLUMNS: tuple[str, ...] = ("n", "n_log_excluded")

# Bootstrap resamples are processed in blocks of at most this many values (memory bound).
_BLOCK_VALUES = 2_000_000


def ci_columns() -> tuple[str, ...]:
    """Names of the bootstrap interval columns, in output order."""
    return tuple(f"{m}_ci_{side}" for m in CI_METRICS for side in ("low", "high"))


def _finite_pairs(sat, insitu) -> tuple[np.ndarray, np.ndarray]:
    s = np.asarray(sat, dtype=float).ravel()
    o = np.asarray(insitu, dtype=float).ravel()
    if s.shape != o.shape:
        raise ValueError(f"sat and insitu differ in length ({s.size} != {o.size})")
    keep = np.isfinite(s) & np.isfinite(o)
    return s[keep], o[keep]


def _median(values: np.ndarray) -> float:
    return float(np.median(values)) if values.size else np.nan


def _mean(values: np.ndarray) -> float:
    return float(np.mean(values)) if values.size else np.nan


def _regression(x: np.ndarray, y: np.ndarray) -> dict[str, float]:
    """OLS and RMA regression of y on x, and Pearson r (NaN when a side has no variance)."""
    out = dict.fromkeys(("slope_ols", "intercept_ols", "slope_rma", "intercept_rma", "r", "r2"), np.nan)
    if x.size < 2 or np.ptp(x) == 0:
        return out
    mx, my = x.mean(), y.mean()
    sxx = float(np.sum((x - mx) ** 2))
    syy = float(np.sum((y - my) ** 2))
    sxy = float(np.sum((x - mx) * (y - my)))
    out["slope_ols"] = sxy / sxx
    out["intercept_ols"] = my - out["slope_ols"] * mx
    if np.ptp(y) > 0:
        out["slope_rma"] = float(np.sign(sxy)) * np.sqrt(syy / sxx)
        out["intercept_rma"] = my - out["slope_rma"] * mx
        out["r"] = sxy / np.sqrt(sxx * syy)
        out["r2"] = out["r"] ** 2
    return {k: float(v) for k, v in out.items()}


def _point_metrics(s: np.ndarray, o: np.ndarray, log_space: bool) -> dict[str, float]:
    d = s - o
    nonzero = o != 0
    rel = d[nonzero] / o[nonzero]
    positive = (s > 0) & (o > 0)
    log_s, log_o = np.log10(s[positive]), np.log10(o[positive])
    lr = log_s - log_o
    med_lr = _median(lr)
    out = {
        "n": int(s.size),
        "bias": _mean(d),
        "median_bias": _median(d),
        "mae": _mean(np.abs(d)),
        "mapd": 100 * _median(np.abs(rel)),
        "rmsd": float(np.sqrt(np.mean(d**2))) if d.size else np.nan,
        "rpd": 100 * _mean(rel),
        "apd": 100 * _mean(np.abs(rel)),
        "log_bias": 10 ** _mean(lr),
        "log_mae": 10 ** _mean(np.abs(lr)),
        "mdsa": 100 * (10 ** _median(np.abs(lr)) - 1),
        "n_log_excluded": int(s.size - lr.size),
        "sspb": 100 * float(np.sign(med_lr)) * (10 ** abs(med_lr) - 1),
    }
    out.update(_regression(log_o, log_s) if log_space else _regression(o, s))
    return {k: out[k] for k in METRIC_COLUMNS}


def _nan_regression_slope_rma(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Row-wise RMA slope of y on x for 2-D arrays with NaN marking excluded pairs."""
    valid = np.isfinite(x) & np.isfinite(y)
    count = valid.sum(axis=1)
    xv, yv = np.where(valid, x, 0.0), np.where(valid, y, 0.0)
    with np.errstate(invalid="ignore", divide="ignore"):
        mx = xv.sum(axis=1) / count
        my = yv.sum(axis=1) / count
        dx = np.where(valid, x - mx[:, None], 0.0)
        dy = np.where(valid, y - my[:, None], 0.0)
        sxx, syy, sxy = (dx**2).sum(axis=1), (dy**2).sum(axis=1), (dx * dy).sum(axis=1)
        xmin, xmax = np.where(valid, x, np.inf).min(axis=1), np.where(valid, x, -np.inf).max(axis=1)
        ymin, ymax = np.where(valid, y, np.inf).min(axis=1), np.where(valid, y, -np.inf).max(axis=1)
        slope = np.sign(sxy) * np.sqrt(syy / sxx)
    degenerate = (count < 2) | ~(xmax > xmin) | ~(ymax > ymin)
    return np.where(degenerate, np.nan, slope)


def _bootstrap_block(s: np.ndarray, o: np.ndarray, log_space: bool) -> dict[str, np.ndarray]:
    """CI metrics of each row of resampled 2-D arrays ``s``, ``o`` (one resample per row)."""
    d = s - o
    positive = (s > 0) & (o > 0)
    with np.errstate(invalid="ignore", divide="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        rel = np.where(o != 0, d / o, np.nan)
        lr = np.where(positive, np.log10(np.where(positive, s / o, 1.0)), np.nan)
        out = {
            "bias": d.mean(axis=1),
            "mapd": 100 * np.nanmedian(np.abs(rel), axis=1),
            "rmsd": np.sqrt((d**2).mean(axis=1)),
            "log_bias": 10 ** np.nanmean(lr, axis=1),
            "log_mae": 10 ** np.nanmean(np.abs(lr), axis=1),
        }
        if log_space:
            x = np.where(positive, np.log10(np.where(positive, o, 1.0)), np.nan)
            y = np.where(positive, np.log10(np.where(positive, s, 1.0)), np.nan)
            out["slope_rma"] = _nan_regression_slope_rma(x, y)
        else:
            out["slope_rma"] = _nan_regression_slope_rma(o, s)
    return out


def bootstrap_intervals(sat, insitu, *, log_space: bool = False, resamples: int = 1000,
                        seed: int = 0) -> dict[str, float]:
    """Percentile bootstrap 95 % intervals of the CI_METRICS (pairs resampled with replacement).

    Args:
        sat: satellite values.
        insitu: in situ values (same length).
        log_space: regression on log10 values (as in ``compute_metrics``).
        resamples: number of bootstrap resamples.
        seed: seed of ``numpy.random.default_rng`` (same seed, same intervals).

    Returns:
        ``<metric>_ci_low`` and ``<metric>_ci_high`` (2.5th and 97.5th percentiles of the resampled
        metric, NaN resamples ignored); all NaN when fewer than 2 pairs.
    """
    s, o = _finite_pairs(sat, insitu)
    out = dict.fromkeys(ci_columns(), np.nan)
    if s.size < 2 or resamples <= 0:
        return out
    rng = np.random.default_rng(seed)
    block = max(1, _BLOCK_VALUES // s.size)
    parts: dict[str, list[np.ndarray]] = {m: [] for m in CI_METRICS}
    for start in range(0, resamples, block):
        idx = rng.integers(0, s.size, size=(min(block, resamples - start), s.size))
        for name, values in _bootstrap_block(s[idx], o[idx], log_space).items():
            parts[name].append(values)
    for name in CI_METRICS:
        values = np.concatenate(parts[name])
        values = values[np.isfinite(values)]
        if values.size:
            low, high = np.percentile(values, [2.5, 97.5])
            out[f"{name}_ci_low"], out[f"{name}_ci_high"] = float(low), float(high)
    return out


def compute_metrics(sat, insitu, *, log_space: bool = False, bootstrap: int = 0, seed: int = 0) -> dict[str, float]:
    """Every validation metric of satellite values against in situ values (see the module docstring).

    Args:
        sat: satellite values (array-like).
        insitu: in situ values, same length; pairs with NaN/inf on either side are dropped first.
        log_space: compute ``slope_*``, ``intercept_*``, ``r``, ``r2`` on log10 values of the
            positive pairs (chlorophyll); log metrics always use the positive pairs only.
        bootstrap: number of bootstrap resamples for the 95 % intervals (0: none).
        seed: random seed of the bootstrap.

    Returns:
        ``{metric: value}`` for METRIC_COLUMNS (``n`` and ``n_log_excluded`` as ints), plus the
        ``<metric>_ci_low``/``_ci_high`` of CI_METRICS when ``bootstrap > 0``.

    Raises:
        ValueError: when ``sat`` and ``insitu`` differ in length.
    """
    s, o = _finite_pairs(sat, insitu)
    with np.errstate(invalid="ignore", divide="ignore"):
        out = _point_metrics(s, o, log_space)
    if bootstrap > 0:
        out.update(bootstrap_intervals(s, o, log_space=log_space, resamples=bootstrap, seed=seed))
    return out


def metrics_table(frame: pd.DataFrame, group_by: Sequence[str], *, sat_col: str = "sat_filtered_mean",
                  insitu_col: str = "insitu_value", log_space: bool = False, bootstrap: int = 0,
                  seed: int = 0) -> pd.DataFrame:
    """Metrics per group of a pandas frame of match-ups (one row per group, NULL group keys kept).

    Args:
        frame: one row per match-up.
        group_by: grouping columns (may be empty: one row for the whole frame).
        sat_col: column of satellite values.
        insitu_col: column of in situ values.
        log_space: regressions on log10 values (see ``compute_metrics``).
        bootstrap: bootstrap resamples per group for the CI columns (0: no CI columns).
        seed: random seed of the bootstrap.

    Returns:
        The group columns, METRIC_COLUMNS, then the CI columns when ``bootstrap > 0``; sorted by
        the group columns. A group whose pairs are all NaN has ``n`` = 0; without grouping there is
        always one row (as in the SQL path).

    Raises:
        KeyError: when a named column is missing from ``frame``.
    """
    group_by = list(group_by)
    missing = [c for c in (*group_by, sat_col, insitu_col) if c not in frame.columns]
    if missing:
        raise KeyError(f"columns {missing} are not in the frame; columns are: {list(frame.columns)}")
    columns = [*group_by, *METRIC_COLUMNS, *(ci_columns() if bootstrap > 0 else ())]
    rows = []
    if group_by:
        groups = frame.groupby(group_by, dropna=False, sort=True)
    else:
        groups = [((), frame)]
    for key, part in groups:
        key = key if isinstance(key, tuple) else (key,)
        metrics = compute_metrics(part[sat_col].to_numpy(dtype=float), part[insitu_col].to_numpy(dtype=float),
                                  log_space=log_space, bootstrap=bootstrap, seed=seed)
        rows.append({**dict(zip(group_by, key, strict=True)), **metrics})
    out = pd.DataFrame(rows, columns=columns)
    for name in COUNT_COLUMNS:
        out[name] = out[name].astype("int64")
    return out
