"""OLCI L2 WFR SEN3 reader: real manifests/skeletons, synthetic round trip, bad inputs."""

from __future__ import annotations

import re
from datetime import datetime
from pathlib import Path

import netCDF4
import numpy as np
import pytest

from lake_schema.definitions import load_products
from tasks.errors import InvalidFile, MissingVariable
from tasks.readers.olci_sen3 import can_open, open_olci_sen3, read_sen3_manifest
from tasks.readers.satellite_common import invalid_mask
from tasks.synthetic import write_olci_wfr_sen3

REPO = Path(__file__).resolve().parents[2]
HEADERS = "satellite_olci_sen3_headers"
REAL = {
    "003": "S3A_OL_2_WFR____20210604T001016_20210604T001316_20210604T021918_0179_072_273_1440_MAR_O_NR_003.SEN3",
    "004": "S3B_OL_2_WFR____20260301T234556_20260301T234856_20260303T033944_0179_117_187_2520_MAR_O_NT_004.SEN3",
}


@pytest.fixture(scope="module")
def product():
    return load_products(str(REPO / "lake_schema" / "products"))["olci-l2-wfr"]


@pytest.fixture(scope="module")
def sen3(tmp_path_factory):
    return write_olci_wfr_sen3(tmp_path_factory.mktemp("sen3"), datetime(2021, 6, 4, 10, 10, 16), 43.0, 5.0,
                               shape=(60, 150), seed=3)


def _xml(path: Path, tag: str) -> str:
    return re.search(rf"<{tag}[^>]*>([^<]+)</{tag}>", path.read_text(encoding="utf-8")).group(1).strip()


@pytest.mark.parametrize("baseline", ["003", "004"])
def test_real_manifest(realdata, baseline):
    folder = realdata / HEADERS / REAL[baseline]
    meta = read_sen3_manifest(folder / "xfdumanifest.xml")
    xml = folder / "xfdumanifest.xml"
    assert meta["time_start"] == datetime.strptime(_xml(xml, "sentinel-safe:startTime"), "%Y-%m-%dT%H:%M:%S.%fZ")
    assert meta["time_end"] == datetime.strptime(_xml(xml, "sentinel-safe:stopTime"), "%Y-%m-%dT%H:%M:%S.%fZ")
    assert meta["baseline_collection"] == _xml(xml, "sentinel3:baselineCollection") == baseline
    assert meta["platform"] == "S3" + _xml(xml, "sentinel-safe:number") == REAL[baseline][:3]
    assert meta["product_name"] == REAL[baseline]
    lat0, lon0 = _xml(xml, "gml:posList").split()[:2]  # posList is "lat lon ..."
    assert meta["footprint"].startswith(f"POLYGON(({float(lon0):g} {float(lat0):g},")
    assert meta["creation_time"] == datetime.strptime(REAL[baseline][48:63], "%Y%m%dT%H%M%S")
    assert ("chl_oc4me.nc" if baseline == "003" else "chlor_a.nc") in meta["files"]
    assert can_open(folder)


def test_real_antimeridian_bbox(realdata):
    lon_min, lat_min, lon_max, lat_max = read_sen3_manifest(realdata / HEADERS / REAL["003"])["bbox"]
    assert lon_max < lon_min  # the 003 granule crosses 180 degrees
    assert 76 < lat_min < lat_max < 90


def test_header_only_skeleton(realdata, product):
    with pytest.raises(MissingVariable, match="header-only"):
        open_olci_sen3(realdata / HEADERS / REAL["003"], product)


def test_manifest_only_folder(realdata, product):
    with pytest.raises(MissingVariable, match="only the manifest"):
        open_olci_sen3(realdata / HEADERS / REAL["004"] / "xfdumanifest.xml", product)


def _raw(path: Path, name: str, i: int, j: int) -> tuple[float, float, float]:
    with netCDF4.Dataset(path) as ds:
        var = ds[name]
        var.set_auto_maskandscale(False)
        return float(var[i, j]), float(var.scale_factor), float(var.add_offset)


def test_synthetic_round_trip(sen3, product):
    granule = open_olci_sen3(sen3, product)
    ds = granule.dataset
    assert granule.processing_version == "003" and granule.granule_id == sen3.name[:-5]
    assert granule.time_start == datetime(2021, 6, 4, 10, 10, 16)
    assert ds.latitude.dims == ("y", "x") and ds.rho_w.dims == ("y", "x", "wavelength")
    assert list(ds.wavelength.values[:3]) == [400.0, 412.5, 442.5]
    with netCDF4.Dataset(sen3 / "wqsf.nc") as nc:
        wqsf = nc["WQSF"][:]
        bits = dict(zip(nc["WQSF"].flag_meanings.split(), nc["WQSF"].flag_masks.tolist(), strict=True))
    water = np.argwhere((wqsf & bits["WATER"] > 0) & (wqsf & (bits["CLOUD"] | bits["CLOUD_AMBIGUOUS"]) == 0))
    cloud = np.argwhere(wqsf & bits["CLOUD"] > 0)[0]
    i, j = water[len(water) // 2]
    raw, scale, offset = _raw(sen3 / "Oa06_reflectance.nc", "Oa06_reflectance", i, j)
    assert float(ds.rho_w.sel(wavelength=560.0)[i, j]) == pytest.approx(raw * scale + offset, rel=1e-6)
    raw, scale, offset = _raw(sen3 / "chl_oc4me.nc", "CHL_OC4ME", i, j)
    assert float(ds.chlor_a[i, j]) == pytest.approx(10 ** (raw * scale + offset), rel=1e-5)
    mask = invalid_mask(ds.flags, product.flags.invalid, str(sen3))
    assert bool(mask[tuple(cloud)]) and not bool(mask[i, j])
    assert ds.flags.attrs["flag_meanings"].split()[:4] == ["INVALID", "WATER", "LAND", "CLOUD"]


def test_tie_point_angles(sen3, product):
    ds = open_olci_sen3(sen3, product).dataset
    with netCDF4.Dataset(sen3 / "tie_geometries.nc") as nc:
        sza, step = nc["SZA"][:], int(nc.ac_subsampling_factor)
    j = 100  # between tie columns 1 (64) and 2 (128)
    expected = sza[7, 1] + (sza[7, 2] - sza[7, 1]) * (j - step) / step
    assert float(ds.solar_zenith_angle[7, j]) == pytest.approx(expected, abs=1e-4)
    assert ds.viewing_zenith_angle.shape == ds.latitude.shape


def test_baseline_004_chlor_a(tmp_path, product):
    folder = write_olci_wfr_sen3(tmp_path, datetime(2024, 1, 2, 9, 0), -30.0, 20.0, shape=(20, 70), baseline="004")
    granule = open_olci_sen3(folder, product)
    assert granule.processing_version == "004"
    assert "IOP_LSD_FAIL" in granule.dataset.flags.attrs["flag_meanings"]
    assert float(granule.dataset.chlor_a.max()) > 0.1


def test_missing_band(tmp_path, product):
    folder = write_olci_wfr_sen3(tmp_path, datetime(2021, 6, 4, 10, 10), 43.0, 5.0, shape=(20, 70),
                                 drop=("Oa05_reflectance.nc",))
    with pytest.raises(MissingVariable, match="Oa05_reflectance"):
        open_olci_sen3(folder, product)


def test_truncated_band(tmp_path, product):
    folder = write_olci_wfr_sen3(tmp_path, datetime(2021, 6, 4, 10, 10), 43.0, 5.0, shape=(20, 70))
    band = folder / "Oa08_reflectance.nc"
    band.write_bytes(band.read_bytes()[:300])
    with pytest.raises(InvalidFile, match="Oa08_reflectance.nc"):
        open_olci_sen3(folder, product)


def test_lat_lon_shape_mismatch(tmp_path, product):
    folder = write_olci_wfr_sen3(tmp_path, datetime(2021, 6, 4, 10, 10), 43.0, 5.0, shape=(20, 70))
    with netCDF4.Dataset(folder / "geo_coordinates.nc", "w") as nc:
        nc.createDimension("rows", 20)
        nc.createDimension("columns", 70)
        nc.createDimension("columns_bad", 69)
        nc.createVariable("latitude", "f8", ("rows", "columns"))[:] = 43.0
        nc.createVariable("longitude", "f8", ("rows", "columns_bad"))[:] = 5.0
    with pytest.raises(InvalidFile, match="same shape"):
        open_olci_sen3(folder, product)
