"""Candidate search: which granules may hold a pixel for which observation (DuckDB binned join).

Plain range joins (``BETWEEN`` on latitude, longitude and time) make DuckDB compare every pair.
Instead both sides are expanded to space-time cells (``CELL_DEG`` x ``CELL_DEG`` degrees x one
day): each observation falls in one cell, each granule bounding box (widened by the protocol's
time window) covers a few; an equi-join on the cell finds the pairs sharing a cell, then the
exact predicate (inside the box and the time window) keeps the true candidates.
"""

from __future__ import annotations

import duckdb
import numpy as np
import pyarrow as pa

#: Cell edge in degrees: large enough that a swath granule covers few cells, small enough that
#: a cell holds few granules of one day.
CELL_DEG = 10.0
DAY_S = 86_400


def find_candidates(observations: pa.Table, granules: pa.Table, max_time_difference_s: float, *,
                    time_reference: str = "midpoint", cell_deg: float = CELL_DEG, margin_deg: float = 0.0,
                    con: duckdb.DuckDBPyConnection | None = None) -> pa.Table:
    """Pairs (observation, granule) whose granule box holds the observation within the time window.

    Args:
        observations: ``obs`` (int64 row id), ``time`` (timestamp), ``latitude``, ``longitude`` (degree);
            positions must be valid (finite, |lat| <= 90, lon in [-180, 180)).
        granules: ``gran`` (int64 row id), ``time_start``, ``time_end`` (timestamp), ``lon_min``,
            ``lat_min``, ``lon_max``, ``lat_max`` (degree).
        max_time_difference_s: largest accepted time difference (s).
        time_reference: ``midpoint``: |t_obs - (time_start + time_end) / 2| <= max; ``coverage``:
            t_obs within [time_start - max, time_end + max].
        cell_deg: cell edge (degree).
        margin_deg: widen every box by this much (degree): bounding boxes of pixel centres miss the
            outer half pixel (e.g. a global 0.1 degree grid ends at 89.95 N and 179.95 E).
        con: DuckDB connection to use (a new in-memory one by default).

    Returns:
        Arrow table ``obs``, ``gran``, ``dt_seconds`` (t_satellite - t_insitu by the reference rule:
        midpoint difference, or 0 inside the coverage and the distance to its nearest end outside).
    """
    own = con is None
    con = con or duckdb.connect()
    try:
        con.register("cand_obs", observations)
        con.register("cand_gran", granules)
        window = float(max_time_difference_s)
        if time_reference == "midpoint":
            sat_t0 = "epoch(time_start) + (epoch(time_end) - epoch(time_start)) / 2"
            sat_t1 = sat_t0
        elif time_reference == "coverage":
            sat_t0, sat_t1 = "epoch(time_start)", "epoch(time_end)"
        else:
            raise ValueError(f"time_reference must be midpoint or coverage, got {time_reference!r}")
        sql = f"""
        with obs as (
            select obs, epoch(time) as t, latitude as lat, longitude as lon,
                   cast(floor(latitude / $cell) as integer) as cy,
                   cast(floor(longitude / $cell) as integer) as cx,
                   cast(floor(epoch(time) / {DAY_S}) as integer) as cd
            from cand_obs
        ),
        gran as (
            select gran, {sat_t0} as s0, {sat_t1} as s1, lat_min - $margin as lat_min, lat_max + $margin as lat_max,
                   lon_min - $margin as lon_min, lon_max + $margin as lon_max
            from cand_gran
        ),
        cells as (
            select gran, s0, s1, lat_min, lat_max, lon_min, lon_max, cy, cx, cd
            from gran,
                 range(cast(floor(greatest(lat_min, -90) / $cell) as integer),
                       cast(floor(least(lat_max, 90) / $cell) as integer) + 1) as ry(cy),
                 range(cast(floor(greatest(lon_min, -180) / $cell) as integer),
                       cast(floor(least(lon_max, 179.999999) / $cell) as integer) + 1) as rx(cx),
                 range(cast(floor((s0 - $window) / {DAY_S}) as integer),
                       cast(floor((s1 + $window) / {DAY_S}) as integer) + 1) as rd(cd)
        )
        select o.obs, c.gran,
               case when o.t < c.s0 then c.s0 - o.t when o.t > c.s1 then c.s1 - o.t else 0 end as dt_seconds
        from obs as o
        join cells as c using (cy, cx, cd)
        where o.lat between c.lat_min and c.lat_max
          and o.lon between c.lon_min and c.lon_max
          and o.t between c.s0 - $window and c.s1 + $window
        order by o.obs, c.gran
        """
        return con.execute(sql, {"cell": float(cell_deg), "window": window,
                                  "margin": float(margin_deg)}).to_arrow_table()
    finally:
        con.unregister("cand_obs")
        con.unregister("cand_gran")
        if own:
            con.close()


def valid_positions(latitude: np.ndarray, longitude: np.ndarray) -> np.ndarray:
    """Bool mask of usable positions: finite, |lat| <= 90, lon in [-180, 360)."""
    lat, lon = np.asarray(latitude, dtype=float), np.asarray(longitude, dtype=float)
    return np.isfinite(lat) & np.isfinite(lon) & (np.abs(lat) <= 90) & (lon >= -180) & (lon < 360)


def normalise_longitude(longitude: np.ndarray) -> np.ndarray:
    """Longitudes in [-180, 180)."""
    return (np.asarray(longitude, dtype=float) + 180.0) % 360.0 - 180.0
