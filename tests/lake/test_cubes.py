"""Icechunk cubes: round trip, append + time travel, atomic failure, concurrent writers, S3, real CMEMS file."""

from __future__ import annotations

import threading

import dask.array as dsa
import numpy as np
import pandas as pd
import pytest
import xarray as xr

import tasks.cubes as cubes
from tasks.cubes import cube_history, cube_storage, default_chunks, open_cube, write_cube
from tasks.errors import ConfigError, SourceNotFound

CMEMS_SO = ("ocean_model/cmems_mod_glo_phy-so_anfc_0.083deg_P1D-m_so_13.00W-5.00E_47.00N-64.00N_0.49m_"
            "2025-09-24-2025-09-25.nc")


def make_cube(start: str, n_time: int, seed: int = 0) -> xr.Dataset:
    """A small (time, lat, lon, wavelength) cube with NaNs, float32 and float64 variables."""
    rng = np.random.default_rng(seed)
    time = pd.date_range(start, periods=n_time, freq="D")
    lat = np.linspace(50.0, 51.0, 6)
    lon = np.linspace(-2.0, 0.0, 8)
    wavelength = np.array([443.0, 560.0, 665.0])
    rrs = rng.random((n_time, lat.size, lon.size, wavelength.size), dtype=np.float32) * 0.02
    rrs[:, 0, 0, :] = np.nan
    chl = rng.lognormal(size=(n_time, lat.size, lon.size))
    return xr.Dataset(
        {
            "rrs": (("time", "lat", "lon", "wavelength"), rrs, {"units": "sr-1"}),
            "chl": (("time", "lat", "lon"), chl, {"units": "mg m-3"}),
        },
        coords={"time": time, "lat": lat, "lon": lon, "wavelength": ("wavelength", wavelength, {"units": "nm"})},
        attrs={"title": "synthetic cube"},
    )


# ---------------------------------------------------------------------------------------------
# Lakes: a local folder (conftest ``settings``) and an S3 bucket on a module-local moto server
# ---------------------------------------------------------------------------------------------


@pytest.fixture(params=["local", "s3"])
def lake(request):
    """Settings of an empty lake, local or on S3 (the same tests run on both)."""
    if request.param == "local":
        return request.getfixturevalue("settings")
    return request.getfixturevalue("s3_settings")[0]


# ---------------------------------------------------------------------------------------------
# Behaviour
# ---------------------------------------------------------------------------------------------


def test_round_trip_is_exact(lake):
    ds = make_cube("2025-01-01", 3)
    snap = write_cube(lake, "rrs_l3", ds, "ingest 3 days", metadata={"sources": {"a.nc": "sha256:00ff"}})
    back = open_cube(lake, "rrs_l3")
    assert isinstance(back.rrs.data, dsa.Array), "open_cube must be lazy"
    xr.testing.assert_identical(back.load(), ds)
    assert back.rrs.dtype == np.float32 and back.chl.dtype == np.float64
    history = cube_history(lake, "rrs_l3")
    assert [h["message"] for h in history] == ["ingest 3 days", "Repository initialized"]
    assert history[0]["snapshot_id"] == snap
    assert history[0]["metadata"] == {"sources": {"a.nc": "sha256:00ff"}}
    assert history[0]["written_at"].tzinfo is not None


def test_append_along_time_and_time_travel(lake):
    first, second = make_cube("2025-01-01", 2, seed=1), make_cube("2025-01-03", 3, seed=2)
    snap1 = write_cube(lake, "rrs_l3", first.chunk(default_chunks(first)), "day 1-2", append_dim="time")
    snap2 = write_cube(lake, "rrs_l3", second, "day 3-5", append_dim="time", metadata={"n": 3})

    history = cube_history(lake, "rrs_l3")
    assert [h["snapshot_id"] for h in history[:2]] == [snap2, snap1]
    assert [h["message"] for h in history] == ["day 3-5", "day 1-2", "Repository initialized"]
    assert history[0]["parent_id"] == snap1 and history[0]["metadata"] == {"n": 3}

    latest = open_cube(lake, "rrs_l3").load()
    xr.testing.assert_identical(latest, xr.concat([first, second], dim="time"))
    old = open_cube(lake, "rrs_l3", snapshot_id=snap1).load()
    xr.testing.assert_identical(old, first)


def _exploding(ds: xr.Dataset, bad_time_index: int) -> xr.Dataset:
    """``ds`` with a dask-backed ``rrs`` whose chunk at ``bad_time_index`` raises on compute."""

    def block(x, block_info=None):
        if block_info and block_info[None]["chunk-location"][0] == bad_time_index:
            raise OSError("simulated read failure mid-write")
        return x

    out = ds.copy()
    out["rrs"] = ds.rrs.copy(data=dsa.from_array(ds.rrs.values, chunks=(1, -1, -1, -1)).map_blocks(
        block, dtype=ds.rrs.dtype))
    return out


def test_failure_mid_write_commits_nothing(lake):
    good = make_cube("2025-01-01", 2, seed=3)
    snap = write_cube(lake, "rrs_l3", good, "good", append_dim="time")
    bad = _exploding(make_cube("2025-01-03", 4, seed=4), bad_time_index=2)
    with pytest.raises(OSError, match="simulated read failure"):
        write_cube(lake, "rrs_l3", bad, "bad", append_dim="time")

    assert [h["snapshot_id"] for h in cube_history(lake, "rrs_l3")][0] == snap
    xr.testing.assert_identical(open_cube(lake, "rrs_l3").load(), good)
    repo = cubes.open_cube_repository(lake, "rrs_l3", create=False)
    assert not repo.writable_session("main").has_uncommitted_changes
    # the cube stays writable after the failure
    more = make_cube("2025-01-03", 1, seed=5)
    write_cube(lake, "rrs_l3", more, "after failure", append_dim="time")
    xr.testing.assert_identical(open_cube(lake, "rrs_l3").load(), xr.concat([good, more], dim="time"))


def test_failure_in_first_write_leaves_empty_cube(settings):
    with pytest.raises(OSError, match="simulated"):
        write_cube(settings, "fresh", _exploding(make_cube("2025-01-01", 3), 1), "bad", append_dim="time")
    assert [h["message"] for h in cube_history(settings, "fresh")] == ["Repository initialized"]
    with pytest.raises(SourceNotFound, match="holds no data"):
        open_cube(settings, "fresh")


def test_concurrent_appends_both_land(lake, monkeypatch):
    """Both writers start from the same parent; the loser's rebase conflicts and its write is redone."""
    base = make_cube("2025-01-01", 1, seed=6)
    write_cube(lake, "rrs_l3", base, "base", append_dim="time")
    parts = {"a": make_cube("2025-01-02", 2, seed=7), "b": make_cube("2025-01-04", 1, seed=8)}

    barrier = threading.Barrier(2, timeout=30)
    calls: list[int] = []
    real_write = cubes._write_to_session

    def write_then_wait(*args, **kwargs):
        after = real_write(*args, **kwargs)
        calls.append(1)
        if len(calls) <= 2:  # the first two writes wait so both sessions share one parent
            barrier.wait()
        return after

    monkeypatch.setattr(cubes, "_write_to_session", write_then_wait)
    results: dict[str, object] = {}

    def run(key: str) -> None:
        try:
            results[key] = write_cube(lake, "rrs_l3", parts[key], f"append {key}", append_dim="time")
        except Exception as exc:  # noqa: BLE001 - reported by the assertion below
            results[key] = exc

    threads = [threading.Thread(target=run, args=(k,)) for k in parts]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert all(isinstance(v, str) for v in results.values()), results
    assert len(calls) == 3, "exactly one write must have been redone after losing the race"

    history = cube_history(lake, "rrs_l3")
    assert sorted(h["message"] for h in history[:2]) == ["append a", "append b"]
    assert [h["message"] for h in history[2:]] == ["base", "Repository initialized"]
    latest = open_cube(lake, "rrs_l3").load().sortby("time")
    expected = xr.concat([base, parts["a"], parts["b"]], dim="time")
    xr.testing.assert_identical(latest, expected)


def test_guards(settings):
    ds = make_cube("2025-01-01", 1)
    with pytest.raises(SourceNotFound, match="does not exist"):
        open_cube(settings, "nope")
    with pytest.raises(ConfigError, match="cube name"):
        write_cube(settings, "../escape", ds, "x")
    with pytest.raises(ValueError, match="append_dim 'depth'"):
        write_cube(settings, "c", ds, "x", append_dim="depth")
    with pytest.raises(ValueError, match="JSON"):
        write_cube(settings, "c", ds, "x", metadata={"when": object()})
    write_cube(settings, "c", ds, "x")
    with pytest.raises(FileExistsError, match="already holds data"):
        write_cube(settings, "c", ds, "again")
    assert len(cube_history(settings, "c")) == 2


def test_s3_cube_lives_under_lake_prefix_and_hides_secret(s3_settings):
    settings, fs, bucket = s3_settings
    write_cube(settings, "rrs_l3", make_cube("2025-01-01", 1), "one")
    assert fs.ls(f"{bucket}/oceanlake/cubes/rrs_l3"), "repository objects must be under <lake>/cubes/<name>"
    assert "testing-secret" not in repr(cube_storage(settings, "rrs_l3"))


def test_default_chunks():
    big = xr.Dataset(
        {"rrs": (("time", "lat", "lon", "wavelength"), dsa.zeros((5, 2160, 4320, 10), dtype="f4"))}
    )
    chunks = default_chunks(big, target_mb=4)
    assert chunks["time"] == 1 and chunks["wavelength"] == 10
    nbytes = 4 * chunks["lat"] * chunks["lon"] * 10
    assert 0.7e6 * 4 <= nbytes <= 4e6 and chunks["lat"] == chunks["lon"]
    small = make_cube("2025-01-01", 3)
    assert default_chunks(small) == {"time": 1, "lat": 6, "lon": 8, "wavelength": 3}
    narrow = xr.Dataset({"chl": (("time", "lat", "lon"), dsa.zeros((2, 10, 1_000_000), dtype="f8"))})
    c = default_chunks(narrow, target_mb=4)
    assert c["lat"] == 10 and c["lon"] == 50_000


# ---------------------------------------------------------------------------------------------
# Real data
# ---------------------------------------------------------------------------------------------


@pytest.mark.realdata
def test_real_cmems_file_round_trip(realdata, settings):
    path = realdata / CMEMS_SO
    if not path.exists():
        pytest.skip(f"{path} is absent")
    with xr.open_dataset(path) as src:
        ds = src.load()
    snap = write_cube(settings, "cmems_glo_phy_so", ds.chunk(default_chunks(ds)), "ingest so",
                      append_dim="time", metadata={"source": path.name})
    back = open_cube(settings, "cmems_glo_phy_so", snapshot_id=snap).load()
    xr.testing.assert_identical(back, ds)
    assert back.sizes == {"time": 2, "depth": 1, "latitude": 205, "longitude": 217}
    assert back.so.encoding["chunks"] == (1, 1, 205, 217)

    # values read independently with netCDF4 (raw, masked fill values -> NaN)
    import netCDF4

    with netCDF4.Dataset(path) as nc:
        raw = np.ma.filled(nc["so"][:].astype("f4"), np.nan)
    np.testing.assert_array_equal(back.so.values, raw)
    assert np.isfinite(back.so.values).sum() > 1000


def test_rewriting_existing_times_overwrites_in_place(settings):
    import numpy as np
    import pandas as pd
    import xarray as xr

    from tasks.cubes import open_cube, write_cube

    def day(values, date):
        return xr.Dataset({"chlor_a": (("time", "lat", "lon"), np.full((1, 3, 4), values, np.float32))},
                          coords={"time": [pd.Timestamp(date)], "lat": [1.0, 2.0, 3.0], "lon": [0.0, 1, 2, 3]})

    write_cube(settings, "grid", day(1.0, "2024-06-14"), "day 1", append_dim="time")
    write_cube(settings, "grid", day(2.0, "2024-06-15"), "day 2", append_dim="time")
    write_cube(settings, "grid", day(5.0, "2024-06-14"), "day 1 reprocessed", append_dim="time")
    cube = open_cube(settings, "grid")
    assert cube.sizes["time"] == 2
    assert float(cube.chlor_a.sel(time="2024-06-14").mean()) == 5.0
    assert float(cube.chlor_a.sel(time="2024-06-15").mean()) == 2.0


def test_swath_granules_are_groups(settings):
    import numpy as np
    import xarray as xr

    from tasks.cubes import open_cube, write_cube

    def granule(value):
        lat = np.linspace(40, 41, 12).reshape(3, 4)
        return xr.Dataset({"rrs": (("y", "x"), np.full((3, 4), value, np.float32))},
                          coords={"latitude": (("y", "x"), lat), "longitude": (("y", "x"), lat - 30)})

    write_cube(settings, "swath", granule(0.01), "g1", group="G1")
    write_cube(settings, "swath", granule(0.02), "g2", group="G2")
    write_cube(settings, "swath", granule(0.03), "g1 again", group="G1")
    assert (open_cube(settings, "swath", group="G1").rrs.values == np.float32(0.03)).all()
    assert (open_cube(settings, "swath", group="G2").rrs.values == np.float32(0.02)).all()


def test_appends_reuse_the_coordinates_of_their_own_last_commit(settings, monkeypatch):
    """Successive appends in one process do not read the cube's coordinates back; results are unchanged."""
    reads: list[str] = []
    real_read = cubes._read_coordinates
    monkeypatch.setattr(cubes, "_read_coordinates", lambda *a: reads.append("read") or real_read(*a))
    days = [make_cube(f"2025-03-0{i}", 1, seed=i) for i in range(1, 5)]
    same = ("lat", "lon", "wavelength")
    for day in days:
        write_cube(settings, "memo", day, "append", append_dim="time", same_coords=same)
    assert reads == ["read"]  # the second write reads; the third and fourth reuse what it committed
    write_cube(settings, "memo", days[1], "again", append_dim="time", same_coords=same)  # region overwrite
    assert reads == ["read"]
    xr.testing.assert_identical(open_cube(settings, "memo").load(), xr.concat(days, dim="time"))
    with pytest.raises(ValueError, match="lat coordinate differs"):  # checked against the remembered grid
        write_cube(settings, "memo", make_cube("2025-03-09", 1).assign_coords(lat=np.linspace(0, 1, 6)), "other grid",
                   append_dim="time", same_coords=same)


def test_a_commit_by_another_writer_is_read_not_assumed(settings, monkeypatch):
    """The memo is keyed by snapshot: after someone else's commit the coordinates are read again."""
    same = ("lat", "lon", "wavelength")
    write_cube(settings, "shared", make_cube("2025-03-01", 1), "first", append_dim="time", same_coords=same)
    write_cube(settings, "shared", make_cube("2025-03-02", 1, seed=1), "second", append_dim="time", same_coords=same)
    other = cubes.open_cube_repository(settings, "shared").writable_session(cubes.BRANCH)  # not write_cube
    make_cube("2025-03-03", 1, seed=2).to_zarr(other.store, append_dim="time", consolidated=False, zarr_format=3)
    other.commit("another writer")
    reads: list[str] = []
    real_read = cubes._read_coordinates
    monkeypatch.setattr(cubes, "_read_coordinates", lambda *a: reads.append("read") or real_read(*a))
    write_cube(settings, "shared", make_cube("2025-03-03", 1, seed=3), "rewrite", append_dim="time",
               same_coords=same)  # a time the other writer added: overwritten in place, not appended twice
    assert reads == ["read"]
    times = open_cube(settings, "shared")["time"].values
    assert list(times) == list(pd.date_range("2025-03-01", periods=3, freq="D").values)


def test_times_the_cube_cannot_store_exactly_are_not_remembered():
    stored = np.array(["2025-03-01T00:00:00"], dtype="datetime64[ns]")
    coords = cubes._Coordinates("time", {"time": stored}, {"units": "microseconds since 1970-01-01",
                                                          "calendar": "proleptic_gregorian"}, np.dtype("int64"))
    exact = np.array(["2025-03-02T00:00:00.000001"], dtype="datetime64[ns]")
    assert cubes._as_stored(exact, coords).tolist() == exact.tolist()
    assert cubes._as_stored(np.array(["2025-03-02T00:00:00.000000001"], dtype="datetime64[ns]"), coords) is None


def _packed_days(start: str, n: int) -> list[xr.Dataset]:
    """Daily cubes whose chl is stored packed (int16 with scale_factor/add_offset/_FillValue), rrs as float32."""
    days = []
    for i, day in enumerate(pd.date_range(start, periods=n, freq="D")):
        ds = make_cube(str(day.date()), 1, seed=10 + i)
        ds["chl"].encoding.update(dtype="int16", scale_factor=0.001, add_offset=5.0, _FillValue=-32767)
        ds["chl"][0, 1, 1] = np.nan
        days.append(ds)
    return days


def test_appends_written_directly_store_what_xarray_stores(settings, monkeypatch):
    """The in-memory append path writes the same arrays, bytes and metadata as ``to_zarr(append_dim=...)``."""
    import zarr

    used: list[bool] = []
    real_append = cubes._append_in_memory
    monkeypatch.setattr(cubes, "_append_in_memory", lambda *a: used.append(real_append(*a)) or used[-1])
    days = _packed_days("2025-05-01", 4)
    for day in days:
        write_cube(settings, "direct", day, "append", append_dim="time", same_coords=("lat", "lon", "wavelength"))
    assert used[-2:] == [True, True]  # from the third day on: the cube's state is known
    monkeypatch.setattr(cubes, "_append_in_memory", lambda *a: False)
    for day in days:
        write_cube(settings, "xarray", day, "append", append_dim="time", same_coords=("lat", "lon", "wavelength"))

    def arrays(name):
        session = cubes.open_cube_repository(settings, name).readonly_session(branch=cubes.BRANCH)
        group = zarr.open_group(session.store, mode="r", zarr_format=3)
        return {k: (group[k].metadata.to_dict(), group[k][:]) for k in group.array_keys()}

    direct, reference = arrays("direct"), arrays("xarray")
    assert direct.keys() == reference.keys() == {"time", "lat", "lon", "wavelength", "rrs", "chl"}
    for key, (metadata, values) in reference.items():
        assert direct[key][0] == metadata, key
        np.testing.assert_array_equal(direct[key][1], values, err_msg=key)
    assert direct["chl"][1].dtype == np.int16
    xr.testing.assert_identical(open_cube(settings, "direct").load(), open_cube(settings, "xarray").load())
