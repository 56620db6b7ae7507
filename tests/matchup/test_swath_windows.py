"""Swath windows: real OLCI C2RCC subset through the lake, and synthetic dateline / pole / NaN swaths.

Every expectation is computed independently here: nearest pixel by a full haversine over all
pixels + argmin, windows by explicit slicing of NaN/0-padded arrays.
"""

from __future__ import annotations

import numpy as np
import pytest
import xarray as xr

import tasks.matchup.swath_windows as sw
from tasks.errors import MissingVariable
from tasks.matchup.swath_windows import SwathIndex, extract_swath_windows

R = 6_371_008.8
OLCI = "satellite_olci/O_L2_0001_SNS_2017105095839_v1.0.nc"
O1BE = (51.246, 2.919)  # PANTHYR station Oostende (AERONET-OC O1BE)


# ---------------------------------------------------------------------------------------------
# independent references
# ---------------------------------------------------------------------------------------------


def brute_nearest(lat2d, lon2d, plat, plon):
    """(iy, ix, distance_m) of the nearest pixel by a full haversine over every pixel."""
    p1, p2 = np.radians(plat)[:, None, None], np.radians(lat2d)[None]
    dlon = np.radians(lon2d[None] - np.asarray(plon)[:, None, None])
    a = np.sin((p2 - p1) / 2) ** 2 + np.cos(p1) * np.cos(p2) * np.sin(dlon / 2) ** 2
    d = 2 * R * np.arcsin(np.sqrt(np.clip(a, 0, 1)))
    d = np.where(np.isnan(d), np.inf, d).reshape(len(plat), -1)
    k = d.argmin(axis=1)
    iy, ix = np.unravel_index(k, lat2d.shape)
    return iy, ix, d[np.arange(len(plat)), k]


def brute_window(arr, iy, ix, h, pad):
    """Window (2h+1, 2h+1[, ...]) of ``arr`` (y, x[, ...]) around (iy, ix) by slicing a padded copy."""
    widths = [(h, h), (h, h)] + [(0, 0)] * (arr.ndim - 2)
    padded = np.pad(arr, widths, constant_values=pad)
    return padded[iy:iy + 2 * h + 1, ix:ix + 2 * h + 1]


def assert_windows(win, ds, k, iy, ix, h, names):
    """Point k's windows of ``names`` equal explicit slices of the granule around (iy, ix)."""
    assert win.found[k]
    assert tuple(win.center_index[k]) == (0, iy, ix)
    for name in names:
        arr = ds[name].transpose("y", "x", ...).values
        integer = name == "flags"
        expected = brute_window(arr.astype(np.int64 if integer else np.float64), iy, ix, h, 0 if integer else np.nan)
        np.testing.assert_array_equal(win.values[name][k, 0], expected, err_msg=f"{name} point {k}")
    inside = brute_window(np.ones(ds["latitude"].shape, bool), iy, ix, h, False)
    np.testing.assert_array_equal(win.inside[k, 0], inside)


def assert_not_found(win, k):
    assert not win.found[k]
    assert not win.inside[k].any()
    assert np.isnan(win.distance_m[k]) and np.isnan(win.center_lat[k]) and np.isnan(win.center_lon[k])
    assert (win.center_index[k] == -1).all()
    for name, values in win.values.items():
        if values.dtype == np.int64:
            assert (values[k] == 0).all(), name
        else:
            assert np.isnan(values[k]).all(), name


def outward(lat2d, lon2d, edge, inner, k):
    """Position k pixel steps beyond pixel ``edge`` in the direction inner -> edge."""
    return (lat2d[edge] + k * (lat2d[edge] - lat2d[inner]), lon2d[edge] + k * (lon2d[edge] - lon2d[inner]))


# ---------------------------------------------------------------------------------------------
# real data: SNAP C2RCC OLCI subset, southern North Sea, through a lake cube group
# ---------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def olci_granule(realdata):
    import lake_schema
    from tasks.readers.registry import open_granule

    path = realdata / OLCI
    if not path.exists():
        pytest.skip(f"{path} is absent")
    granule = open_granule(lake_schema.product("olci-c2rcc"), path)
    return granule.granule_id, granule.dataset.load()


@pytest.fixture
def olci_lake(olci_granule, settings):
    """The granule written to a cube group and opened lazily with open_cube (chunks 32 x 40)."""
    from tasks.cubes import open_cube, write_cube

    granule_id, ds = olci_granule
    # as ingest_satellite stores it: decoded values (uint32 flags, float32 with NaN), no source packing
    stored = ds.drop_encoding().chunk({"y": 32, "x": 40, "wavelength": -1})
    write_cube(settings, "olci-c2rcc", stored, "test", group=granule_id)
    lazy = open_cube(settings, "olci-c2rcc", group=granule_id)
    assert lazy["rrs"].chunks is not None, "open_cube must stay lazy"
    return lazy, ds


def olci_points(lat, lon):
    """Real positions: O1BE, off-centre points at valid pixels, edge/corner points, far/off-swath and NaN."""
    pts, kinds = [], []
    pts.append(O1BE)
    kinds.append("far")
    for iy, ix in [(43, 50), (20, 75), (70, 12), (5, 3)]:  # off-centre inside pixel (iy, ix)
        pts.append((lat[iy, ix] + 0.3 * (lat[iy + 1, ix] - lat[iy, ix]) + 0.2 * (lat[iy, ix + 1] - lat[iy, ix]),
                    lon[iy, ix] + 0.3 * (lon[iy + 1, ix] - lon[iy, ix]) + 0.2 * (lon[iy, ix + 1] - lon[iy, ix])))
        kinds.append("inside")
    pts.append(outward(lat, lon, (0, 37), (1, 37), 0.3))  # just off the first row: still its footprint
    kinds.append("edge")
    pts.append(outward(lat, lon, (85, 99), (84, 98), 0.2))  # just off the last corner
    kinds.append("edge")
    pts.append(outward(lat, lon, (0, 37), (1, 37), 2.0))  # two pixels beyond the first row
    kinds.append("off")
    pts.append(outward(lat, lon, (40, 99), (40, 98), 1.5))  # 1.5 pixels beyond the last column
    kinds.append("off")
    pts.append((np.nan, 3.3))
    kinds.append("nan")
    pts.append((95.0, 3.3))
    kinds.append("nan")
    plat, plon = (np.array(v, dtype=float) for v in zip(*pts, strict=True))
    return plat, plon, kinds


@pytest.mark.realdata
@pytest.mark.parametrize("budget", [sw.READ_BUDGET_BYTES, 4000], ids=["one-box", "per-tile"])
def test_olci_c2rcc_windows_match_brute_force(olci_lake, budget, monkeypatch):
    monkeypatch.setattr(sw, "READ_BUDGET_BYTES", budget)
    lazy, ds = olci_lake
    lat, lon = ds["latitude"].values, ds["longitude"].values
    plat, plon, kinds = olci_points(lat, lon)
    win = extract_swath_windows(lazy, ["chl_nn", "rrs", "flags", "solar_zenith_angle"], plat, plon, half_size=2)

    assert win.values["rrs"].shape == (len(plat), 1, 5, 5, 16)
    assert win.values["flags"].dtype == np.int64 and win.values["chl_nn"].dtype == np.float64
    np.testing.assert_array_equal(win.wavelengths["rrs"], ds["wavelength"].values)
    assert np.isnat(win.center_time).all()
    ok = np.isfinite(plat) & (np.abs(plat) <= 90)
    biy, bix, bdist = brute_nearest(lat, lon, plat[ok], plon[ok])
    brute = dict(zip(np.flatnonzero(ok), zip(biy, bix, bdist, strict=True), strict=True))
    # O1BE is ~80 km south-west of this subset; its nearest pixel is far away and must not match
    assert kinds[0] == "far" and brute[0][2] > 50_000
    bands = [int(np.flatnonzero(ds["wavelength"].values == w)[0]) for w in (442.5, 665.0)]
    for k, kind in enumerate(kinds):
        if kind in ("far", "off", "nan"):
            assert_not_found(win, k)
            continue
        iy, ix, dist = brute[k]
        assert_windows(win, ds, k, iy, ix, 2, ["chl_nn", "flags", "solar_zenith_angle"])
        for b in bands:
            expected = brute_window(ds["rrs"].values[..., b].astype(float), iy, ix, 2, np.nan)
            np.testing.assert_array_equal(win.values["rrs"][k, 0, ..., b], expected)
        np.testing.assert_allclose(win.distance_m[k], dist, rtol=1e-9, atol=1e-6)
        assert win.center_lat[k] == lat[iy, ix] and win.center_lon[k] == lon[iy, ix]
        assert win.partial[k] == (kind == "edge")
    assert (win.distance_m[[k for k, kind in enumerate(kinds) if kind == "inside"]] < 200).all()
    # the off-swath points do have an edge pixel as nearest pixel: only the match rule rejects them
    assert [tuple(brute[k][:2]) for k, kind in enumerate(kinds) if kind == "off"] == [(0, 37), (40, 99)]
    assert np.isfinite(win.values["chl_nn"][win.found][win.inside[win.found]]).all()


@pytest.mark.realdata
def test_olci_c2rcc_index_nearest_equals_brute_force(olci_granule):
    _, ds = olci_granule
    lat, lon = ds["latitude"].values, ds["longitude"].values
    rng = np.random.default_rng(1)
    plat = rng.uniform(np.nanmin(lat) - 0.05, np.nanmax(lat) + 0.05, 400)
    plon = rng.uniform(np.nanmin(lon) - 0.05, np.nanmax(lon) + 0.05, 400)
    iy, ix, dist = SwathIndex(lat, lon).nearest(plat, plon)
    biy, bix, bdist = brute_nearest(lat, lon, plat, plon)
    np.testing.assert_array_equal(iy, biy)
    np.testing.assert_array_equal(ix, bix)
    np.testing.assert_allclose(dist, bdist, rtol=1e-9, atol=1e-6)


# ---------------------------------------------------------------------------------------------
# synthetic swaths
# ---------------------------------------------------------------------------------------------

WAVELENGTHS = np.array([412.0, 443.0, 490.0, 560.0, 665.0])


def swath(lat0, lon0, shape=(40, 30), step=0.01, tilt=0.15, wavelength_first=True):
    """Curved, tilted swath (~1 km pixels) with chl, Rrs (wavelength first by default), flags, SZA."""
    ny, nx = shape
    i, j = np.meshgrid(np.arange(ny) - ny / 2, np.arange(nx) - nx / 2, indexing="ij")
    lat = lat0 - i * step + j * step * tilt + 2e-4 * step * j**2
    lon = lon0 + (j * step + i * step * tilt) / np.cos(np.radians(lat))
    lon = (lon + 180.0) % 360.0 - 180.0
    rng = np.random.default_rng(7)
    chl = (np.arange(ny * nx, dtype=np.float32).reshape(ny, nx) / 10).astype(np.float32)
    chl[rng.random(shape) < 0.1] = np.nan  # clouds
    rrs = rng.random((len(WAVELENGTHS), ny, nx)).astype(np.float32)
    flags = rng.integers(0, 2**31, shape, dtype=np.uint32)
    rrs_var = (("wavelength", "y", "x"), rrs) if wavelength_first else (("y", "x", "wavelength"),
                                                                          rrs.transpose(1, 2, 0))
    return xr.Dataset({"chl_nn": (("y", "x"), chl), "rrs": rrs_var, "flags": (("y", "x"), flags),
                       "solar_zenith_angle": (("y", "x"), np.full(shape, 40.0, np.float32))},
                      coords={"latitude": (("y", "x"), lat), "longitude": (("y", "x"), lon),
                              "wavelength": WAVELENGTHS})


def check_against_brute(ds, plat, plon, expect_found, h=2, **kwargs):
    win = extract_swath_windows(ds, ["chl_nn", "rrs", "flags"], plat, plon, half_size=h, **kwargs)
    lat, lon = ds["latitude"].values, ds["longitude"].values
    np.testing.assert_array_equal(win.found, expect_found)
    usable = np.isfinite(plat) & np.isfinite(plon)
    biy, bix, bdist = brute_nearest(lat, lon, plat[usable], plon[usable])
    for k, iy, ix, dist in zip(np.flatnonzero(usable), biy, bix, bdist, strict=True):
        if not expect_found[k]:
            assert_not_found(win, k)
            continue
        assert_windows(win, ds, k, iy, ix, h, ["chl_nn", "rrs", "flags"])
        np.testing.assert_allclose(win.distance_m[k], dist, rtol=1e-9, atol=1e-6)
    for k in np.flatnonzero(~usable):
        assert_not_found(win, k)
    return win


def test_dateline_swath():
    ds = swath(10.0, 179.95)
    lon = ds["longitude"].values
    assert (lon > 179).any() and (lon < -179).any(), "the swath must straddle the dateline"
    lat = ds["latitude"].values
    # centres west and east of the dateline, a point at +180.0 exactly, one given in [0, 360)
    assert lon[20, 19] > 179.9 and lon[20, 21] < -179.9
    plat = np.array([lat[20, 19] + 0.002, lat[20, 21] - 0.002, 10.0, lat[5, 25], lat[0, 0]])
    plon = np.array([lon[20, 19] + 0.002, lon[20, 21], 180.0, lon[5, 25] % 360.0, lon[0, 0]])
    win = check_against_brute(ds, plat, plon, np.array([True] * 5))
    assert win.center_lon[0] > 170 and win.center_lon[1] < -170
    assert ((win.center_lon >= -180) & (win.center_lon < 180)).all()
    assert win.partial.tolist() == [False, False, False, False, True]


def test_high_latitude_swath():
    ds = swath(85.0, 20.0, shape=(50, 40))
    lat, lon = ds["latitude"].values, ds["longitude"].values
    rng = np.random.default_rng(3)
    iy, ix = rng.integers(3, 47, 20), rng.integers(3, 37, 20)
    plat = lat[iy, ix] + rng.uniform(-0.003, 0.003, 20)
    plon = lon[iy, ix] + rng.uniform(-0.03, 0.03, 20)  # ~ +-0.25 pixel at 85 N
    off_lat, off_lon = outward(lat, lon, (25, 39), (25, 38), 2.0)
    plat, plon = np.r_[plat, off_lat, 86.5], np.r_[plon, off_lon, -160.0]  # off the swath, across the pole
    check_against_brute(ds, plat, plon, np.r_[[True] * 20, False, False])


def test_nan_geolocation_is_ignored():
    ds = swath(45.0, -5.0)
    lat0, lon0 = ds["latitude"].values.copy(), ds["longitude"].values.copy()
    lat, lon = lat0.copy(), lon0.copy()
    lat[10:13, 10:13] = np.nan  # a hole of missing geolocation
    lon[20, 5] = np.nan
    lat[0, :] = np.nan  # a whole first row without geolocation
    ds = ds.assign_coords(latitude=(("y", "x"), lat), longitude=(("y", "x"), lon))
    plat = np.array([lat0[11, 11], lat0[20, 6], lat0[13, 11], lat0[1, 7], lat0[0, 7] + 0.003, np.nan])
    plon = np.array([lon0[11, 11], lon0[20, 6], lon0[13, 11], lon0[1, 7], lon0[0, 7], 10.0])
    # centre of the hole: no pixel there -> no match; next to the holes and on the new first row: matches
    win = check_against_brute(ds, plat, plon, np.array([False, True, True, True, False, False]))
    assert win.center_index[2].tolist() == [0, 13, 11] and win.center_index[3].tolist() == [0, 1, 7]


@pytest.mark.parametrize("wavelength_first", [True, False])
def test_spectral_dim_order_and_wt_axis(wavelength_first):
    ds = swath(-30.0, 100.0, wavelength_first=wavelength_first)
    lat, lon = ds["latitude"].values, ds["longitude"].values
    win = extract_swath_windows(ds, ["rrs", "chl_nn"], [lat[8, 9]], [lon[8, 9]], half_size=3)
    assert win.values["rrs"].shape == (1, 1, 7, 7, 5) and win.values["chl_nn"].shape == (1, 1, 7, 7)
    assert win.inside.shape == (1, 1, 7, 7)
    rrs = ds["rrs"].transpose("y", "x", "wavelength").values
    np.testing.assert_array_equal(win.values["rrs"][0, 0], rrs[5:12, 6:13].astype(float))
    np.testing.assert_array_equal(win.wavelengths["rrs"], WAVELENGTHS)


def test_lazy_zarr_per_tile_reads_equal_in_memory(tmp_path, monkeypatch):
    ds = swath(60.0, -150.0, shape=(60, 45))
    ds.chunk({"y": 7, "x": 9}).to_zarr(tmp_path / "g.zarr", zarr_format=3, consolidated=False)
    lazy = xr.open_zarr(tmp_path / "g.zarr", consolidated=False)
    lat, lon = ds["latitude"].values, ds["longitude"].values
    rng = np.random.default_rng(5)
    iy, ix = rng.integers(0, 60, 300), rng.integers(0, 45, 300)
    plat, plon = lat[iy, ix], lon[iy, ix]
    expected = extract_swath_windows(ds, ["chl_nn", "rrs", "flags"], plat, plon)
    reads = []
    original = xr.DataArray.isel
    monkeypatch.setattr(xr.DataArray, "isel", lambda self, *a, **k: reads.append(1) or original(self, *a, **k))
    monkeypatch.setattr(sw, "READ_BUDGET_BYTES", 2000)  # forces one box per tile of chunks
    tiled = extract_swath_windows(lazy, ["chl_nn", "rrs", "flags"], plat, plon)
    assert 3 < len(reads) < 300 * 3, "reads must be grouped by tile, not per point"
    for name in expected.values:
        np.testing.assert_array_equal(tiled.values[name], expected.values[name])
    np.testing.assert_array_equal(tiled.center_index[:, 1:], np.stack([iy, ix], axis=1))
    assert tiled.found.all()


def test_max_distance_and_index_reuse():
    ds = swath(0.0, 0.0)
    lat, lon = ds["latitude"].values, ds["longitude"].values
    plat = np.array([lat[10, 10] + 0.003, lat[10, 10]])
    plon = np.array([lon[10, 10], lon[10, 10]])
    index = SwathIndex(lat, lon)
    win = extract_swath_windows(ds, ["chl_nn"], plat, plon, max_distance_m=100.0, index=index)
    assert win.found.tolist() == [False, True]  # ~330 m away: beyond the explicit 100 m cap
    assert win.distance_m[1] == 0.0
    again = extract_swath_windows(ds, ["chl_nn"], plat, plon, index=index)
    assert again.found.tolist() == [True, True]
    iy, ix, dist = index.nearest(plat, plon)
    assert iy.tolist() == [10, 10] and ix.tolist() == [10, 10] and dist[0] == pytest.approx(333.6, abs=1)


def test_degenerate_inputs():
    ds = swath(0.0, 0.0, shape=(6, 5))
    win = extract_swath_windows(ds, ["chl_nn", "flags"], np.array([]), np.array([]), half_size=1)
    assert win.values["chl_nn"].shape == (0, 1, 3, 3) and win.found.shape == (0,)
    win = extract_swath_windows(ds, ["flags"], [0.0], [0.0], half_size=0)
    assert win.values["flags"].shape == (1, 1, 1, 1) and win.found.all()
    all_nan = ds.assign_coords(latitude=ds["latitude"] * np.nan)
    win = extract_swath_windows(all_nan, ["chl_nn"], [0.0], [0.0])
    assert not win.found.any()
    with pytest.raises(MissingVariable, match="kd490"):
        extract_swath_windows(ds, ["kd490"], [0.0], [0.0])
    with pytest.raises(ValueError, match="same length"):
        extract_swath_windows(ds, ["chl_nn"], [0.0, 1.0], [0.0])
