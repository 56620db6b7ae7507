"""Satellite ingestion on the real PACE L3m files: cube round trip, idempotency, reprocessing, bad input."""

from __future__ import annotations

import shutil

import netCDF4
import numpy as np
import pytest

from tasks.cubes import cube_history, open_cube
from tasks.ingest_satellite import ingest_satellite
from tasks.query import run_query

DAY1 = "PACE_OCI.20240614.L3m.DAY.CHL.V3_0.chlor_a.0p1deg.nc"
DAY2 = "PACE_OCI.20240615.L3m.DAY.CHL.V3_0.chlor_a.0p1deg.nc"
CUBE = "pace-oci-l3m.DAY.CHL.0p1deg"


def _q(settings, sql, **params):
    return run_query(settings, sql, params).to_pylist()


@pytest.fixture
def pace(realdata, tmp_path):
    folder = tmp_path / "pace"
    folder.mkdir()
    for name in (DAY1, DAY2):
        shutil.copy(realdata / "satellite_pace" / name, folder / name)
    return folder


def _reprocess(path, new_name, version, factor):
    """A copy of a PACE L3m file as if reprocessed: new version attribute and scaled chlor_a."""
    target = path.parent / new_name
    shutil.copy(path, target)
    with netCDF4.Dataset(target, "a") as ds:
        ds.processing_version = version
        chl = ds["chlor_a"]
        chl.set_auto_maskandscale(False)
        data = chl[:]
        good = data != chl._FillValue
        data[good] = data[good] * factor
        chl[:] = data
    return target


def test_real_pace_round_trip_and_idempotency(pace, settings):
    summary = ingest_satellite("pace-oci-l3m", [str(pace)], settings)
    assert (summary.files_found, summary.files_ingested, summary.files_quarantined) == (2, 2, 0)
    rows = _q(settings, "SELECT granule_id, valid_fraction, time_start, processing_version, cube, lat_min, lat_max "
                        "FROM granules ORDER BY time_start")
    assert [r["granule_id"] for r in rows] == [DAY1[:-3], DAY2[:-3]]
    assert all(0 < r["valid_fraction"] < 0.5 for r in rows)  # clouds and land: a minority of the globe is valid
    assert rows[0]["processing_version"] == "3.0" and rows[0]["cube"] == CUBE
    assert rows[0]["lat_min"] == pytest.approx(-89.95, abs=1e-3)

    cube = open_cube(settings, CUBE)
    assert cube.sizes["time"] == 2
    with netCDF4.Dataset(pace / DAY1) as src:  # independent read of the source
        expected = src["chlor_a"][:].filled(np.nan)
        lat, lon = src["lat"][:], src["lon"][:]
    stored = cube.chlor_a.isel(time=0).values
    np.testing.assert_array_equal(np.isnan(stored), np.isnan(expected))
    np.testing.assert_array_equal(stored[~np.isnan(stored)], expected[~np.isnan(expected)])
    np.testing.assert_allclose(cube.lat.values, lat)
    np.testing.assert_allclose(cube.lon.values, lon)
    n_commits = len(cube_history(settings, CUBE))

    again = ingest_satellite("pace-oci-l3m", [str(pace)], settings)
    assert again.files_skipped == 2 and again.files_ingested == 0
    assert len(cube_history(settings, CUBE)) == n_commits
    assert _q(settings, "SELECT count(*) AS n FROM granule_versions")[0]["n"] == 2


def test_reprocessed_granule_replaces_older_and_keeps_lineage(pace, settings):
    ingest_satellite("pace-oci-l3m", [str(pace / DAY1)], settings)
    newer = _reprocess(pace / DAY1, DAY1.replace("V3_0", "V3_1"), "3.1", 2.0)
    ingest_satellite("pace-oci-l3m", [str(newer)], settings)
    versions = _q(settings, "SELECT granule_id, is_current, replaced_by FROM granule_versions ORDER BY granule_id")
    assert versions == [
        {"granule_id": DAY1[:-3], "is_current": False, "replaced_by": newer.stem},
        {"granule_id": newer.stem, "is_current": True, "replaced_by": None},
    ]
    assert [r["granule_id"] for r in _q(settings, "SELECT granule_id FROM granules")] == [newer.stem]
    cube = open_cube(settings, CUBE)
    assert cube.sizes["time"] == 1  # the same time slice, overwritten
    with netCDF4.Dataset(newer) as src:
        expected = src["chlor_a"][:].filled(np.nan)
    np.testing.assert_array_equal(cube.chlor_a.isel(time=0).values[500:510, 1000:1100],
                                  expected[500:510, 1000:1100])

    # an OLDER processing arriving late is recorded but does not take over
    older = _reprocess(pace / DAY1, DAY1.replace("V3_0", "V2_0"), "2.0", 0.5)
    ingest_satellite("pace-oci-l3m", [str(older)], settings)
    row = _q(settings, "SELECT is_current, replaced_by FROM granule_versions WHERE granule_id = $g", g=older.stem)[0]
    assert row == {"is_current": False, "replaced_by": newer.stem}
    np.testing.assert_array_equal(open_cube(settings, CUBE).chlor_a.isel(time=0).values[500:510, 1000:1100],
                                  expected[500:510, 1000:1100])


def test_bad_granules_are_quarantined_and_nothing_partial(pace, settings, tmp_path):
    truncated = tmp_path / "bad" / DAY2.replace("20240615", "20240616")
    truncated.parent.mkdir()
    truncated.write_bytes((pace / DAY2).read_bytes()[:300_000])
    empty = _reprocess(pace / DAY2, DAY2.replace("20240615", "20240617"), "3.0", 1.0)
    with netCDF4.Dataset(empty, "a") as ds:
        ds["chlor_a"].set_auto_maskandscale(False)
        ds["chlor_a"][:] = ds["chlor_a"]._FillValue
    summary = ingest_satellite("pace-oci-l3m", [str(pace / DAY1), str(truncated), str(empty)], settings)
    assert (summary.files_ingested, summary.files_quarantined) == (1, 2)
    reasons = {r["object"]: r["reason"] for r in _q(settings, "SELECT object, reason FROM quarantine")}
    assert "truncated" in reasons[str(truncated)].lower() or "cannot" in reasons[str(truncated)].lower()
    assert "no valid pixel" in reasons[str(empty)]
    assert open_cube(settings, CUBE).sizes["time"] == 1  # no commit for the refused granules


def test_crash_after_cube_commit_does_not_duplicate(pace, settings, monkeypatch):
    import tasks.ingest_satellite as module

    real = module._commit_catalog

    def crash(*args, **kwargs):
        raise KeyboardInterrupt("killed between the cube commit and the catalog commit")

    monkeypatch.setattr(module, "_commit_catalog", crash)
    with pytest.raises(KeyboardInterrupt):
        ingest_satellite("pace-oci-l3m", [str(pace / DAY1)], settings)
    monkeypatch.setattr(module, "_commit_catalog", real)
    assert open_cube(settings, CUBE).sizes["time"] == 1  # committed cube, no catalog row yet
    summary = ingest_satellite("pace-oci-l3m", [str(pace / DAY1)], settings)
    assert summary.files_ingested == 1
    assert open_cube(settings, CUBE).sizes["time"] == 1  # rewritten in place, not appended twice
    assert _q(settings, "SELECT count(*) AS n FROM granules")[0]["n"] == 1


def test_unknown_product_lists_valid_ids(settings):
    with pytest.raises(KeyError, match="pace-oci-l3m"):
        ingest_satellite("pace-oci-l4", ["x"], settings)


def test_granule_on_another_grid_is_refused(pace, settings, tmp_path):
    ingest_satellite("pace-oci-l3m", [str(pace / DAY1)], settings)
    shifted = pace / DAY2
    with netCDF4.Dataset(shifted, "a") as ds:
        ds["lon"][:] = ds["lon"][:] + 0.05  # same names, another grid
    summary = ingest_satellite("pace-oci-l3m", [str(shifted)], settings)
    assert summary.files_quarantined == 1
    reason = _q(settings, "SELECT reason FROM quarantine")[0]["reason"]
    assert "lon coordinate differs from the cube" in reason
    assert open_cube(settings, CUBE).sizes["time"] == 1


def _day(path, day: int, empty: bool = False):
    """A copy of a PACE L3m file for 2024-07-<day> (name and coverage attributes), optionally without valid pixel."""
    target = path.parent / DAY1.replace("20240614", f"202407{day:02d}")
    shutil.copy(path, target)
    with netCDF4.Dataset(target, "a") as ds:
        ds.time_coverage_start = f"2024-07-{day:02d}T00:10:00.000Z"
        ds.time_coverage_end = f"2024-07-{day + 1:02d}T02:00:00.000Z"
        if empty:
            ds["chlor_a"].set_auto_maskandscale(False)
            ds["chlor_a"][:] = ds["chlor_a"]._FillValue
    return target


def test_granules_are_gated_in_groups_and_stored_in_even_chunks(pace, settings, monkeypatch):
    import zarr

    import tasks.ingest_satellite as module
    from tasks.cubes import open_cube_repository

    folder = pace / "days"
    folder.mkdir()
    shutil.copy(pace / DAY1, folder / DAY1)
    files = [_day(folder / DAY1, day, empty=day == 2) for day in range(1, 6)]
    (folder / DAY1).unlink()
    groups = []
    real = module._gate

    def spy(group):
        groups.append([p.granule.granule_id for p in group])
        real(group)

    monkeypatch.setattr(module, "_gate", spy)
    summary = ingest_satellite("pace-oci-l3m", [str(f) for f in files], settings)
    assert (summary.files_ingested, summary.files_quarantined) == (4, 1)
    gated = [g for group in groups for g in group]
    assert sorted(gated) == sorted(f.name[:-3] for f in files)  # each granule gated once
    assert len(groups[0]) == module.GATE_GROUP == 4  # a granule waits for the next three: one call for all
    assert len(groups) == 2  # and the last one alone (no waiting at the end of a run)
    assert "no valid pixel" in _q(settings, "SELECT reason FROM quarantine")[0]["reason"]
    cube = open_cube(settings, CUBE)
    assert cube.sizes["time"] == 4
    chunks = zarr.open_group(open_cube_repository(settings, CUBE).readonly_session(branch="main").store,
                             mode="r")["chlor_a"]
    assert chunks.chunks == (1, 1800, 1800)  # 3600 longitudes in two even chunks, not 2222 + 1378
    assert chunks.compressors[0].shuffle.value == "shuffle"  # Blosc zstd 1, byte shuffle (cubes.yaml)
