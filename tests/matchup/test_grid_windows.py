"""Grid windows: real PACE OCI L3m chlor_a as a Zarr v3 cube, and synthetic cubes for every edge case.

Every expectation is computed independently here: nearest pixel by a full argmin over the axis
(ties to the larger coordinate), windows by explicit modular indexing of NaN-padded arrays read with
netCDF4 (real data) or by a loop over cells (synthetic cubes whose values encode their own index).
"""

from __future__ import annotations

import numpy as np
import pytest
import xarray as xr

import tasks.matchup.grid_windows as gw
from tasks.errors import InvalidFile, MissingVariable
from tasks.matchup.grid_windows import extract_grid_windows

PACE = "satellite_pace/PACE_OCI.202406{day}.L3m.DAY.CHL.V3_0.chlor_a.0p1deg.nc"
DAYS = ("14", "15")
DAY_TIMES = np.array(["2024-06-14T12:00", "2024-06-15T12:00"], dtype="datetime64[ns]")
ARGO = [(-6.631, 5.003), (34.2, 26.0), (-9.768, 115.9)]  # real Argo profile positions
NS = np.timedelta64(1, "ns")


# ---------------------------------------------------------------------------------------------
# independent references
# ---------------------------------------------------------------------------------------------


def ref_nearest(coords, x, period=None):
    """Index of the coordinate nearest to x by a full argmin; exact ties go to the larger coordinate."""
    d = np.asarray(coords, np.float64) - x
    if period:
        d = np.where(d >= period / 2, d - period, np.where(d < -period / 2, d + period, d))
    dist = np.abs(d)
    cands = np.flatnonzero(dist == dist.min())
    return int(cands[np.argmax(d[cands])])


def ref_time(times, t):
    """Index of the nearest time; ties go to the later one."""
    d = (times - t) / NS
    cands = np.flatnonzero(np.abs(d) == np.abs(d).min())
    return int(cands[np.argmax(d[cands])])


def index_cube(nt=7, lat=None, lon=None, chunks=None, spectral=False, path=None, times=None):
    """Cube whose float value encodes (t, y, x) as t*1e6 + y*1e3 + x, plus int flags and optional Rrs."""
    lat = np.arange(10.125, 13.0, 0.25) if lat is None else lat
    lon = np.arange(-30.125, -26.0, 0.25) if lon is None else lon
    times = DAY_TIMES[0] + np.arange(nt) * np.timedelta64(1, "D") if times is None else times
    t, y, x = np.meshgrid(np.arange(len(times)), np.arange(lat.size), np.arange(lon.size), indexing="ij")
    code = t * 1e6 + y * 1e3 + x
    data = {"chl": (("time", "lat", "lon"), code.astype(np.float64)),
            "flags": (("time", "lat", "lon"), (code % 2**31).astype(np.int32))}
    wl = np.array([412.0, 443.0, 490.0])
    if spectral:  # wavelength NOT last on disk: (time, wavelength, lat, lon)
        data["Rrs"] = (("time", "wavelength", "lat", "lon"), code[:, None] + 0.1 * np.arange(3)[None, :, None, None])
    ds = xr.Dataset(data, coords={"time": times, "lat": lat, "lon": lon, **({"wavelength": wl} if spectral else {})})
    if path is None:
        return ds
    ct, cy, cx = chunks
    enc = {"chl": {"chunks": (ct, cy, cx)}, "flags": {"chunks": (ct, cy, cx)}}
    if spectral:
        enc["Rrs"] = {"chunks": (ct, 3, cy, cx)}
    ds.to_zarr(path, zarr_format=3, mode="w", encoding=enc, consolidated=False)
    return xr.open_zarr(path, consolidated=False)


def ref_windows(ds, name, plat, plon, ptime, ht, hs, cyclic, max_offset=None):
    """Windows of ``name`` by loops over cells (pad NaN / 0), plus found and inside masks."""
    lat, lon, times = ds.lat.values, ds.lon.values, ds.time.values
    arr = ds[name].transpose("time", "lat", "lon", ...).values
    integer = arr.dtype.kind in "iu"
    nt, ny, nx = arr.shape[:3]
    w = 2 * hs + 1
    out = np.full((len(plat), 2 * ht + 1, w, w) + arr.shape[3:], 0 if integer else np.nan,
                  np.int64 if integer else np.float64)
    inside = np.zeros((len(plat), 2 * ht + 1, w, w), bool)
    found = np.zeros(len(plat), bool)
    dlat, dlon = abs(lat[1] - lat[0]) * 1.001, (lon[1] - lon[0]) * 1.001  # pixel edges + 0.1 % of a step
    for k, (a, o, t) in enumerate(zip(plat, plon, ptime, strict=True)):
        if not (np.isfinite(a) and np.isfinite(o) and abs(a) <= 90 and -180 <= o < 360) or np.isnat(t):
            continue
        o = o - 360 if o >= 180 else o
        if not (lat.min() - dlat / 2 <= a <= lat.max() + dlat / 2):
            continue
        if not cyclic and not (lon.min() - dlon / 2 <= o <= lon.max() + dlon / 2):
            continue
        tc, yc, xc = ref_time(times, t), ref_nearest(lat, a), ref_nearest(lon, o, 360 if cyclic else None)
        if max_offset is not None and abs(times[tc] - t) > max_offset:
            continue
        found[k] = True
        for i in range(2 * ht + 1):
            for j in range(w):
                for m in range(w):
                    ti, yi, xi = tc - ht + i, yc - hs + j, xc - hs + m
                    if cyclic:
                        xi %= nx
                    if 0 <= ti < nt and 0 <= yi < ny and 0 <= xi < nx:
                        inside[k, i, j, m] = True
                        out[k, i, j, m] = arr[ti, yi, xi]
    return out, found, inside


def assert_matches(win, ds, names, plat, plon, ptime, ht, hs, cyclic, max_offset=None):
    for name in names:
        expected, found, inside = ref_windows(ds, name, plat, plon, ptime, ht, hs, cyclic, max_offset)
        np.testing.assert_array_equal(win.found, found)
        np.testing.assert_array_equal(win.inside, inside)
        assert win.values[name].dtype == expected.dtype
        np.testing.assert_array_equal(win.values[name], expected, err_msg=name)


# ---------------------------------------------------------------------------------------------
# real data: two days of PACE OCI L3m chlor_a 0.1 deg (global, lat descending) as a Zarr v3 cube
# ---------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def pace(realdata, tmp_path_factory):
    """(lazy Zarr v3 cube, netCDF4 arrays (t, y, x) NaN-filled, lat, lon) of the two real days."""
    import netCDF4

    paths = [realdata / PACE.format(day=d) for d in DAYS]
    fields = []
    for path in paths:
        with netCDF4.Dataset(path) as nc:
            nc.set_auto_maskandscale(False)
            v = nc["chlor_a"][:]
            fields.append(np.where(v == nc["chlor_a"]._FillValue, np.nan, v).astype(np.float32))
            lat, lon = nc["lat"][:], nc["lon"][:]
    days = [xr.open_dataset(p, engine="netcdf4")[["chlor_a"]].expand_dims(time=[t]) for p, t in zip(paths, DAY_TIMES,
                                                                                                      strict=True)]
    cube = xr.concat(days, dim="time")
    for name in list(cube.chlor_a.encoding):
        cube.chlor_a.encoding.pop(name)
    store = tmp_path_factory.mktemp("pace") / "cube.zarr"
    cube.to_zarr(store, zarr_format=3, mode="w", consolidated=False,
                 encoding={"chlor_a": {"chunks": (1, 512, 512)}})
    lazy = xr.open_zarr(store, consolidated=False)
    assert lazy.chlor_a.chunks is not None and lazy.lat.values[0] > lazy.lat.values[-1]  # lazy, lat descending
    return lazy, np.stack(fields), lat.astype(np.float64), lon.astype(np.float64)


def pace_reference(fields, lat, lon, plat, plon, ptime, ht, hs):
    """Windows from the netCDF4 arrays: NaN-padded in time/lat, explicit modular index in lon."""
    padded = np.pad(fields, ((ht, ht), (hs, hs), (0, 0)), constant_values=np.nan)
    w, nx = 2 * hs + 1, lon.size
    out = np.empty((len(plat), 2 * ht + 1, w, w))
    centre = np.empty((len(plat), 3), np.int64)
    for k, (a, o, t) in enumerate(zip(plat, plon, ptime, strict=True)):
        tc, yc, xc = ref_time(DAY_TIMES, t), ref_nearest(lat, a), ref_nearest(lon, o - 360 if o >= 180 else o, 360)
        cols = np.arange(xc - hs, xc + hs + 1) % nx
        out[k] = padded[tc:tc + 2 * ht + 1, yc:yc + w][:, :, cols]
        centre[k] = tc, yc, xc
    return out, centre


@pytest.mark.realdata
def test_pace_windows_at_valid_pixels(pace):
    cube, fields, lat, lon = pace
    rng = np.random.default_rng(7)
    iy, ix = np.nonzero(np.isfinite(fields[0]))
    pick = rng.choice(iy.size, 300, replace=False)
    plat = lat[iy[pick]] + rng.uniform(-0.045, 0.045, 300)
    plon = lon[ix[pick]] + rng.uniform(-0.045, 0.045, 300)
    ptime = DAY_TIMES[0] + rng.integers(-10, 11, 300) * np.timedelta64(1, "h")
    win = extract_grid_windows(cube, ["chlor_a"], plat, plon, ptime, half_time=1, half_size=2)
    expected, centre = pace_reference(fields, lat, lon, plat, plon, ptime, 1, 2)
    np.testing.assert_array_equal(win.center_index, centre)
    np.testing.assert_array_equal(win.values["chlor_a"], expected)
    assert win.found.all()
    # every centre is the valid pixel the point was placed in, on the first day (time slice 1 of the window)
    np.testing.assert_array_equal(win.values["chlor_a"][:, 1, 2, 2], fields[0, iy[pick], ix[pick]])
    assert not np.isnan(win.values["chlor_a"][:, 1, 2, 2]).any()
    # the first day has no earlier slice: padded, flagged partial; day 2 is read too
    assert not win.inside[:, 0].any() and win.inside[:, 1:].all() and win.partial.all()
    assert np.isnan(win.values["chlor_a"][:, 0]).all()
    assert np.isfinite(win.values["chlor_a"][:, 2]).any()
    np.testing.assert_array_equal(win.center_lat, lat[iy[pick]])
    assert (win.distance_m < 0.0452 * np.sqrt(2) * 111_200).all()
    assert (win.center_time == DAY_TIMES[0]).all()


@pytest.mark.realdata
def test_pace_windows_at_argo_dateline_and_poles(pace):
    cube, fields, lat, lon = pace
    rows = np.flatnonzero(np.isfinite(fields[1][:, -2:]).any(1) & np.isfinite(fields[1][:, :2]).any(1))
    assert rows.size, "day 2 should have valid pixels on both sides of the dateline"
    dl = float(lat[rows[0]])
    pts = ARGO + [(dl, 179.97), (dl, -179.97), (dl, 180.02), (dl, 180.0), (89.96, 10.0), (-89.96, -170.0)]
    plat, plon = np.array([p[0] for p in pts]), np.array([p[1] for p in pts])
    ptime = np.full(len(pts), np.datetime64("2024-06-15T03:00", "ns"))
    win = extract_grid_windows(cube, ["chlor_a"], plat, plon, ptime, half_time=0, half_size=2)
    expected, centre = pace_reference(fields, lat, lon, plat, plon, ptime, 0, 2)
    np.testing.assert_array_equal(win.center_index, centre)
    np.testing.assert_array_equal(win.values["chlor_a"], expected)
    assert win.found.all() and (centre[:, 0] == 1).all()
    # the real Argo windows hold data on day 2 (34.2N 26.0E lies exactly between pixel centres)
    assert np.isfinite(win.values["chlor_a"][1]).sum() == 25 and np.isfinite(win.values["chlor_a"][2]).any()
    # dateline: centre columns 3599 / 0, windows wrap and stay complete, with data from both sides
    # (180.0 = -180.0: the float32 column centre 179.95001 is nearer than -179.94999)
    assert tuple(win.center_index[3:7, 2]) == (3599, 0, 0, 3599)
    assert win.inside[3:7].all() and not win.partial[3:7].any()
    for k in (3, 4):
        v = win.values["chlor_a"][k, 0]
        east_cols = slice(0, 3) if k == 3 else slice(0, 2)  # columns east of the dateline: 179.x
        assert np.isfinite(v[:, east_cols]).any() and np.isfinite(v[:, 3:] if k == 3 else v[:, 2:]).any()
    np.testing.assert_array_equal(win.values["chlor_a"][5], win.values["chlor_a"][4])  # 180.02 == -179.98
    assert -180 <= win.center_lon.min() and win.center_lon.max() < 180
    # poles: rows beyond the pole are padding, found but partial
    assert tuple(win.center_index[7:, 1]) == (0, 1799)
    assert not win.inside[7, 0, :2].any() and win.inside[7, 0, 2:].all()
    assert not win.inside[8, 0, 3:].any() and win.inside[8, 0, :3].all()
    assert win.partial[7:].all() and np.isnan(win.values["chlor_a"][7, 0, :2]).all()


@pytest.mark.realdata
def test_pace_matches_pytcube_where_it_keeps_points(pace):
    pytest.importorskip("pytcube")  # registers the .pytcube accessor
    cube, fields, lat, lon = pace
    rng = np.random.default_rng(3)
    n = 400
    plat, plon = rng.uniform(-89.9, 89.9, n), rng.uniform(-180, 180, n)
    plat[:2] = 89.93, -89.87  # windows crossing a pole: pytcube drops them
    ptime = DAY_TIMES[0] + rng.integers(0, 36, n) * np.timedelta64(1, "h")
    asc = cube.isel(lat=slice(None, None, -1))  # pytcube needs ascending coordinates (np.searchsorted)
    res = asc.pytcube.colocation(time=ptime, lat=plat, lon=plon, search_window={"time": 0, "lat": 2, "lon": 2},
                                 cyclic_dims=["lon"])
    kept = res.obs.values.astype(int)
    assert 300 < kept.size < n - 1 and 0 not in kept and 1 not in kept
    win = extract_grid_windows(cube, ["chlor_a"], plat, plon, ptime, half_time=0, half_size=2)
    ours = win.values["chlor_a"][kept][:, :, ::-1]  # our lat axis is the cube's (descending)
    np.testing.assert_array_equal(ours, res.chlor_a.values.astype(np.float64))
    assert win.found.all() and not win.partial[kept].any()
    dropped = np.setdiff1d(np.arange(n), kept)
    assert win.partial[dropped].all()


# ---------------------------------------------------------------------------------------------
# synthetic cubes
# ---------------------------------------------------------------------------------------------


def random_points(rng, n, lat, lon, times, margin):
    plat = rng.uniform(lat.min() - margin, lat.max() + margin, n)
    plon = rng.uniform(lon.min() - margin, lon.max() + margin, n)
    ptime = times[0] + rng.uniform(-1.5, len(times) + 0.5, n) * np.timedelta64(1, "D")
    return plat, plon, ptime.astype("datetime64[ns]")


@pytest.mark.parametrize(("chunks", "ht", "hs"), [((1, 4, 5), 2, 2), ((3, 5, 4), 1, 3), ((7, 12, 17), 3, 1),
                                                  ((2, 2, 2), 0, 4)])
def test_regional_ascending_grid_against_reference(tmp_path, chunks, ht, hs):
    cube = index_cube(chunks=chunks, spectral=True, path=tmp_path / "c.zarr")
    assert cube.lat.values[1] > cube.lat.values[0] and not gw._Grid.of(cube).lon.cyclic
    rng = np.random.default_rng(sum(chunks) + ht + hs)
    plat, plon, ptime = random_points(rng, 300, cube.lat.values, cube.lon.values, cube.time.values, 0.6)
    win = extract_grid_windows(cube, ["chl", "flags", "Rrs"], plat, plon, ptime, half_time=ht, half_size=hs,
                               batch_points=97)
    assert_matches(win, cube.load(), ["chl", "flags", "Rrs"], plat, plon, ptime, ht, hs, cyclic=False)
    assert 0 < win.found.sum() < 300 and win.partial.any() and (win.found & ~win.partial).any()
    assert win.values["flags"].dtype == np.int64 and (win.values["flags"][~win.inside] == 0).all()
    assert win.values["Rrs"].shape == (300, 2 * ht + 1, 2 * hs + 1, 2 * hs + 1, 3)
    np.testing.assert_array_equal(win.wavelengths["Rrs"], [412.0, 443.0, 490.0])
    assert "chl" not in win.wavelengths


def test_lon_edge_padding_and_outside_points_of_a_regional_grid(tmp_path):
    cube = index_cube(chunks=(2, 4, 4), path=tmp_path / "c.zarr")
    lat, lon = cube.lat.values, cube.lon.values  # lat 10.125..12.875, lon -30.125..-26.125 (step .25)
    t = np.full(6, cube.time.values[3])
    plat = np.array([11.0, 11.0, 11.0, 11.0, 9.9, 13.2])
    plon = np.array([lon[-1] + 0.1, lon[-1] + 0.2, lon[0] - 0.12, lon[0] - 0.2, -28.0, -28.0])
    win = extract_grid_windows(cube, ["chl"], plat, plon, t, half_time=0, half_size=2)
    np.testing.assert_array_equal(win.found, [True, False, True, False, False, False])
    nx = lon.size
    assert win.center_index[0, 2] == nx - 1 and win.center_index[2, 2] == 0
    np.testing.assert_array_equal(win.inside[0, 0, 0], [True, True, True, False, False])  # no wrap east
    np.testing.assert_array_equal(win.inside[2, 0, 0], [False, False, True, True, True])
    assert np.isnan(win.values["chl"][0, 0, :, 3:]).all() and np.isfinite(win.values["chl"][0, 0, :, :3]).all()
    assert win.partial[[0, 2]].all()
    assert not win.inside[[1, 3, 4, 5]].any() and np.isnan(win.values["chl"][[1, 3, 4, 5]]).all()
    assert lat[0] < lat[-1]


@pytest.mark.parametrize("chunks", [(1, 5, 7), (3, 18, 36), (2, 4, 3)])
def test_global_cyclic_grid_against_reference(tmp_path, chunks):
    lat, lon = np.arange(85.0, -90.0, -10.0), np.arange(-175.0, 180.0, 10.0)  # 18 x 36, lat descending
    cube = index_cube(nt=5, lat=lat, lon=lon, chunks=chunks, path=tmp_path / "g.zarr")
    assert gw._Grid.of(cube).lon.cyclic
    rng = np.random.default_rng(chunks[2])
    plat, plon, ptime = random_points(rng, 400, np.array([-90.0, 90.0]), np.array([-180.0, 359.0]),
                                      cube.time.values, 0.0)
    plat[:4] = [89.9, -89.9, 0.0, 5.0]  # poles; exact lat tie 0.0 -> 5 (north)
    plon[:4] = [179.9, -179.9, 180.0, 360.0 - 1e-9]
    win = extract_grid_windows(cube, ["chl", "flags"], plat, plon, ptime, half_time=1, half_size=3)
    assert_matches(win, cube.load(), ["chl", "flags"], plat, plon, ptime, 1, 3, cyclic=True)
    assert win.found.all() and (win.inside == win.inside[:, :, :, :1]).all()  # lon is never padded
    assert win.center_index[2, 1] == 8 and lat[8] == 5.0


def test_nan_and_out_of_range_points(tmp_path):
    cube = index_cube(nt=3, lat=np.arange(-89.5, 90), lon=np.arange(-179.5, 180), chunks=(1, 60, 60),
                      path=tmp_path / "c.zarr")
    t = cube.time.values[1]
    plat = np.array([np.nan, 0.0, 90.5, -91.0, 0.0, 0.0, 0.0, 10.0])
    plon = np.array([0.0, np.nan, 0.0, 0.0, 360.0, -180.5, 400.0, 10.0])
    ptime = np.array([t] * 7 + [np.datetime64("NaT")], dtype="datetime64[ns]")
    win = extract_grid_windows(cube, ["chl", "flags"], plat, plon, ptime, half_time=1, half_size=1)
    assert not win.found.any() and not win.inside.any() and not win.partial.any()
    assert np.isnan(win.values["chl"]).all() and (win.values["flags"] == 0).all()
    assert (win.center_index == -1).all() and np.isnat(win.center_time).all()
    assert np.isnan(win.distance_m).all() and np.isnan(win.center_lat).all() and np.isnan(win.center_lon).all()


def test_time_edges_nearest_and_max_offset(tmp_path):
    times = np.array(["2024-01-01", "2024-01-02", "2024-01-05", "2024-01-06"], dtype="datetime64[ns]")  # irregular
    cube = index_cube(times=times, chunks=(3, 4, 4), path=tmp_path / "c.zarr")
    ptime = np.array(["2023-12-20", "2024-01-01T12:00", "2024-01-03T12:00", "2024-01-03T11:00", "2024-01-07",
                      "2024-01-09"], dtype="datetime64[ns]")
    n = ptime.size
    plat, plon = np.full(n, 11.5), np.full(n, -28.0)
    win = extract_grid_windows(cube, ["chl"], plat, plon, ptime, half_time=2, half_size=1)
    # nearest slice, ties to the later one; any offset accepted without max_time_offset
    np.testing.assert_array_equal(win.center_index[:, 0], [0, 1, 2, 1, 3, 3])
    assert win.found.all()
    np.testing.assert_array_equal(win.inside[:, :, 1, 1], [[0, 0, 1, 1, 1], [0, 1, 1, 1, 1], [1, 1, 1, 1, 0],
                                                           [0, 1, 1, 1, 1], [1, 1, 1, 0, 0], [1, 1, 1, 0, 0]])
    chl = win.values["chl"][:, :, 1, 1]
    np.testing.assert_array_equal(chl[0, 2:] // 1e6, [0, 1, 2])  # first slice: earlier slices padded
    assert np.isnan(chl[0, :2]).all() and np.isnan(chl[4, 3:]).all()
    np.testing.assert_array_equal(win.center_time, times[[0, 1, 2, 1, 3, 3]])
    assert win.partial.all()
    limited = extract_grid_windows(cube, ["chl"], plat, plon, ptime, half_time=2, half_size=1,
                                   max_time_offset=np.timedelta64(36, "h"))
    np.testing.assert_array_equal(limited.found, [False, True, True, True, True, False])
    assert np.isnan(limited.values["chl"][[0, 5]]).all() and not limited.inside[[0, 5]].any()
    np.testing.assert_array_equal(limited.values["chl"][1:5], win.values["chl"][1:5])
    assert_matches(limited, cube.load(), ["chl"], plat, plon, ptime, 2, 1, cyclic=False,
                   max_offset=np.timedelta64(36, "h"))


def test_ties_go_north_and_east(tmp_path):
    cube = index_cube(chunks=(1, 3, 3), path=tmp_path / "c.zarr")  # lat 10.125 + .25 k, lon -30.125 + .25 k
    win = extract_grid_windows(cube, ["chl"], np.array([10.25, 10.2499]), np.array([-30.0, -30.0001]),
                               np.full(2, cube.time.values[0]), half_size=0)
    np.testing.assert_array_equal(win.center_index[:, 1:], [[1, 1], [0, 0]])
    np.testing.assert_array_equal(win.values["chl"][:, 0, 0, 0], [1001.0, 0.0])


def test_read_paths_agree_and_each_chunk_is_read_once_per_batch(tmp_path, monkeypatch):
    path = tmp_path / "c.zarr"
    lazy = index_cube(nt=9, lat=np.arange(-89.5, 90), lon=np.arange(-179.5, 180), chunks=(2, 40, 50),
                      spectral=True, path=path)
    rng = np.random.default_rng(11)
    plat, plon, ptime = random_points(rng, 3000, lazy.lat.values, lazy.lon.values, lazy.time.values, 0.0)
    boxes = []
    read = gw._Reader.read
    monkeypatch.setattr(gw._Reader, "read", lambda self, box: boxes.append(box) or read(self, box))
    assert gw._direct_backend(lazy.chl.variable) is not None  # open_zarr: the lazy backend array, no dask
    ref = extract_grid_windows(lazy, ["chl", "Rrs"], plat, plon, ptime, half_time=2, half_size=2)
    ncells = {}
    for (t0, t1), (y0, y1), (x0, x1) in boxes:
        for t in range(t0, t1, 2):
            for y in range(y0, y1, 40):
                for x in range(x0, x1, 50):
                    ncells[(t, y, x)] = ncells.get((t, y, x), 0) + 1
    assert max(ncells.values()) == 2  # once for chl, once for Rrs
    assert len(ncells) == 5 * 5 * 8  # dense points: every chunk of the cube is needed
    for other in (lazy.chunk({"time": 3, "lat": 25, "lon": 70}),  # dask graph beyond from_array: read via dask
                  xr.open_zarr(path, consolidated=False, chunks=None),  # lazy backend arrays without dask
                  lazy.compute()):  # in memory
        assert other.chl.chunks is None or gw._direct_backend(other.chl.variable) is None
        win = extract_grid_windows(other, ["chl", "Rrs"], plat, plon, ptime, half_time=2, half_size=2,
                                   batch_points=700)
        for name in ("chl", "Rrs"):
            np.testing.assert_array_equal(win.values[name], ref.values[name])
        np.testing.assert_array_equal(win.inside, ref.inside)


def test_sparse_points_read_only_their_chunks(tmp_path, monkeypatch):
    cube = index_cube(nt=10, lat=np.arange(-89.5, 90), lon=np.arange(-179.5, 180), chunks=(1, 30, 30),
                      path=tmp_path / "c.zarr")
    boxes = []
    read = gw._Reader.read
    monkeypatch.setattr(gw._Reader, "read", lambda self, box: boxes.append(box) or read(self, box))
    t = cube.time.values
    win = extract_grid_windows(cube, ["chl"], np.array([45.2, -10.3, -75.2]), np.array([100.0, -20.2, -140.2]),
                               np.array([t[4], t[4], t[7]]), half_time=1, half_size=2)
    assert win.found.all() and not win.partial.any()
    # times 3-5: two far-apart chunks, read separately (not their bounding box); times 6-8: one chunk
    assert len(boxes) == 9 and all((y1 - y0, x1 - x0) == (30, 30) for _, (y0, y1), (x0, x1) in boxes)
    assert sorted({b[0] for b in boxes}) == [(t, t + 1) for t in range(3, 9)]


def test_lake_cube_through_open_cube(settings):
    from tasks.cubes import open_cube, write_cube

    ds = index_cube(nt=4, lat=np.arange(-89.5, 90), lon=np.arange(-179.5, 180))
    for name in ("chl", "flags"):
        ds[name].encoding["chunks"] = (1, 64, 64)
    write_cube(settings, "grid_windows_test", ds, "test cube")
    cube = open_cube(settings, "grid_windows_test")
    assert gw._direct_backend(cube.chl.variable) is not None
    plat, plon = np.array([0.3, -45.6, 88.0]), np.array([179.8, 12.0, -3.0])
    ptime = cube.time.values[[0, 2, 3]]
    win = extract_grid_windows(cube, ["chl", "flags"], plat, plon, ptime, half_time=1, half_size=2)
    assert_matches(win, ds, ["chl", "flags"], plat, plon, ptime, 1, 2, cyclic=True)


def test_errors(tmp_path):
    cube = index_cube()
    with pytest.raises(MissingVariable, match="Rrs"):
        extract_grid_windows(cube, ["Rrs"], [1.0], [1.0], [cube.time.values[0]])
    bad = cube.assign_coords(lat=np.r_[cube.lat.values[:-1], 20.0])
    with pytest.raises(InvalidFile, match="not regularly spaced"):
        extract_grid_windows(bad, ["chl"], [11.0], [-28.0], [cube.time.values[0]])
    with pytest.raises(ValueError, match="one length"):
        extract_grid_windows(cube, ["chl"], [11.0, 12.0], [-28.0], [cube.time.values[0]])
    empty = extract_grid_windows(cube, ["chl"], np.zeros(0), np.zeros(0), np.zeros(0, "datetime64[ns]"))
    assert empty.values["chl"].shape == (0, 1, 5, 5) and empty.found.shape == (0,) and empty.inside.shape[0] == 0
