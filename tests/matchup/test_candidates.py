"""Binned candidate join against a brute-force check."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pytest

from tasks.matchup.candidates import find_candidates, normalise_longitude, valid_positions

T0 = np.datetime64("2024-06-01T00:00:00", "us")


def _random(n_obs: int, n_gran: int, seed: int):
    rng = np.random.default_rng(seed)
    obs = pa.table({"obs": np.arange(n_obs, dtype=np.int64),
                    "time": T0 + (rng.uniform(0, 10 * 86400, n_obs) * 1e6).astype("timedelta64[us]"),
                    "latitude": rng.uniform(-90, 90, n_obs), "longitude": rng.uniform(-180, 180, n_obs)})
    start = T0 + (rng.uniform(0, 10 * 86400, n_gran) * 1e6).astype("timedelta64[us]")
    lat0, lon0 = rng.uniform(-90, 80, n_gran), rng.uniform(-180, 165, n_gran)
    gran = pa.table({"gran": np.arange(n_gran, dtype=np.int64), "time_start": start,
                     "time_end": start + np.timedelta64(3, "h"),
                     "lat_min": lat0, "lat_max": np.minimum(lat0 + rng.uniform(1, 25, n_gran), 90),
                     "lon_min": lon0, "lon_max": np.minimum(lon0 + rng.uniform(1, 40, n_gran), 180.0)})
    # a global granule (grid product / dateline-crossing swath box) and a polar one
    gran = pa.concat_tables([gran, pa.table({
        "gran": np.array([n_gran, n_gran + 1], dtype=np.int64), "time_start": [T0, T0 + np.timedelta64(2, "D")],
        "time_end": [T0 + np.timedelta64(1, "D"), T0 + np.timedelta64(3, "D")],
        "lat_min": [-90.0, 80.0], "lat_max": [90.0, 90.0], "lon_min": [-180.0, -180.0], "lon_max": [180.0, 180.0]})])
    return obs, gran


def _brute(obs: pa.Table, gran: pa.Table, window: float, reference: str) -> set[tuple[int, int, float]]:
    t = obs.column("time").to_numpy().astype("datetime64[us]").astype(np.int64) / 1e6
    s0 = gran.column("time_start").to_numpy().astype("datetime64[us]").astype(np.int64) / 1e6
    s1 = gran.column("time_end").to_numpy().astype("datetime64[us]").astype(np.int64) / 1e6
    if reference == "midpoint":
        s0 = s1 = (s0 + s1) / 2
    lat, lon = obs.column("latitude").to_numpy(), obs.column("longitude").to_numpy()
    g = {c: gran.column(c).to_numpy() for c in ("lat_min", "lat_max", "lon_min", "lon_max")}
    out = set()
    for i in range(obs.num_rows):
        inside = ((lat[i] >= g["lat_min"]) & (lat[i] <= g["lat_max"]) & (lon[i] >= g["lon_min"])
                  & (lon[i] <= g["lon_max"]) & (t[i] >= s0 - window) & (t[i] <= s1 + window))
        for j in np.flatnonzero(inside):
            dt = s0[j] - t[i] if t[i] < s0[j] else (s1[j] - t[i] if t[i] > s1[j] else 0.0)
            out.add((i, int(j), round(dt, 3)))
    return out


@pytest.mark.parametrize("reference", ["midpoint", "coverage"])
def test_binned_join_equals_brute_force(reference):
    obs, gran = _random(3000, 400, seed=3)
    window = 3 * 3600.0
    result = find_candidates(obs, gran, window, time_reference=reference)
    got = {(o, g, round(d, 3)) for o, g, d in zip(*(result.column(c).to_pylist() for c in
                                                    ("obs", "gran", "dt_seconds")), strict=True)}
    expected = _brute(obs, gran, window, reference)
    assert got == expected and len(expected) > 100
    assert len(got) == result.num_rows  # no duplicated pair from several shared cells


def test_pole_and_dateline_observations_find_the_global_granule():
    obs = pa.table({"obs": np.array([0, 1, 2], dtype=np.int64), "time": [T0 + np.timedelta64(3, "h")] * 3,
                    "latitude": [90.0, -90.0, 0.0], "longitude": [179.9999, -180.0, 179.99]})
    gran = pa.table({"gran": np.array([7], dtype=np.int64), "time_start": [T0],
                     "time_end": [T0 + np.timedelta64(1, "D")],
                     "lat_min": [-90.0], "lat_max": [90.0], "lon_min": [-180.0], "lon_max": [180.0]})
    result = find_candidates(obs, gran, 3600, time_reference="coverage")
    assert result.column("obs").to_pylist() == [0, 1, 2] and set(result.column("dt_seconds").to_pylist()) == {0}


def test_positions_helpers():
    lat = np.array([0, np.nan, 91, 45, -90])
    lon = np.array([0, 0, 0, 359.5, -180])
    assert valid_positions(lat, lon).tolist() == [True, False, False, True, True]
    assert normalise_longitude(np.array([359.5, 180.0, -180.0])).tolist() == [-0.5, -180.0, -180.0]
    with pytest.raises(ValueError, match="time_reference"):
        find_candidates(pa.table({"obs": [0], "time": [T0], "latitude": [0.0], "longitude": [0.0]}),
                        pa.table({"gran": [0], "time_start": [T0], "time_end": [T0], "lat_min": [0.0],
                                  "lat_max": [1.0], "lon_min": [0.0], "lon_max": [1.0]}), 60, time_reference="x")
