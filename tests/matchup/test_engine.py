"""End-to-end match-ups on lakes built from generated files, checked against independent reads."""

from __future__ import annotations

from datetime import datetime, timedelta

import netCDF4
import numpy as np
import pyarrow as pa
import pytest

import lake_schema
from tasks.ingest import ingest_insitu
from tasks.ingest_satellite import ingest_satellite
from tasks.lake import Lake, conform
from tasks.matchup.engine import MatchupConfigError, run_matchups
from tasks.matchup.windows import haversine_m
from tasks.synthetic import write_hypernets_l2a, write_olci_wfr_sen3

OVERPASS = datetime(2024, 3, 1, 9, 50)
SCENE = (43.5, 7.5)


@pytest.fixture
def olci_hypernets_lake(settings, tmp_path):
    """One OLCI WFR granule; HYPERNETS sequences: on the scene within 2 h, 4 h later, and off the scene."""
    sen3 = write_olci_wfr_sen3(tmp_path / "olci", OVERPASS, *SCENE, shape=(120, 90), seed=1)
    assert ingest_satellite("olci-l2-wfr", [str(sen3)], settings).files_ingested == 1
    sequences = [("VEIT", OVERPASS + timedelta(minutes=40), 43.52, 7.49),
                 ("VEIT", OVERPASS + timedelta(hours=4), 43.52, 7.49),
                 ("GAIT", OVERPASS + timedelta(minutes=10), 45.577, 10.5794)]
    files = [write_hypernets_l2a(tmp_path / "hyp", site, t, lat, lon, seed=k)
             for k, (site, t, lat, lon) in enumerate(sequences)]
    assert ingest_insitu("hypernets", [str(f) for f in files], settings).files_ingested == 3
    return settings, sen3, files[0]


def _independent_window(sen3, lat, lon, band_file, half=1):
    """3x3 rho_w window and valid mask read with netCDF4 and brute-force nearest pixel."""
    with netCDF4.Dataset(sen3 / "geo_coordinates.nc") as geo:
        plat, plon = geo["latitude"][:].filled(np.nan), geo["longitude"][:].filled(np.nan)
    d = haversine_m(lat, lon, plat, plon)
    iy, ix = np.unravel_index(np.nanargmin(d), d.shape)
    with netCDF4.Dataset(sen3 / band_file) as ds:
        var = ds[band_file[:-3]]
        values = var[iy - half:iy + half + 1, ix - half:ix + half + 1].filled(np.nan).astype(float)
    with netCDF4.Dataset(sen3 / "wqsf.nc") as ds:
        wqsf = ds["WQSF"]
        lookup = dict(zip(wqsf.flag_meanings.split(), np.atleast_1d(wqsf.flag_masks).astype(np.int64), strict=True))
        flags = wqsf[iy - half:iy + half + 1, ix - half:ix + half + 1].astype(np.int64)
    names = lake_schema.protocol("hypernets").invalid_flags + lake_schema.product("olci-l2-wfr").flags.invalid
    bits = np.bitwise_or.reduce([lookup[n] for n in set(names) if n in lookup])
    valid = np.isfinite(values) & ((flags & bits) == 0)
    return values, valid, float(d[iy, ix]), (float(plat[iy, ix]), float(plon[iy, ix]))


def test_hypernets_olci_matchups_equal_independent_computation(olci_hypernets_lake):
    settings, sen3, hyp_file = olci_hypernets_lake
    summary = run_matchups("hypernets", "olci-l2-wfr", "hypernets", settings)
    assert summary.observations == 3 and summary.granules == 1
    assert summary.no_candidate == 2  # 4 h later and 300 km away: counted, no row
    assert summary.matchup_pairs == 1
    assert summary.bands_outside_insitu_range == 1  # Oa21 (1020 nm) beyond the 1000 nm HYPERNETS range
    with Lake(settings) as lake:
        rows = lake.con.execute("select * from matchups order by wavelength").to_arrow_table().to_pylist()
    assert len(rows) == summary.rows == 15
    row = next(r for r in rows if r["wavelength"] == 490.0)
    assert row["insitu_source"] == "hypernets" and row["insitu_id"] == "VEIT_20240301T103000"
    assert row["variable"] == "rho_w" and row["insitu_variable"] == "rho_w" and row["unit"] == "1"
    assert row["dt_seconds"] == pytest.approx(-(40 * 60 - 90), abs=1)  # granule mid time 09:51:30
    values, valid, distance, (clat, clon) = _independent_window(sen3, 43.52, 7.49, "Oa04_reflectance.nc")
    assert row["distance_m"] == pytest.approx(distance, abs=0.5)
    assert (row["lat_sat"], row["lon_sat"]) == pytest.approx((clat, clon))
    assert row["n_total"] == 9 and row["n_valid"] == int(valid.sum())
    assert row["sat_mean"] == pytest.approx(values[valid].mean(), rel=1e-6)
    assert row["sat_median"] == pytest.approx(np.median(values[valid]), rel=1e-6)
    with netCDF4.Dataset(hyp_file) as ds:
        wl = ds["wavelength"][:]
        rho = ds["reflectance"][:].squeeze() if "reflectance" in ds.variables else ds["rhow"][:].squeeze()
    nearest = np.argmin(np.abs(wl - 490.0))
    assert row["insitu_wavelength"] == pytest.approx(float(wl[nearest]))
    assert row["insitu_value"] == pytest.approx(float(rho[nearest]), rel=1e-5)
    assert row["band_mismatch_nm"] <= 5 and row["protocol_hash"] == lake_schema.protocol("hypernets").config_hash
    assert row["passed"] == (valid.all()) and row["is_primary"]
    assert row["sat_snapshot_id"] and row["insitu_snapshot_id"] > 0


def test_rerun_is_idempotent_and_period_scoped(olci_hypernets_lake):
    settings, _, _ = olci_hypernets_lake
    first = run_matchups("hypernets", "olci-l2-wfr", "hypernets", settings)
    again = run_matchups("hypernets", "olci-l2-wfr", "hypernets", settings)
    assert again.replaced_rows == first.rows and again.rows == first.rows
    other_period = run_matchups("hypernets", "olci-l2-wfr", "hypernets", settings,
                                start=datetime(2024, 4, 1), end=datetime(2024, 5, 1))
    assert other_period.observations == 0 and other_period.replaced_rows == 0
    with Lake(settings) as lake:
        assert lake.count("matchups") == first.rows  # the other period did not delete March
        keys = lake.con.execute("select count(distinct (insitu_id, granule_id, variable, wavelength)) "
                                "from matchups").fetchone()[0]
    assert keys == first.rows


def test_unknown_or_incompatible_requests_fail_clearly(olci_hypernets_lake):
    settings, _, _ = olci_hypernets_lake
    with pytest.raises(KeyError, match="protocols are: .*bailey-werdell-2006"):
        run_matchups("hypernets", "olci-l2-wfr", "no-such-protocol", settings)
    with pytest.raises(KeyError, match="sources are: argo, hypernets"):
        run_matchups("ctd", "olci-l2-wfr", "hypernets", settings)
    with pytest.raises(MatchupConfigError, match="no variable in common"):
        run_matchups("argo", "pace-oci-l2-aop", "bgc-argo-chl", settings)
    with pytest.raises(MatchupConfigError, match="binned geometry"):
        run_matchups("argo", "modis-l3b", "bgc-argo-chl", settings)


@pytest.fixture
def occi_argo_lake(settings, tmp_path):
    """Two synthetic BGC floats (one in the Ligurian Sea) and three OC-CCI daily grids over it."""
    from tasks.synthetic import write_occi_l3, write_sample_dataset

    files = write_sample_dataset(tmp_path / "insitu", n_floats=2, n_profiles=2, n_sites=0, with_index=False)
    assert ingest_insitu("argo", [str(p) for p in files["argo_sprof"]], settings).files_ingested == 2
    grids = [write_occi_l3(tmp_path / "occi", datetime(2024, 3, 1) + timedelta(days=k), bbox=(5.0, 41.0, 10.0, 45.0),
                           seed=k) for k in range(3)]
    assert ingest_satellite("occi-l3", [str(p) for p in grids], settings).files_ingested == 3
    return settings, grids


def test_argo_occi_grid_matchups_equal_independent_computation(occi_argo_lake):
    settings, grids = occi_argo_lake
    summary = run_matchups("argo", "occi-l3", "bgc-argo-chl", settings)
    with Lake(settings) as lake:
        obs = lake.con.execute("select insitu_id, time, latitude, longitude, chla_surface from argo_surface_chla "
                               "where platform_number = '6990002' and cycle_number = 1").fetchone()
        rows = lake.con.execute("select * from matchups").to_arrow_table().to_pylist()
    assert summary.observations == 4 and summary.granules == 3
    assert summary.no_candidate == 3  # float 1 is in the Aegean; cycle 2 is 10 days later
    assert len(rows) == summary.rows == 1
    row = rows[0]
    insitu_id, time, lat, lon, chla = obs
    assert row["insitu_id"] == insitu_id == "6990002_001" and row["variable"] == "chlor_a"
    assert row["wavelength"] is None and row["insitu_value"] == pytest.approx(chla)
    assert row["granule_id"].endswith(f"{time:%Y%m%d}-fv6.0") and row["dt_seconds"] == 0  # inside the day
    grid = next(g for g in grids if f"{time:%Y%m%d}" in g.name)
    with netCDF4.Dataset(grid) as ds:
        glat, glon = ds["lat"][:], ds["lon"][:]
        iy, ix = int(np.abs(glat - lat).argmin()), int(np.abs(glon - lon).argmin())
        window = ds["chlor_a"][0, iy - 1:iy + 2, ix - 1:ix + 2].filled(np.nan).astype(float)
    valid = np.isfinite(window)
    assert row["n_total"] == 9 and row["n_valid"] == valid.sum()
    assert row["sat_mean"] == pytest.approx(window[valid].mean(), rel=1e-6)
    assert row["sat_center"] == pytest.approx(window[1, 1], rel=1e-6)
    assert (row["lat_sat"], row["lon_sat"]) == pytest.approx((float(glat[iy]), float(glon[ix])))
    assert row["passed"] == (valid.sum() >= 5) and row["is_primary"]


def test_bad_positions_are_quarantined_and_counted(occi_argo_lake):
    settings, _ = occi_argo_lake
    spec = lake_schema.table("argo_profiles")
    bad = dict.fromkeys(spec.column_names)
    bad.update(platform_number="6990009", cycle_number=7, direction="A", profile_index=0, file_kind="bgc-s",
               time=datetime(2024, 3, 1, 12), latitude=float("nan"), longitude=7.0, chla_surface=0.3,
               source_file="test", source_checksum="test")
    with Lake(settings) as lake:
        rows = conform("argo_profiles", pa.Table.from_pylist([bad], schema=spec.arrow_schema()))
        lake.transaction(lambda con: lake.insert(con, "argo_profiles", rows))
    summary = run_matchups("argo", "occi-l3", "bgc-argo-chl", settings)
    assert summary.invalid_positions == 1 and summary.observations == 4 and summary.rows == 1
    with Lake(settings) as lake:
        reasons = lake.con.execute("select object, stage, reason from quarantine where stage = 'matchup'").fetchall()
    assert reasons == [("argo:6990009_007", "matchup", "argo 6990009_007: invalid position latitude=nan "
                        "longitude=7.0 (need finite, |lat| <= 90, lon in [-180, 360))")]
    assert run_matchups("argo", "occi-l3", "bgc-argo-chl", settings).invalid_positions == 1
    with Lake(settings) as lake:
        assert lake.count("quarantine") == 1  # recorded once, not once per run


def test_several_overpasses_are_kept_and_the_closest_passed_is_primary(settings, tmp_path):
    granules = [write_olci_wfr_sen3(tmp_path / "olci", OVERPASS + timedelta(minutes=m), *SCENE, shape=(120, 90),
                                    platform=p, seed=s) for m, p, s in ((0, "S3A", 1), (70, "S3B", 2))]
    assert ingest_satellite("olci-l2-wfr", [str(g) for g in granules], settings).files_ingested == 2
    hyp = write_hypernets_l2a(tmp_path / "hyp", "VEIT", OVERPASS + timedelta(minutes=50), 43.52, 7.49, seed=3)
    ingest_insitu("hypernets", [str(hyp)], settings)
    summary = run_matchups("hypernets", "olci-l2-wfr", "hypernets", settings)
    assert summary.matchup_pairs == 2 and summary.rows == 30
    with Lake(settings) as lake:
        rows = lake.con.execute("select granule_id, wavelength, dt_seconds, passed, is_primary from matchups"
                                ).to_arrow_table().to_pylist()
    for wavelength in {r["wavelength"] for r in rows}:
        pair = sorted((r for r in rows if r["wavelength"] == wavelength), key=lambda r: abs(r["dt_seconds"]))
        assert [r["is_primary"] for r in pair].count(True) == 1
        passed = [r for r in pair if r["passed"]]
        assert (passed[0] if passed else pair[0])["is_primary"]
    assert {r["granule_id"][:3] for r in rows if r["is_primary"]} <= {"S3A", "S3B"}
    dt = {r["granule_id"][:3]: r["dt_seconds"] for r in rows}
    assert dt == {"S3A": pytest.approx(-2910), "S3B": pytest.approx(1290)}  # mid times 09:51:30, 11:01:30


def test_a_batch_failing_the_quality_gate_is_not_published(olci_hypernets_lake, monkeypatch):
    from tasks.matchup import engine

    settings, _, _ = olci_hypernets_lake
    original = engine._extract_all

    def duplicated(*args, **kwargs):  # a bug upstream would emit every row twice
        for rows in original(*args, **kwargs):
            yield pa.concat_tables([rows, rows])

    monkeypatch.setattr(engine, "_extract_all", duplicated)
    summary = run_matchups("hypernets", "olci-l2-wfr", "hypernets", settings)
    assert summary.rows == 0 and summary.rows_quarantined == 30
    with Lake(settings) as lake:
        assert lake.count("matchups") == 0
        reasons = [r[0] for r in lake.con.execute("select reason from quarantine where stage = 'matchup-gate'"
                                                  ).fetchall()]
    assert any("duplicated match-up key" in r for r in reasons)
    assert any("batch not published: 30 rows failed the matchups suite" in r for r in reasons)
