"""Match-up run: observations x granules -> windows -> statistics -> protocol decisions -> ``matchups``.

One run covers one (in situ source, product, protocol, period). It reads the observations from
the source's lake view, finds candidate granules with a binned DuckDB join, extracts the pixel
windows granule by granule (swath: KD-tree nearest pixel; grid cubes: index arithmetic), computes
the window statistics and the protocol decision per band, gates each batch with the ``matchups``
quality suite and publishes everything in one DuckLake transaction that first deletes the rows
of the same (source, product, protocol, period): re-running a period replaces it, never
duplicates it. Observations with bad positions and batches failing the gate go to ``quarantine``.
"""

from __future__ import annotations

import logging
import uuid
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any

import duckdb
import numpy as np
import pyarrow as pa

import lake_schema
from lake_schema.definitions import ProductDef
from lake_schema.protocols_def import CONVERSIONS, InsituSourceDef, ProtocolDef
from tasks import quality
from tasks.config import Settings
from tasks.cubes import open_cube
from tasks.errors import OceanlakeError
from tasks.lake import Lake, conform, utc_now
from tasks.matchup.candidates import find_candidates
from tasks.matchup.decisions import PairContext, failed_criteria, homogeneity, not_evaluated
from tasks.matchup.grid_windows import extract_grid_windows
from tasks.matchup.observations import Observations, read_observations
from tasks.matchup.spectral import match_bands
from tasks.matchup.statistics import flag_bits, window_statistics
from tasks.matchup.swath_windows import extract_swath_windows
from tasks.matchup.windows import Windows

log = logging.getLogger(__name__)

#: Rows gated together by the quality suite (several granules per batch; ~0.2 s per gate call).
BATCH_ROWS = 200_000
SPECTRAL = ("rrs", "rho_w")
#: Granule boxes (pixel-centre extremes) are widened by this much (degree) for the candidate search;
#: the window extractors then decide whether a point really falls on the grid or swath.
BOX_MARGIN_DEG = 0.5
ANGLES = ("solar_zenith_angle", "viewing_zenith_angle")


class MatchupConfigError(OceanlakeError):
    """The (source, product, protocol) combination cannot be matched (clear message, nothing written)."""


@dataclass
class MatchupSummary:
    """Counts of one match-up run (the ``funnel`` says how many rows each criterion failed)."""

    run_id: str
    insitu_source: str
    product: str
    protocol: str
    protocol_hash: str
    period_start: datetime | None
    period_end: datetime | None
    observations: int = 0
    duplicates_merged: int = 0
    invalid_positions: int = 0
    granules: int = 0
    no_candidate: int = 0
    candidate_pairs: int = 0
    no_pixel: int = 0
    matchup_pairs: int = 0
    rows: int = 0
    rows_passed: int = 0
    primary_passed: int = 0
    rows_quarantined: int = 0
    bands_outside_insitu_range: int = 0
    funnel: dict[str, int] = field(default_factory=dict)
    criteria_not_evaluated: list[str] = field(default_factory=list)
    flags_not_in_product: list[str] = field(default_factory=list)
    replaced_rows: int = 0
    snapshot_id: int | None = None
    insitu_snapshot_id: int | None = None  # DuckLake snapshot the observations and granules were read at
    cube_snapshots: dict[str, str] = field(default_factory=dict)  # cube (or cube/group) -> Icechunk snapshot read

    def as_dict(self) -> dict:
        """JSON-friendly dict."""
        out = asdict(self)
        for key in ("period_start", "period_end"):
            out[key] = out[key].isoformat() if out[key] else None
        return out


@dataclass
class _Plan:
    """Which satellite variable is compared with which in situ variable (and conversion factor)."""

    pairs: dict[str, tuple[str, float]]
    extract: list[str]
    homogeneity_variable: str | None


def plan(protocol: ProtocolDef, product: ProductDef, source: InsituSourceDef) -> _Plan:
    """Resolve the protocol's pairs against the product's variables and the source's values.

    Raises:
        MatchupConfigError: when nothing can be compared or the product geometry is not supported.
    """
    if product.geometry not in ("grid", "swath"):
        raise MatchupConfigError(f"product {product.id} has {product.geometry} geometry; match-ups support grid "
                                 "cubes and swath granules")
    pairs = {}
    for sat_var, insitu_vars in protocol.pairs.items():
        if sat_var not in product.variables:
            continue
        for insitu_var in insitu_vars:
            if insitu_var in source.values:
                factor = 1.0 if insitu_var == sat_var else CONVERSIONS.get((insitu_var, sat_var), 1.0)
                pairs[sat_var] = (insitu_var, factor)
                break
    if not pairs:
        raise MatchupConfigError(
            f"protocol {protocol.id} compares {sorted(protocol.pairs)}; product {product.id} has "
            f"{sorted(product.variables)}; in situ source {source.id} provides {sorted(source.values)}: "
            "no variable in common")
    if any((var in SPECTRAL) != bool(source.wavelength_column) for var in pairs):
        raise MatchupConfigError(f"in situ source {source.id} and product {product.id}: spectral and scalar "
                                 f"variables cannot be compared ({sorted(pairs)})")
    spectral = [v for v in SPECTRAL if v in product.variables]
    cv_var = spectral[0] if spectral else None
    extract = sorted(set(pairs) | ({cv_var} if cv_var and protocol.cv_statistic else set()))
    extract += [a for a in ANGLES if a in product.angles] + (["flags"] if product.flags else [])
    return _Plan(pairs=pairs, extract=extract, homogeneity_variable=cv_var)


def run_matchups(insitu: str, product_id: str, protocol_id: str, settings: Settings, *,
                 start: datetime | None = None, end: datetime | None = None, run_id: str | None = None,
                 progress: Callable[[int, int], None] | None = None) -> MatchupSummary:
    """Compute and publish the match-ups of one (in situ source, product, protocol, period).

    Args:
        insitu: in situ source id (``argo``, ``hypernets``).
        product_id: satellite product id.
        protocol_id: protocol id (``lake_schema/protocols`` or a user protocols folder).
        settings: lake settings.
        start: period start (naive UTC, inclusive); None = open.
        end: period end (exclusive); None = open.
        run_id: identifier stored with every row (new UUID by default).
        progress: called as ``progress(granules_done, granules_total)``.

    Returns:
        The run summary.

    Raises:
        KeyError: unknown source, product or protocol (the message lists the valid ones).
        MatchupConfigError: the combination has nothing to compare.
    """
    request = _request(insitu, product_id, protocol_id, settings, start, end, run_id)
    summary = request.summary
    with Lake(settings) as lake:
        table, quarantine = _compute(request, settings, lake.con, lake.snapshot_id(), None, progress)
        summary.replaced_rows = _publish(lake, table, quarantine, summary)
        summary.snapshot_id = lake.snapshot_id()
    log.info("matchup %s x %s (%s): %s", summary.insitu_source, summary.product, summary.protocol, summary.as_dict())
    return summary


def compute_matchups(insitu: str, product_id: str, protocol_id: str, settings: Settings,
                     con: duckdb.DuckDBPyConnection, *, snapshot_id: int,
                     cube_snapshots: Mapping[str, str] | None = None, start: datetime | None = None,
                     end: datetime | None = None, run_id: str | None = None) -> tuple[MatchupSummary, pa.Table]:
    """The rows :func:`run_matchups` would publish, computed from pinned lake versions; nothing is written.

    Used to reproduce a recorded run (``oceanlake reproduce``): the observations and granules are
    read through ``con``, a connection with the lake attached at DuckLake snapshot ``snapshot_id``,
    and each cube at its recorded Icechunk snapshot.

    Args:
        insitu: in situ source id.
        product_id: satellite product id.
        protocol_id: protocol id.
        settings: lake settings (cube locations).
        con: lake connection at ``snapshot_id`` (``USE lake`` done).
        snapshot_id: the DuckLake snapshot ``con`` reads (stored in ``insitu_snapshot_id``).
        cube_snapshots: cube name (or ``cube/group``) -> Icechunk snapshot id, as in
            :attr:`MatchupSummary.cube_snapshots`; cubes not named are read at the tip of ``main``.
        start: period start (naive UTC, inclusive); None = open.
        end: period end (exclusive); None = open.
        run_id: identifier stored with every row (new UUID by default).

    Returns:
        The run summary and the gated rows (``matchups`` schema, primary rows marked).
    """
    request = _request(insitu, product_id, protocol_id, settings, start, end, run_id)
    table, _ = _compute(request, settings, con, snapshot_id, cube_snapshots, None)
    return request.summary, table


@dataclass
class _Request:
    protocol: ProtocolDef
    product: ProductDef
    source: InsituSourceDef
    work: _Plan
    summary: MatchupSummary


def _request(insitu: str, product_id: str, protocol_id: str, settings: Settings, start: datetime | None,
             end: datetime | None, run_id: str | None) -> _Request:
    """Resolve the definitions and the plan (KeyError / MatchupConfigError before the lake is opened)."""
    protocol = lake_schema.protocol(protocol_id, settings.protocol_dirs)
    product = lake_schema.product(product_id, settings.product_dirs)
    source = lake_schema.insitu_source(insitu)
    work = plan(protocol, product, source)
    summary = MatchupSummary(run_id=run_id or uuid.uuid4().hex, insitu_source=source.id, product=product.id,
                             protocol=protocol.id, protocol_hash=protocol.config_hash, period_start=start,
                             period_end=end)
    return _Request(protocol, product, source, work, summary)


def _compute(request: _Request, settings: Settings, con: duckdb.DuckDBPyConnection, insitu_snapshot: int,
             cube_snapshots: Mapping[str, str] | None,
             progress: Callable[[int, int], None] | None) -> tuple[pa.Table, list[dict]]:
    """Observations x granules -> gated rows and quarantine entries (read through ``con``, nothing written)."""
    protocol, product, source, work, summary = (request.protocol, request.product, request.source, request.work,
                                                request.summary)
    start, end = summary.period_start, summary.period_end
    summary.insitu_snapshot_id = insitu_snapshot
    needed = sorted({v for v, _ in work.pairs.values()})
    obs = read_observations(con, source, needed, start, end)
    summary.observations, summary.duplicates_merged = len(obs), obs.n_duplicates
    summary.invalid_positions = len(obs.rejected)
    quarantine = [_quarantine(source.id, i, "matchup", reason, summary) for i, reason in obs.rejected]
    granules = _granules(con, product, protocol, start, end)
    summary.granules = granules.num_rows
    pairs = _candidates(obs, granules, protocol)
    summary.candidate_pairs = pairs.num_rows
    summary.no_candidate = len(obs) - len(np.unique(pairs.column("obs").to_numpy())) if len(obs) else 0
    batches = []
    context = _RunContext(settings, protocol, product, work, obs, granules, summary, insitu_snapshot,
                          pinned=dict(cube_snapshots or {}))
    for rows in _extract_all(context, pairs, progress):
        rejected = _gate(rows, protocol, summary)
        if rejected:
            quarantine += rejected
            summary.rows_quarantined += rows.num_rows
        else:
            batches.append(rows)
    table = _mark_primary(pa.concat_tables(batches)) if batches else _empty()
    _count(table, summary)
    return table, quarantine


@dataclass
class _RunContext:
    settings: Settings
    protocol: ProtocolDef
    product: ProductDef
    work: _Plan
    obs: Observations
    granules: pa.Table
    summary: MatchupSummary
    insitu_snapshot: int
    snapshot: str | None = None  # Icechunk snapshot of the cube being read
    pinned: dict[str, str] = field(default_factory=dict)  # cube (or cube/group) -> Icechunk snapshot to read


def _quarantine(source: str, insitu_id: str, stage: str, reason: str, summary: MatchupSummary) -> dict:
    return {"object": f"{source}:{insitu_id}", "stage": stage, "reason": f"{source} {insitu_id}: {reason}",
            "source_checksum": None, "source_kind": f"matchup:{summary.product}:{summary.protocol}",
            "run_id": summary.run_id}


def _granules(con: duckdb.DuckDBPyConnection, product: ProductDef, protocol: ProtocolDef, start: datetime | None,
              end: datetime | None) -> pa.Table:
    """Current granules of the product overlapping the period widened by the time window."""
    window = protocol.max_time_difference_s
    sql = """
        select granule_id, cube, cube_group, time_start, time_end, lon_min, lat_min, lon_max, lat_max
        from granules
        where product = $product
          and ($start is null or time_end >= cast($start as timestamp) - to_seconds($window))
          and ($end is null or time_start < cast($end as timestamp) + to_seconds($window))
        order by cube, time_start, granule_id
    """
    table = con.execute(sql, {"product": product.id, "start": start, "end": end, "window": window})
    table = table.to_arrow_table()
    return table.append_column("gran", pa.array(np.arange(table.num_rows, dtype=np.int64)))


def _candidates(obs: Observations, granules: pa.Table, protocol: ProtocolDef) -> pa.Table:
    points = pa.table({"obs": np.arange(len(obs), dtype=np.int64), "time": obs.time,
                       "latitude": obs.latitude, "longitude": obs.longitude})
    boxes = granules.select(["gran", "time_start", "time_end", "lon_min", "lat_min", "lon_max", "lat_max"])
    return find_candidates(points, boxes, protocol.max_time_difference_s, time_reference=protocol.time_reference,
                           margin_deg=BOX_MARGIN_DEG)


def _extract_all(ctx: _RunContext, pairs: pa.Table, progress: Callable[[int, int], None] | None):
    """Yield row batches of about ``BATCH_ROWS`` rows, granule group by granule group."""
    gran_index = pairs.column("gran").to_numpy()
    obs_index = pairs.column("obs").to_numpy()
    dt = pairs.column("dt_seconds").to_numpy().astype(float)
    cubes = ctx.granules.column("cube").to_pylist()
    groups = ctx.granules.column("cube_group").to_pylist()
    # grid cubes: one group per cube (every time slice at once); swaths: one group per granule
    keys = np.array([c if ctx.product.geometry == "grid" else f"{c}/{g}" for c, g in zip(cubes, groups,
                                                                                        strict=True)], dtype=object)
    order = np.argsort(keys[gran_index], kind="stable") if len(gran_index) else np.array([], dtype=int)
    group_keys = keys[gran_index][order]
    bounds = np.flatnonzero(np.r_[True, group_keys[1:] != group_keys[:-1], True]) if len(order) else [0]
    pending, n_pending = [], 0
    for done, (lo, hi) in enumerate(zip(bounds[:-1], bounds[1:], strict=True), start=1):
        sel = order[lo:hi]
        rows = _extract_group(ctx, obs_index[sel], gran_index[sel], dt[sel])
        if rows is not None:
            pending.append(rows)
            n_pending += rows.num_rows
        if n_pending >= BATCH_ROWS:
            yield pa.concat_tables(pending)
            pending, n_pending = [], 0
        if progress:
            progress(done, len(bounds) - 1)
    if pending:
        yield pa.concat_tables(pending)


def _extract_group(ctx: _RunContext, obs_i: np.ndarray, gran_i: np.ndarray, dt: np.ndarray) -> pa.Table | None:
    """Windows, statistics and decisions for the candidate pairs of one cube (grid) or granule (swath)."""
    first = int(gran_i[0])
    cube, group = ctx.granules.column("cube")[first].as_py(), ctx.granules.column("cube_group")[first].as_py()
    group = None if ctx.product.geometry == "grid" else group
    pinned = ctx.pinned.get(f"{cube}/{group}") or ctx.pinned.get(cube)
    dataset = open_cube(ctx.settings, cube, snapshot_id=pinned, group=group)
    ctx.snapshot = dataset.encoding.get("icechunk_snapshot_id")
    note_snapshot(ctx.summary.cube_snapshots, cube, group, ctx.snapshot)
    variables = [v for v in ctx.work.extract if v in dataset.data_vars]
    lat, lon = ctx.obs.latitude[obs_i], ctx.obs.longitude[obs_i]
    if ctx.product.geometry == "grid":
        if "time" in dataset.indexes and not dataset.indexes["time"].is_monotonic_increasing:
            dataset = dataset.sortby("time")  # days ingested out of order (backfill, late files): sort lazily
        slice_time = _slice_times(dataset, ctx.granules, gran_i)
        windows = extract_grid_windows(dataset, variables, lat, lon, slice_time,
                                       half_time=ctx.protocol.time_half_steps, half_size=ctx.protocol.half_size,
                                       max_time_offset=np.timedelta64(1, "s"))
    else:
        windows = extract_swath_windows(dataset, variables, lat, lon, half_size=ctx.protocol.half_size,
                                        max_distance_m=ctx.protocol.max_distance_m)
    found = windows.found
    ctx.summary.no_pixel += int((~found).sum())
    if not found.any():
        return None
    return _rows(ctx, windows, found, obs_i, gran_i, dt, dataset)


def note_snapshot(read: dict[str, str], cube: str, group: str | None, snapshot: str | None) -> None:
    """Record the Icechunk snapshot read: per cube, or per ``cube/group`` when a group saw another one."""
    if snapshot is None:
        return
    if cube not in read:
        read[cube] = snapshot
    elif read[cube] != snapshot and group is not None:
        read[f"{cube}/{group}"] = snapshot


def _slice_times(dataset, granules: pa.Table, gran_i: np.ndarray) -> np.ndarray:
    """Cube time of each granule's slice: the cube time nearest to the granule's start (within a day)."""
    cube_times = dataset["time"].values.astype("datetime64[us]")
    starts = granules.column("time_start").to_numpy().astype("datetime64[us]")[gran_i]
    index = np.abs(cube_times[None, :] - starts[:, None]).argmin(axis=1)
    nearest = cube_times[index]
    too_far = np.abs(nearest - starts) > np.timedelta64(1, "D")
    return np.where(too_far, np.datetime64("NaT"), nearest).astype("datetime64[ns]")


def _flag_bits(ctx: _RunContext, dataset) -> tuple[int, int]:
    if "flags" not in dataset:
        return 0, 0
    attrs = dataset["flags"].attrs
    names = list(ctx.protocol.invalid_flags) + list(ctx.product.flags.invalid if ctx.product.flags else ())
    invalid, missing = flag_bits(attrs, names)
    land, missing_land = flag_bits(attrs, list(ctx.protocol.land_flags))
    for name in missing + missing_land:
        if name not in ctx.summary.flags_not_in_product:
            ctx.summary.flags_not_in_product.append(name)
    return invalid, land


def _rows(ctx: _RunContext, windows: Windows, found: np.ndarray, obs_i: np.ndarray, gran_i: np.ndarray,
          dt: np.ndarray, dataset) -> pa.Table:
    """One row per (found pair, variable, band)."""
    keep = np.flatnonzero(found)
    obs_i, gran_i, dt = obs_i[keep], gran_i[keep], dt[keep]
    inside = windows.inside[keep]
    flags = windows.values["flags"][keep] if "flags" in windows.values else None
    invalid_bits, land_bits = _flag_bits(ctx, dataset)
    stats_of = {}
    for var in ctx.work.extract:
        if var in windows.values and var not in ("flags",) + ANGLES:
            stats_of[var] = window_statistics(windows.values[var][keep], inside, flags, invalid_bits, land_bits,
                                              ctx.protocol.filter_n_sigma)
    cv_var = ctx.work.homogeneity_variable
    angles = {a: _centre(windows.values[a][keep]) if a in windows.values else None for a in ANGLES}
    pair_context = PairContext(dt_seconds=dt, solar_zenith=angles["solar_zenith_angle"],
                               viewing_zenith=angles["viewing_zenith_angle"], homogeneity_cv=None)
    if cv_var in stats_of:
        pair_context.homogeneity_cv = homogeneity(ctx.protocol, stats_of[cv_var], windows.wavelengths.get(cv_var))
    for name in not_evaluated(ctx.protocol, pair_context):
        if name not in ctx.summary.criteria_not_evaluated:
            ctx.summary.criteria_not_evaluated.append(name)
    tables = []
    for sat_var, (insitu_var, factor) in ctx.work.pairs.items():
        if sat_var not in stats_of:
            continue
        context = pair_context
        if context.homogeneity_cv is None and ctx.protocol.cv_statistic:  # no spectrum: the variable's own CV
            context = PairContext(dt, context.solar_zenith, context.viewing_zenith,
                                  homogeneity(ctx.protocol, stats_of[sat_var], None))
        tables.append(_variable_rows(ctx, windows, keep, obs_i, gran_i, context, sat_var, insitu_var, factor,
                                     stats_of[sat_var], angles))
    return pa.concat_tables(tables) if tables else None


def _centre(values: np.ndarray) -> np.ndarray:
    """Centre pixel of ``(p, wt, wy, wx)`` windows."""
    p = values.shape[0]
    flat = values.reshape(p, -1)
    return flat[:, flat.shape[1] // 2].astype(float)


def _insitu_values(ctx: _RunContext, obs_i: np.ndarray, insitu_var: str, factor: float,
                   wavelengths: np.ndarray | None) -> tuple[np.ndarray, np.ndarray | None, np.ndarray | None, Any]:
    """In situ values ``(p, k)`` at the bands, matched wavelengths, mismatch and the kept band mask."""
    values = ctx.obs.values[insitu_var][obs_i]
    if wavelengths is None:
        return values[:, None] * factor, None, None, np.ones(1, dtype=bool)
    wl = ctx.obs.wavelength
    tolerance = ctx.protocol.spectral_tolerance_nm
    in_range = (wavelengths >= wl.min() - tolerance) & (wavelengths <= wl.max() + tolerance)
    method = ctx.protocol.spectral_method or "nearest"
    matched, matched_wl, mismatch = match_bands(wl, values, wavelengths[in_range], method, tolerance)
    return matched * factor, matched_wl, mismatch, in_range


def _variable_rows(ctx: _RunContext, windows: Windows, keep: np.ndarray, obs_i: np.ndarray, gran_i: np.ndarray,
                   context: PairContext, sat_var: str, insitu_var: str, factor: float, stats,
                   angles: dict[str, np.ndarray | None]) -> pa.Table:
    wavelengths = windows.wavelengths.get(sat_var)
    insitu, insitu_wl, mismatch, bands = _insitu_values(ctx, obs_i, insitu_var, factor, wavelengths)
    if wavelengths is not None:
        ctx.summary.bands_outside_insitu_range += int((~bands).sum())
        stats = type(stats)(**{k: v[:, bands] for k, v in vars(stats).items()})
        wavelengths = wavelengths[bands]
    p, k = stats.n_valid.shape
    failed = failed_criteria(ctx.protocol, stats, context, insitu, mismatch)
    rep = lambda a: np.repeat(np.asarray(a), k)  # noqa: E731 - per pair -> per row
    flat = lambda a: np.asarray(a).reshape(-1)  # noqa: E731
    granules = ctx.granules
    t_insitu = ctx.obs.time[obs_i]
    time_sat = t_insitu + (context.dt_seconds * 1e6).astype("timedelta64[us]")
    field_units = lake_schema.fields()[sat_var].units
    columns = {
        "insitu_source": rep([ctx.summary.insitu_source] * p), "insitu_id": rep(ctx.obs.insitu_id[obs_i]),
        "site": rep(ctx.obs.site[obs_i]), "product": rep([ctx.summary.product] * p),
        "granule_id": rep(granules.column("granule_id").take(pa.array(gran_i)).to_numpy(zero_copy_only=False)),
        "variable": rep([sat_var] * p),
        "wavelength": np.tile(wavelengths, p) if wavelengths is not None else np.full(p * k, np.nan),
        "insitu_variable": rep([insitu_var] * p),
        "insitu_wavelength": flat(insitu_wl) if insitu_wl is not None else np.full(p * k, np.nan),
        "band_mismatch_nm": flat(mismatch) if mismatch is not None else np.full(p * k, np.nan),
        "unit": rep([field_units] * p), "time_insitu": rep(t_insitu), "time_sat": rep(time_sat),
        "dt_seconds": rep(context.dt_seconds), "lat_insitu": rep(ctx.obs.latitude[obs_i]),
        "lon_insitu": rep(ctx.obs.longitude[obs_i]), "lat_sat": rep(windows.center_lat[keep]),
        "lon_sat": rep(windows.center_lon[keep]), "distance_m": rep(windows.distance_m[keep]),
        "window_size": rep([ctx.protocol.window_size] * p), "n_total": flat(stats.n_total),
        "n_land": flat(stats.n_land), "n_valid": flat(stats.n_valid), "n_filtered": flat(stats.n_filtered),
        "sat_center": flat(stats.center), "sat_mean": flat(stats.mean), "sat_median": flat(stats.median),
        "sat_filtered_mean": flat(stats.filtered_mean), "sat_std": flat(stats.filtered_std),
        "sat_cv": flat(stats.cv),
        "homogeneity_cv": rep(context.homogeneity_cv) if context.homogeneity_cv is not None else None,
        "insitu_value": flat(insitu),
        "solar_zenith_angle": rep(angles["solar_zenith_angle"]) if angles["solar_zenith_angle"] is not None else None,
        "viewing_zenith_angle": (rep(angles["viewing_zenith_angle"])
                                 if angles["viewing_zenith_angle"] is not None else None),
        "partial_window": rep(windows.partial[keep]), "protocol": rep([ctx.protocol.id] * p),
        "protocol_hash": rep([ctx.protocol.config_hash] * p),
        "passed": np.array([not f for f in failed], dtype=bool), "failed_criteria": failed,
        "is_primary": np.zeros(p * k, dtype=bool), "insitu_snapshot_id": rep([ctx.insitu_snapshot] * p),
        "sat_snapshot_id": rep([ctx.snapshot] * p),
        "period_start": rep([ctx.summary.period_start] * p), "period_end": rep([ctx.summary.period_end] * p),
        "run_id": rep([ctx.summary.run_id] * p), "created_at": rep([utc_now()] * p),
    }
    arrays = {}
    for name, values in columns.items():
        if values is None:  # not available for this product (e.g. no angles): null
            arrays[name] = pa.nulls(p * k)
            continue
        if isinstance(values, np.ndarray) and values.dtype.kind == "f":
            arrays[name] = pa.array(values, from_pandas=True)  # NaN -> null
        else:
            arrays[name] = pa.array(values.tolist() if isinstance(values, np.ndarray) and values.dtype == object
                                    else values)
    return conform("matchups", pa.table(arrays))


def _gate(rows: pa.Table, protocol: ProtocolDef, summary: MatchupSummary) -> list[dict]:
    """Gate one batch: all rows published, or none; returns the quarantine entries (none = publish)."""
    params = {"max_time_difference_s": protocol.max_time_difference_s,
              "neg_max_time_difference_s": -protocol.max_time_difference_s,
              "max_distance_m": protocol.max_distance_m or 2.0e7,
              "window_pixels": protocol.window_size ** 2 * (2 * protocol.time_half_steps + 1)}
    result = quality.gate("matchups", rows, params)
    if not result.rejected:
        return []
    entries = [_quarantine(summary.insitu_source, r["label"], "matchup-gate", r["reason"], summary)
               for r in result.rejected]
    entries.append(_quarantine(summary.insitu_source, f"batch of {rows.num_rows} rows", "matchup-gate",
                               f"batch not published: {result.n_failed_rows} rows failed the matchups suite",
                               summary))
    log.warning("match-up batch of %d rows not published: %s", rows.num_rows, result.rejected[:3])
    return entries


def _mark_primary(table: pa.Table) -> pa.Table:
    """Mark the primary row of each (source, observation, variable, band).

    The primary row is the passed one closest in time (then in distance); for observations without
    a passed row, the closest row overall.
    """
    frame = table.select(["insitu_source", "insitu_id", "variable", "wavelength", "passed", "dt_seconds",
                          "distance_m"]).to_pandas()
    frame["abs_dt"] = frame["dt_seconds"].abs()
    frame["failed"] = ~frame["passed"]
    frame["wl"] = frame["wavelength"].fillna(-1.0)
    ordered = frame.sort_values(["insitu_source", "insitu_id", "variable", "wl", "failed", "abs_dt", "distance_m"])
    first = ~ordered.duplicated(["insitu_source", "insitu_id", "variable", "wl"])
    primary = np.zeros(len(frame), dtype=bool)
    primary[ordered.index[first.to_numpy()]] = True
    return table.set_column(table.schema.get_field_index("is_primary"), "is_primary", pa.array(primary))


def _empty() -> pa.Table:
    return lake_schema.table("matchups").arrow_schema().empty_table()


def _count(table: pa.Table, summary: MatchupSummary) -> None:
    summary.rows = table.num_rows
    if not table.num_rows:
        return
    frame = table.select(["insitu_id", "granule_id", "passed", "is_primary", "failed_criteria"]).to_pandas()
    summary.matchup_pairs = int(frame[["insitu_id", "granule_id"]].drop_duplicates().shape[0])
    summary.rows_passed = int(frame["passed"].sum())
    summary.primary_passed = int((frame["passed"] & frame["is_primary"]).sum())
    summary.funnel = dict(Counter(c for criteria in frame["failed_criteria"] for c in criteria))


def period_rows(insitu: str, product: str, protocol: str, start: datetime | None,
                end: datetime | None) -> tuple[str, dict[str, Any]]:
    """The condition (and its ``$name`` parameters) selecting the ``matchups`` rows of one run's period.

    A run of (source, product, protocol, period) replaces exactly these rows.
    """
    where = ("insitu_source = $source and product = $product and protocol = $protocol"
             " and ($start is null or time_insitu >= cast($start as timestamp))"
             " and ($end is null or time_insitu < cast($end as timestamp))")
    return where, {"source": insitu, "product": product, "protocol": protocol, "start": start, "end": end}


def _publish(lake: Lake, table: pa.Table, quarantine: list[dict], summary: MatchupSummary) -> int:
    """Replace the rows of this (source, product, protocol, period) and record quarantine, atomically."""
    where, params = period_rows(summary.insitu_source, summary.product, summary.protocol, summary.period_start,
                                summary.period_end)

    def body(con) -> int:
        replaced = con.execute(f"select count(*) from matchups where {where}", params).fetchone()[0]
        con.execute(f"delete from matchups where {where}", params)
        lake.insert(con, "matchups", table)
        lake.quarantine(quarantine, con)
        return int(replaced)

    return lake.transaction(body)
