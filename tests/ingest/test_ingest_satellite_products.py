"""Every product family through the whole pipeline: swath groups, binned groups, multi-time grids.

Real files where the shared folder has them (OLCI C2RCC subset, S2 ACOLITE, MODIS L3b, xcube
cube, SEN3 skeletons), generated files in the real formats otherwise (SEN3 with data, OC-CCI,
GlobColour, ODATIS-MR, PACE L2). Each checks the cube against an independent read.
"""

from __future__ import annotations

import shutil
from datetime import UTC, date, datetime

import netCDF4
import numpy as np
import pytest

import lake_schema
from tasks.cubes import open_cube
from tasks.ingest_satellite import ingest_satellite
from tasks.query import run_query
from tasks.readers.registry import open_granule
from tasks.synthetic import (
    write_globcolour_l3,
    write_occi_l3,
    write_odatis_mr,
    write_olci_wfr_sen3,
    write_pace_l2_aop,
)


def _granules(settings):
    return run_query(settings, "SELECT * FROM granules ORDER BY time_start").to_pylist()


def _quarantine(settings):
    return run_query(settings, "SELECT object, stage, reason FROM quarantine").to_pylist()


def test_real_olci_c2rcc_subset_is_a_swath_group(realdata, settings):
    source = realdata / "satellite_olci" / "O_L2_0001_SNS_2017105095839_v1.0.nc"
    summary = ingest_satellite("olci-c2rcc", [str(source)], settings)
    assert summary.files_ingested == 1, _quarantine(settings)
    [row] = _granules(settings)
    assert row["geometry"] == "swath" and row["cube_group"] == source.stem
    assert 0 < row["valid_fraction"] < 0.1  # C2RCC Cloud_risk flags most of this subset
    stored = open_cube(settings, row["cube"], group=row["cube_group"])
    expected = open_granule(lake_schema.product("olci-c2rcc"), source).dataset
    np.testing.assert_array_equal(stored.latitude.values, expected.latitude.values)
    for name in expected.data_vars:
        np.testing.assert_allclose(stored[name].values, expected[name].values, rtol=1e-6, equal_nan=True)


def test_real_acolite_l2w_without_water_pixels_is_quarantined(realdata, settings):
    source = next((realdata / "satellite_s2msi").glob("S2A_MSI_L2W_*ACOLITE.nc"))
    summary = ingest_satellite("msi-acolite-l2w", [str(source)], settings)
    assert (summary.files_ingested, summary.files_quarantined) == (0, 1)
    [entry] = _quarantine(settings)
    assert entry["stage"] == "validate" and "no valid pixel" in entry["reason"]


def test_real_modis_l3b_bins(realdata, settings):
    source = realdata / "satellite_modis" / "AQUA_MODIS.20140722.L3b.DAY.PAR.x.nc"
    assert ingest_satellite("modis-l3b", [str(source)], settings).files_ingested == 1
    [row] = _granules(settings)
    stored = open_cube(settings, row["cube"], group=row["cube_group"])
    with netCDF4.Dataset(source) as nc:
        group = nc["level-3_binned_data"]
        bins = group["BinList"][:]
        par = group["par"][:]
    assert stored.sizes["bin"] == len(bins) == 3413
    np.testing.assert_allclose(stored.par.values, par["sum"] / bins["weights"], rtol=1e-6)


def test_real_xcube_cube_appends_its_times(realdata, settings, tmp_path):
    store = tmp_path / "olci-sns.zarr"
    shutil.copytree(realdata / "satellite_olci" / "cube-1-250-250.levels" / "2.zarr", store)
    assert ingest_satellite("olci-c2rcc-l3-cube", [str(store)], settings).files_ingested == 1
    [row] = _granules(settings)
    cube = open_cube(settings, row["cube"])
    assert cube.sizes["time"] == 5
    import zarr

    raw = zarr.open_group(str(store), mode="r")
    np.testing.assert_array_equal(cube.chlor_a.isel(time=2).values, np.asarray(raw["conc_chl"][2]))


def test_real_sen3_skeletons_are_refused_with_a_reason(realdata, settings, tmp_path):
    folder = tmp_path / "sen3"
    shutil.copytree(realdata / "satellite_olci_sen3_headers", folder)
    summary = ingest_satellite("olci-l2-wfr", [str(folder)], settings)
    assert summary.files_found == 2 and summary.files_quarantined == 2
    assert all(e["stage"] == "read" for e in _quarantine(settings))


def test_generated_sen3_granules_with_two_baselines(tmp_path, settings):
    start = datetime(2024, 8, 8, 8, 50, 8, tzinfo=UTC)
    old = write_olci_wfr_sen3(tmp_path / "in", start, 43.2, 7.3, shape=(120, 90), baseline="003", seed=1)
    new = write_olci_wfr_sen3(tmp_path / "in", start, 43.2, 7.3, shape=(120, 90), baseline="004", seed=1)
    summary = ingest_satellite("olci-l2-wfr", [str(tmp_path / "in")], settings)
    assert summary.files_ingested == 2, _quarantine(settings)
    versions = run_query(settings, "SELECT granule_id, is_current, replaced_by FROM granule_versions "
                                   "ORDER BY granule_id").to_pylist()
    assert versions == [{"granule_id": old.stem, "is_current": False, "replaced_by": new.stem},
                        {"granule_id": new.stem, "is_current": True, "replaced_by": None}]
    stored = open_cube(settings, "olci-l2-wfr", group=new.stem)
    assert stored.rho_w.dims == ("y", "x", "wavelength") and stored.sizes["wavelength"] == 16
    footprint = _granules(settings)[0]["footprint"]
    assert footprint.startswith("POLYGON((")


def test_generated_pace_l2_swath_round_trip(tmp_path, settings):
    path = write_pace_l2_aop(tmp_path, datetime(2024, 6, 14, 12, 15, tzinfo=UTC), 40.0, -30.0, seed=3)
    assert ingest_satellite("pace-oci-l2-aop", [str(path)], settings).files_ingested == 1
    stored = open_cube(settings, "pace-oci-l2-aop", group=path.stem)
    with netCDF4.Dataset(path) as nc:
        rrs = nc["geophysical_data/Rrs"][:].filled(np.nan)
        wavelengths = nc["sensor_band_parameters/wavelength_3d"][:]
    np.testing.assert_allclose(stored.wavelength.values, wavelengths)
    np.testing.assert_allclose(stored.rrs.values, rrs, rtol=1e-6, atol=1e-7, equal_nan=True)


@pytest.mark.parametrize("product, writer, variable", [
    ("occi-l3", lambda d, day: write_occi_l3(d, day, version="6.0"), "chlor_a"),
    ("occi-l3", lambda d, day: write_occi_l3(d, day, version="5.0"), "chlor_a"),
    ("globcolour-l3", lambda d, day: write_globcolour_l3(d, day), "chlor_a"),
    ("odatis-mr", lambda d, day: write_odatis_mr(d, day), None),
])
def test_generated_grids_append_days(tmp_path, settings, product, writer, variable):
    files = [writer(tmp_path, date(2024, 5, day)) for day in (1, 2, 3)]
    summary = ingest_satellite(product, [str(f) for f in files], settings)
    assert summary.files_ingested == 3, _quarantine(settings)
    rows = _granules(settings)
    cube = open_cube(settings, rows[0]["cube"])
    assert cube.sizes["time"] == 3
    name = variable or next(iter(cube.data_vars))
    expected = open_granule(lake_schema.product(product), files[1]).dataset[name].values
    np.testing.assert_allclose(cube[name].isel(time=1).values, expected[0], rtol=1e-6, equal_nan=True)
