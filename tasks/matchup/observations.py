"""In situ observations for match-ups, read from the lake view of their source (``insitu_sources.yaml``)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from lake_schema.protocols_def import InsituSourceDef
from tasks.matchup.candidates import normalise_longitude, valid_positions


@dataclass
class Observations:
    """One entry per observation.

    Attributes:
        insitu_id / site: identity and site/platform (``n``,).
        time: datetime64[us] (``n``,), naive UTC.
        latitude / longitude: degree (``n``,), longitude in [-180, 180).
        values: in situ variable -> ``(n,)`` for scalar sources, ``(n, m)`` for spectral ones.
        wavelength: spectral sources: the ``(m,)`` wavelengths (nm) of the values' last axis.
        rejected: ``(insitu_id, reason)`` of observations left out (invalid position, conflicting
            duplicates).
        n_duplicates: repeated rows of one observation merged into one.
    """

    insitu_id: np.ndarray
    site: np.ndarray
    time: np.ndarray
    latitude: np.ndarray
    longitude: np.ndarray
    values: dict[str, np.ndarray]
    wavelength: np.ndarray | None = None
    rejected: list[tuple[str, str]] = field(default_factory=list)
    n_duplicates: int = 0

    def __len__(self) -> int:
        return len(self.insitu_id)


def read_observations(con: duckdb.DuckDBPyConnection, source: InsituSourceDef, variables: list[str],
                      start: datetime | None = None, end: datetime | None = None) -> Observations:
    """Observations of ``source`` in ``[start, end)`` with the given in situ variables.

    Args:
        con: a lake connection (``USE lake`` done).
        source: the in situ source definition.
        variables: in situ variables wanted (keys of ``source.values``).
        start: period start (naive UTC, inclusive); None = open.
        end: period end (exclusive); None = open.

    Returns:
        The observations, duplicates merged and invalid positions moved to ``rejected``.
    """
    cols = [f"{source.id_column} as insitu_id", f"cast({source.site_column or 'null'} as varchar) as site",
            f"{source.time_column} as time", f"{source.lat_column} as latitude", f"{source.lon_column} as longitude"]
    if source.wavelength_column:
        cols.append(f"{source.wavelength_column} as wavelength")
    cols += [f"{source.values[v]} as \"{v}\"" for v in variables]
    where = [source.filter or "true", "($start is null or time >= cast($start as timestamp))",
             "($end is null or time < cast($end as timestamp))"]
    sql = f"select {', '.join(cols)} from {source.view} where {' and '.join(where)} order by 1, 3"
    table = con.execute(sql, {"start": start, "end": end}).to_arrow_table()
    if source.wavelength_column:
        return _spectral(table, variables)
    return _scalar(table, variables)


def _positions(table: pa.Table) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    lat = table.column("latitude").to_numpy(zero_copy_only=False).astype(float)
    lon = table.column("longitude").to_numpy(zero_copy_only=False).astype(float)
    return lat, lon, valid_positions(lat, lon)


def _split_invalid(obs: Observations, ok: np.ndarray) -> Observations:
    """Move observations with invalid positions to ``rejected``."""
    for i in np.flatnonzero(~ok):
        obs.rejected.append((str(obs.insitu_id[i]), f"invalid position latitude={float(obs.latitude[i])} "
                                                    f"longitude={float(obs.longitude[i])} (need finite, |lat| <= 90, "
                                                    "lon in [-180, 360))"))
    keep = np.flatnonzero(ok)
    return Observations(
        insitu_id=obs.insitu_id[keep], site=obs.site[keep], time=obs.time[keep], latitude=obs.latitude[keep],
        longitude=normalise_longitude(obs.longitude[keep]), values={k: v[keep] for k, v in obs.values.items()},
        wavelength=obs.wavelength, rejected=obs.rejected, n_duplicates=obs.n_duplicates)


def _scalar(table: pa.Table, variables: list[str]) -> Observations:
    ids = np.asarray(table.column("insitu_id").to_pylist(), dtype=object)
    first = np.ones(len(ids), dtype=bool)
    first[1:] = ids[1:] != ids[:-1]  # rows are ordered by id then time: keep the first of each id
    lat, lon, ok = _positions(table)
    obs = Observations(
        insitu_id=ids[first], site=np.asarray(table.column("site").to_pylist(), dtype=object)[first],
        time=table.column("time").to_numpy(zero_copy_only=False).astype("datetime64[us]")[first],
        latitude=lat[first], longitude=lon[first],
        values={v: table.column(v).to_numpy(zero_copy_only=False).astype(float)[first] for v in variables},
        n_duplicates=int((~first).sum()))
    return _split_invalid(obs, ok[first])


def _spectral(table: pa.Table, variables: list[str]) -> Observations:
    """Pivot long rows (observation, wavelength) to spectra; rows repeated at one wavelength are averaged."""
    if table.num_rows == 0:
        empty = np.array([], dtype=object)
        return Observations(empty, empty, np.array([], "datetime64[us]"), np.array([]), np.array([]),
                            {v: np.empty((0, 0)) for v in variables}, wavelength=np.array([]))
    grouped = table.group_by(["insitu_id", "wavelength"]).aggregate(
        [("site", "min"), ("time", "min"), ("latitude", "mean"), ("longitude", "mean")]
        + [(v, "mean") for v in variables] + [("wavelength", "count")])
    grouped = grouped.sort_by([("insitu_id", "ascending"), ("wavelength", "ascending")])
    ids_long = np.asarray(grouped.column("insitu_id").to_pylist(), dtype=object)
    wl_long = grouped.column("wavelength").to_numpy().astype(float)
    wavelengths, wl_index = np.unique(wl_long, return_inverse=True)
    ids, obs_index = np.unique(ids_long, return_inverse=True)
    first = np.r_[0, np.flatnonzero(ids_long[1:] != ids_long[:-1]) + 1]
    values = {}
    for v in variables:
        grid = np.full((len(ids), len(wavelengths)), np.nan)
        grid[obs_index, wl_index] = grouped.column(f"{v}_mean").to_numpy(zero_copy_only=False).astype(float)
        values[v] = grid
    counts = grouped.column("wavelength_count").to_numpy()
    lat = grouped.column("latitude_mean").to_numpy()[first].astype(float)
    lon = grouped.column("longitude_mean").to_numpy()[first].astype(float)
    obs = Observations(
        insitu_id=ids, site=np.asarray(grouped.column("site_min").to_pylist(), dtype=object)[first],
        time=pc.cast(grouped.column("time_min"), pa.timestamp("us")).to_numpy(zero_copy_only=False)[first],
        latitude=lat, longitude=lon, values=values, wavelength=wavelengths,
        n_duplicates=int((counts - 1).sum()))
    return _split_invalid(obs, valid_positions(lat, lon))
