"""Validation figures: scatter, mean spectra, map, time series of differences, protocol funnel.

Each function takes a pandas DataFrame of ``matchups`` rows (the table's column names), draws one
figure, writes it as a PNG and returns the path. Figures are plain :class:`matplotlib.figure.Figure`
objects on an Agg canvas (no pyplot state, no display, safe in threads). Regression lines and
statistics come from :func:`tasks.validation.metrics.compute_metrics`, the same numbers as the
report's statistics table.

The map is a longitude/latitude plot with a graticule only: no coastlines, since cartopy and the
Natural Earth data need a download and the lake works offline.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable, Mapping
from pathlib import Path

import numpy as np
import pandas as pd
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.dates import AutoDateLocator, ConciseDateFormatter
from matplotlib.figure import Figure
from matplotlib.ticker import FuncFormatter

from tasks.validation.metrics import compute_metrics

#: Chlorophyll variables: log10 axes and log-space regression (log-normally distributed).
LOG_VARIABLES = frozenset({"chlor_a", "chl_nn", "chl_oc4me"})
#: Decision criteria in the order the engine evaluates them (docs/matchups.md); others follow, sorted.
CRITERIA = ("time_difference", "valid_pixels", "homogeneity", "solar_zenith", "viewing_zenith", "band_mismatch",
            "insitu_missing")
#: Above this many points a scatter panel is drawn as a hexbin density plot.
DENSITY_THRESHOLD = 500
#: Resolution of the PNG files (dots per inch).
DPI = 100
SAT_COL, INSITU_COL = "sat_filtered_mean", "insitu_value"
_PASSED, _FAILED, _SAT, _INSITU = "#1a9850", "#d73027", "#d95f02", "#1b9e77"


def is_log_variable(variable: str) -> bool:
    """True for chlorophyll variables (plotted on log axes, regression on log10 values)."""
    return variable in LOG_VARIABLES


def _figure(width: float, height: float) -> Figure:
    fig = Figure(figsize=(width, height), dpi=DPI, layout="constrained")
    FigureCanvasAgg(fig)
    return fig


def _save(fig: Figure, out: Path) -> Path:
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, format="png", dpi=DPI, facecolor="white")
    return out


def _grid(n: int, *, ncols: int = 4, size: float = 3.4, extra_height: float = 0.0) -> tuple[Figure, list]:
    """A figure with ``n`` panels on a grid of at most ``ncols`` columns; unused panels hidden."""
    ncols = max(1, min(ncols, n))
    nrows = math.ceil(n / ncols)
    fig = _figure(size * ncols, size * nrows + extra_height)
    axes = np.atleast_1d(fig.subplots(nrows, ncols, squeeze=False)).ravel().tolist()
    for ax in axes[n:]:
        ax.set_visible(False)
    return fig, axes[:n]


def _unit(frame: pd.DataFrame) -> str:
    units = frame["unit"].dropna().unique() if "unit" in frame else []
    return str(units[0]) if len(units) else ""


def _label(name: str, unit: str) -> str:
    return f"{name} [{unit}]" if unit and unit != "1" else name


def _title(frame: pd.DataFrame, what: str) -> str:
    parts = [", ".join(map(str, frame[c].dropna().unique())) for c in ("product", "protocol") if c in frame]
    return f"{what} — " + " / ".join(p for p in parts if p) if any(parts) else what


def _wavelength_label(wavelength: float) -> str:
    return f"{wavelength:g} nm"


def _empty_axes(ax, text: str) -> None:
    ax.text(0.5, 0.5, text, ha="center", va="center", transform=ax.transAxes, color="0.4")
    ax.set_xticks([])
    ax.set_yticks([])


# -- scatter ------------------------------------------------------------------------------------------


def _one_to_one_range(x: np.ndarray, y: np.ndarray, log: bool) -> tuple[float, float]:
    lo, hi = float(min(x.min(), y.min())), float(max(x.max(), y.max()))
    if log:
        lo, hi = math.log10(lo), math.log10(hi)
    pad = max((hi - lo) * 0.05, 0.05 if log else abs(hi) * 0.05 or 1e-6)
    lo, hi = lo - pad, hi + pad
    return (10 ** lo, 10 ** hi) if log else (lo, hi)


def _regression(ax, metrics: Mapping[str, float], kind: str, line: np.ndarray, log: bool, style: dict) -> None:
    slope, intercept = metrics.get(f"slope_{kind}", np.nan), metrics.get(f"intercept_{kind}", np.nan)
    if not (np.isfinite(slope) and np.isfinite(intercept)):
        return
    y = 10 ** (intercept + slope * np.log10(line)) if log else intercept + slope * line
    label = f"{kind.upper()}: y = {slope:.3g}x {'+' if intercept >= 0 else '−'} {abs(intercept):.3g}"
    ax.plot(line, y, label=label + (" (log10)" if log else ""), **style)


def _stats_text(metrics: Mapping[str, float], log: bool) -> str:
    def fmt(key: str, spec: str = ".3g") -> str:
        value = metrics.get(key, np.nan)
        return format(value, spec) if value is not None and np.isfinite(value) else "–"

    if log:
        lines = [f"N = {int(metrics.get('n', 0))}", f"bias = ×{fmt('log_bias')}", f"MdSA = {fmt('mdsa', '.1f')} %",
                 f"MAPD = {fmt('mapd', '.1f')} %", f"r² = {fmt('r2', '.2f')} (log10)"]
    else:
        lines = [f"N = {int(metrics.get('n', 0))}", f"bias = {fmt('bias')}", f"RMSD = {fmt('rmsd')}",
                 f"MAPD = {fmt('mapd', '.1f')} %", f"r² = {fmt('r2', '.2f')}"]
    return "\n".join(lines)


def _scatter_panel(ax, x: np.ndarray, y: np.ndarray, *, log: bool, density_threshold: int) -> None:
    """One scatter panel: points or hexbin density, 1:1, OLS and RMA lines, a statistics box."""
    keep = np.isfinite(x) & np.isfinite(y) & ((x > 0) & (y > 0) if log else True)
    metrics = compute_metrics(y[keep], x[keep], log_space=log) if keep.any() else {"n": 0}
    x, y = x[keep], y[keep]
    if x.size == 0:
        _empty_axes(ax, "no passed match-up")
        return
    lo, hi = _one_to_one_range(x, y, log)
    if x.size > density_threshold:
        extent = (math.log10(lo), math.log10(hi)) * 2 if log else (lo, hi) * 2
        hb = ax.hexbin(x, y, gridsize=40, bins="log", mincnt=1, cmap="viridis", extent=extent,
                       xscale="log" if log else "linear", yscale="log" if log else "linear")
        bar = ax.figure.colorbar(hb, ax=ax, shrink=0.7)
        bar.set_label("match-ups per cell", fontsize=8)
        plain = FuncFormatter(lambda v, _: f"{v:g}")
        bar.ax.yaxis.set_major_formatter(plain)
        bar.ax.yaxis.set_minor_formatter(plain)
        bar.ax.tick_params(which="both", labelsize=7)
    else:
        ax.scatter(x, y, s=12, alpha=0.6, color="#3366aa", edgecolors="none", zorder=2)
        if log:
            ax.set_xscale("log")
            ax.set_yscale("log")
    line = np.geomspace(lo, hi, 50) if log else np.linspace(lo, hi, 50)
    ax.plot(line, line, color="0.2", lw=1, ls="--", label="1:1", zorder=3)
    _regression(ax, metrics, "ols", line, log, {"color": "#e7298a", "lw": 1.3, "zorder": 4})
    _regression(ax, metrics, "rma", line, log, {"color": "#d95f02", "lw": 1.3, "ls": "-.", "zorder": 4})
    ax.set_xlim(lo, hi)
    ax.set_ylim(lo, hi)
    ax.set_aspect("equal", adjustable="box")
    ax.text(0.03, 0.97, _stats_text(metrics, log), transform=ax.transAxes, va="top", ha="left", fontsize=7,
            bbox={"boxstyle": "round", "facecolor": "white", "alpha": 0.8, "edgecolor": "0.7"}, zorder=5)
    ax.legend(loc="lower right", fontsize=6, framealpha=0.8)
    ax.grid(True, which="major", alpha=0.3)


def scatter_figure(frame: pd.DataFrame, out: Path, *, density_threshold: int = DENSITY_THRESHOLD,
                   sat_col: str = SAT_COL, insitu_col: str = INSITU_COL) -> Path:
    """Satellite vs in situ scatter of one variable; one panel per band for spectral variables.

    Chlorophyll (``LOG_VARIABLES``) is drawn on log10 axes with the regression fitted on log10 values;
    non-positive values cannot be drawn there and are left out (counted in the metrics). Panels with
    more than ``density_threshold`` points are hexbin densities (log colour scale).

    Args:
        frame: match-up rows of one variable (normally ``passed AND is_primary``).
        out: PNG path to write.
        density_threshold: number of points above which a panel is a density plot.
        sat_col: satellite value column.
        insitu_col: in situ value column.

    Returns:
        ``out``.
    """
    variable = str(frame["variable"].iloc[0]) if len(frame) else "value"
    log, unit = is_log_variable(variable), _unit(frame)
    spectral = frame["wavelength"].notna().any() if len(frame) else False
    groups = ([(w, g) for w, g in frame.groupby("wavelength", sort=True)] if spectral else [(None, frame)])
    fig, axes = _grid(max(1, len(groups)), ncols=4 if spectral else 1, size=3.4 if spectral else 5.5)
    for ax, (wavelength, group) in zip(axes, groups, strict=False):
        _scatter_panel(ax, group[insitu_col].to_numpy(float), group[sat_col].to_numpy(float), log=log,
                       density_threshold=density_threshold)
        if wavelength is not None:
            ax.set_title(_wavelength_label(wavelength), fontsize=9)
        ax.set_xlabel(_label(f"in situ {variable}", unit), fontsize=8)
        ax.set_ylabel(_label(f"satellite {variable}", unit), fontsize=8)
        ax.tick_params(labelsize=7)
    fig.suptitle(_title(frame, f"{variable}: satellite vs in situ"), fontsize=11)
    return _save(fig, out)


# -- mean spectra ---------------------------------------------------------------------------------------


def spectra_figure(frame: pd.DataFrame, out: Path, *, max_sites: int = 12, sat_col: str = SAT_COL,
                   insitu_col: str = INSITU_COL) -> Path:
    """Mean spectra, in situ vs satellite, ± one standard deviation, one panel per site.

    Args:
        frame: match-up rows of one spectral variable (normally ``passed AND is_primary``).
        out: PNG path to write.
        max_sites: at most this many panels (the sites with the most observations).
        sat_col: satellite value column.
        insitu_col: in situ value column.

    Returns:
        ``out``.
    """
    variable, unit = (str(frame["variable"].iloc[0]) if len(frame) else "value"), _unit(frame)
    sites = frame.assign(site=frame["site"].fillna("unknown site"))
    counts = sites.groupby("site")["insitu_id"].nunique().sort_values(ascending=False).head(max_sites)
    fig, axes = _grid(max(1, len(counts)), ncols=3, size=4.0)
    for ax, (site, n_obs) in zip(axes, counts.items(), strict=False):
        stats = sites[sites["site"] == site].groupby("wavelength")[[insitu_col, sat_col]].agg(["mean", "std"])
        wl = stats.index.to_numpy(float)
        for col, name, colour in ((insitu_col, "in situ", _INSITU), (sat_col, "satellite", _SAT)):
            mean, std = stats[(col, "mean")].to_numpy(float), stats[(col, "std")].fillna(0).to_numpy(float)
            ax.plot(wl, mean, marker="o", ms=3, color=colour, label=f"{name} mean")
            ax.fill_between(wl, mean - std, mean + std, color=colour, alpha=0.2, label=f"{name} ± std")
        ax.set_title(f"{site} (N = {n_obs} observations)", fontsize=9)
        ax.set_xlabel("wavelength [nm]", fontsize=8)
        ax.set_ylabel(_label(variable, unit), fontsize=8)
        ax.tick_params(labelsize=7)
        ax.grid(True, alpha=0.3)
    if len(counts):
        axes[0].legend(fontsize=7)
    else:
        _empty_axes(axes[0], "no passed match-up")
    fig.suptitle(_title(frame, f"{variable}: mean spectra per site"), fontsize=11)
    return _save(fig, out)


# -- map ---------------------------------------------------------------------------------------------------


def _degrees(axis: str):
    hemispheres = ("E", "W") if axis == "lon" else ("N", "S")
    return FuncFormatter(lambda v, _: f"{abs(v):g}°{hemispheres[0] if v >= 0 else hemispheres[1]}" if v else "0°")


def _observations(frame: pd.DataFrame) -> pd.DataFrame:
    """One row per observation: position, site, and whether any of its primary rows passed."""
    rows = frame[frame["is_primary"].astype(bool)] if "is_primary" in frame else frame
    return rows.groupby(["insitu_source", "insitu_id"], dropna=False).agg(
        lat=("lat_insitu", "mean"), lon=("lon_insitu", "mean"), site=("site", "first"),
        passed=("passed", "any")).reset_index()


def _map_extent(lon: np.ndarray, lat: np.ndarray) -> tuple[float, float, float, float]:
    pad_lon = max(1.0, 0.1 * (lon.max() - lon.min()))
    pad_lat = max(1.0, 0.1 * (lat.max() - lat.min()))
    return (max(-180.0, lon.min() - pad_lon), min(180.0, lon.max() + pad_lon),
            max(-90.0, lat.min() - pad_lat), min(90.0, lat.max() + pad_lat))


def _label_stations(ax, obs: pd.DataFrame, max_labels: int = 15) -> None:
    """Name fixed stations (sites whose observations share one position), if there are few."""
    by_site = obs.dropna(subset=["site"]).groupby("site").agg(lat=("lat", "mean"), lon=("lon", "mean"),
                                                              spread=("lat", "std"), n=("lat", "size"))
    stations = by_site[(by_site["spread"].fillna(0) < 0.05)]
    if len(stations) > max_labels:
        return
    for k, (site, row) in enumerate(stations.sort_values("lon").iterrows()):  # alternate labels of neighbours
        ax.annotate(str(site), (row["lon"], row["lat"]), xytext=(6, 6 if k % 2 == 0 else -12),
                    textcoords="offset points", fontsize=8, fontweight="bold", color="0.15", zorder=4)


def map_figure(frame: pd.DataFrame, out: Path) -> Path:
    """Map of match-up locations (in situ positions): filled green when passed, hollow red when failed.

    One marker per observation, its shape by in situ source; an observation counts as passed when
    any of its primary rows passed. Fixed stations are named. Longitude/latitude axes with a
    graticule; no coastlines (no map data offline).

    Args:
        frame: match-up rows (all decisions).
        out: PNG path to write.

    Returns:
        ``out``.
    """
    obs = _observations(frame)
    obs = obs[np.isfinite(obs["lat"]) & np.isfinite(obs["lon"])]
    fig = _figure(9, 6)
    ax = fig.subplots()
    if obs.empty:
        _empty_axes(ax, "no match-up location")
        return _save(fig, out)
    lon = ((obs["lon"].to_numpy(float) + 180) % 360) - 180
    obs = obs.assign(lon=lon)
    markers = dict(zip(sorted(obs["insitu_source"].astype(str).unique()), "os^Dv<>p", strict=False))
    for (source, passed), part in obs.groupby([obs["insitu_source"].astype(str), "passed"], sort=True):
        colour, status = (_PASSED, "passed") if passed else (_FAILED, "failed")
        ax.scatter(part["lon"], part["lat"], marker=markers.get(source, "o"), s=24, alpha=0.75, zorder=3,
                   facecolors=colour if passed else "none", edgecolors=colour, linewidths=1.1,
                   label=f"{source} {status} ({len(part)})")
    _label_stations(ax, obs)
    west, east, south, north = _map_extent(obs["lon"].to_numpy(float), obs["lat"].to_numpy(float))
    ax.set_xlim(west, east)
    ax.set_ylim(south, north)
    ax.set_aspect(1.0 / max(0.2, math.cos(math.radians((south + north) / 2))))
    ax.xaxis.set_major_formatter(_degrees("lon"))
    ax.yaxis.set_major_formatter(_degrees("lat"))
    ax.grid(True, ls=":", color="0.5", alpha=0.7)
    ax.set_facecolor("#eef4fa")
    ax.legend(loc="best", fontsize=8, title="observations", title_fontsize=8)
    ax.set_title(_title(frame, "Match-up locations"), fontsize=11)
    fig.text(0.01, 0.005, "graticule only: no coastline data (offline)", fontsize=7, color="0.45")
    return _save(fig, out)


# -- time series of differences -------------------------------------------------------------------------


def difference_figure(frame: pd.DataFrame, out: Path, *, sat_col: str = SAT_COL,
                      insitu_col: str = INSITU_COL) -> Path:
    """Time series of satellite − in situ differences of one variable, coloured by wavelength if spectral.

    Args:
        frame: match-up rows of one variable (normally ``passed AND is_primary``).
        out: PNG path to write.
        sat_col: satellite value column.
        insitu_col: in situ value column.

    Returns:
        ``out``.
    """
    variable, unit = (str(frame["variable"].iloc[0]) if len(frame) else "value"), _unit(frame)
    diff = frame[sat_col].to_numpy(float) - frame[insitu_col].to_numpy(float)
    keep = np.isfinite(diff)
    time, diff = pd.to_datetime(frame["time_insitu"]).to_numpy()[keep], diff[keep]
    fig = _figure(11, 4.2)
    ax = fig.subplots()
    if diff.size == 0:
        _empty_axes(ax, "no passed match-up")
        return _save(fig, out)
    if frame["wavelength"].notna().any():
        points = ax.scatter(time, diff, c=frame["wavelength"].to_numpy(float)[keep], cmap="turbo", s=10, alpha=0.8)
        fig.colorbar(points, ax=ax, label="wavelength [nm]", pad=0.01)
    else:
        ax.scatter(time, diff, s=10, alpha=0.7, color="#3366aa")
    ax.axhline(0, color="0.2", lw=1)
    locator = AutoDateLocator()
    ax.xaxis.set_major_locator(locator)
    ax.xaxis.set_major_formatter(ConciseDateFormatter(locator))
    ax.set_ylabel(_label(f"satellite − in situ {variable}", unit), fontsize=9)
    ax.set_xlabel("in situ time (UTC)", fontsize=9)
    ax.grid(True, alpha=0.3)
    ax.set_title(_title(frame, f"{variable}: satellite − in situ over time"), fontsize=11)
    return _save(fig, out)


# -- protocol funnel ------------------------------------------------------------------------------------


def _criteria_lists(values: Iterable) -> list[list[str]]:
    return [[str(c) for c in v] if v is not None and not (isinstance(v, float) and math.isnan(v)) else []
            for v in values]


def _ordered(names: Iterable[str]) -> list[str]:
    names = set(names)
    return [c for c in CRITERIA if c in names] + sorted(names - set(CRITERIA))


def funnel_counts(frame: pd.DataFrame) -> pd.DataFrame:
    """Rows failing each criterion: ``failed`` (listed among others) and ``only`` (the sole failure).

    Args:
        frame: match-up rows (all decisions, every overpass).

    Returns:
        One row per criterion present, in the engine's order, columns ``criterion``, ``failed``, ``only``.
    """
    lists = _criteria_lists(frame["failed_criteria"]) if len(frame) else []
    failed = Counter(c for criteria in lists for c in set(criteria))
    only = Counter(criteria[0] for criteria in lists if len(set(criteria)) == 1)
    return pd.DataFrame({"criterion": _ordered(failed), "failed": [failed[c] for c in _ordered(failed)],
                         "only": [only[c] for c in _ordered(failed)]}, columns=["criterion", "failed", "only"])


def _funnel_panel(ax, total: int | None, passed: int | None, counts: pd.DataFrame) -> None:
    labels, full, only = [], [], []
    if total is not None:
        labels.append("all rows")
        full.append(total)
        only.append(None)
    for row in counts.itertuples():
        labels.append(f"failed {row.criterion}")
        full.append(row.failed)
        only.append(row.only)
    if passed is not None:
        labels.append("passed")
        full.append(passed)
        only.append(None)
    y = np.arange(len(labels))[::-1]
    colours = ["0.55" if lab == "all rows" else _PASSED if lab == "passed" else "#f4a582" for lab in labels]
    ax.barh(y, full, color=colours, height=0.65)
    sole = [(yy, o) for yy, o in zip(y, only, strict=True) if o is not None]
    if sole:
        ax.barh([s[0] for s in sole], [s[1] for s in sole], color=_FAILED, height=0.65,
                label="sole failed criterion of the row")
        ax.legend(loc="lower right", fontsize=7)
    for yy, value in zip(y, full, strict=True):
        ax.text(value, yy, f" {value}", va="center", fontsize=8)
    ax.set_yticks(y, labels, fontsize=8)
    ax.set_xlim(0, max(full + [1]) * 1.15)
    ax.set_xlabel("match-up rows", fontsize=8)
    ax.grid(True, axis="x", alpha=0.3)


def funnel_figure(frame: pd.DataFrame | None, out: Path, *, funnel: Mapping[str, int] | None = None) -> Path:
    """Protocol funnel: how many rows each criterion removed, plus all rows and passed rows.

    From ``frame``: one panel per (in situ source, product, protocol); a row failing several criteria
    counts under each (the dark part of a bar is the rows whose only failure is that criterion). From
    a run summary's ``funnel`` dict (criterion -> rows failing it): one panel of those counts, with the
    total and passed bars taken from ``frame`` when it has rows.

    Args:
        frame: match-up rows (all decisions, every overpass), or None with ``funnel``.
        out: PNG path to write.
        funnel: a run summary's ``funnel`` (``MatchupSummary.funnel``), used instead of counting.

    Returns:
        ``out``.
    """
    frame = frame if frame is not None else pd.DataFrame(columns=["insitu_source", "product", "protocol",
                                                                  "passed", "failed_criteria"])
    if funnel is not None:
        counts = pd.DataFrame({"criterion": _ordered(funnel), "failed": [int(funnel[c]) for c in _ordered(funnel)],
                               "only": [None] * len(funnel)}, columns=["criterion", "failed", "only"])
        groups = [("run summary", frame, counts)]
    else:
        groups = [(" / ".join(map(str, key)), part, funnel_counts(part))
                  for key, part in frame.groupby(["insitu_source", "product", "protocol"], sort=True)]
    height = sum(0.45 * (len(c) + 2) + 0.9 for _, _, c in groups) or 2.0
    fig = _figure(9, max(2.5, height))
    axes = fig.subplots(max(1, len(groups)), 1, squeeze=False).ravel()
    if not groups:
        _empty_axes(axes[0], "no match-up rows")
    for ax, (name, part, counts) in zip(axes, groups, strict=False):
        has_rows = len(part) > 0
        _funnel_panel(ax, len(part) if has_rows else None,
                      int(part["passed"].astype(bool).sum()) if has_rows else None, counts)
        ax.set_title(name, fontsize=9, loc="left")
    fig.suptitle("Protocol funnel: match-up rows removed by each criterion", fontsize=11)
    return _save(fig, out)
