"""CF swath reader: real SNAP C2RCC (OLCI) and ACOLITE L2W (MSI) subsets, synthetic files, bad inputs."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import netCDF4
import numpy as np
import pytest

from lake_schema.definitions import load_products
from tasks.errors import InvalidFile, MissingVariable
from tasks.readers.cf_swath import can_open, open_cf_swath
from tasks.readers.satellite_common import invalid_mask
from tasks.synthetic import write_acolite_l2w, write_snap_c2rcc

REPO = Path(__file__).resolve().parents[2]
C2RCC = "satellite_olci/O_L2_0001_SNS_2017105095839_v1.0.nc"
ACOLITE = "satellite_s2msi/S2A_MSI_L2W__20210218T103101_N0209_R108_T31TFJ_10m_BER__ACOLITE.nc"
PIXELS = [(0, 0), (40, 57), (85, 99)]


@pytest.fixture(scope="module")
def products():
    return load_products(str(REPO / "lake_schema" / "products"))


def _read(path: Path, name: str) -> np.ndarray:
    with netCDF4.Dataset(path) as nc:
        return np.ma.filled(nc[name][:].astype(float), np.nan)


def test_real_c2rcc(realdata, products):
    path = realdata / C2RCC
    granule = open_cf_swath(path, products["olci-c2rcc"])
    ds = granule.dataset
    rrs490, chl, lat = _read(path, "rrs_4"), _read(path, "conc_chl"), _read(path, "lat")
    for i, j in PIXELS:
        assert float(ds.rrs.sel(wavelength=490.0)[i, j]) == pytest.approx(rrs490[i, j], rel=1e-6)
        assert float(ds.chl_nn[i, j]) == pytest.approx(chl[i, j], rel=1e-6)
        assert float(ds.latitude[i, j]) == pytest.approx(lat[i, j])
    assert ds.latitude.dims == ("y", "x") and ds.latitude.shape == (86, 100)
    assert ds.rrs.sizes["wavelength"] == 16 and float(ds.wavelength[-1]) == 1020.0
    with netCDF4.Dataset(path) as nc:
        flags = nc["c2rcc_flags"]
        assert ds.flags.attrs["flag_meanings"] == flags.flag_meanings
        assert list(ds.flags.attrs["flag_masks"]) == list(flags.flag_masks)
        start = datetime.strptime(nc.start_date.title(), "%d-%b-%Y %H:%M:%S.%f")
        sza, offset, step = nc["SZA"][:], float(nc["SZA"].offset_x), float(nc["SZA"].subsampling_x)
    assert granule.time_start == start == datetime(2017, 4, 15, 10, 1, 35, 533860)
    t = (0 - offset) / step  # pixel 0 sits between tie points 0 and 1
    assert float(ds.solar_zenith_angle[3, 0]) == pytest.approx(sza[3, 0] + (sza[3, 1] - sza[3, 0]) * t, abs=1e-4)
    assert granule.processing_version == "1.0"
    mask = invalid_mask(ds.flags, products["olci-c2rcc"].flags.invalid, str(path)).values
    assert mask.dtype == bool and mask.shape == (86, 100)


def test_real_acolite(realdata, products):
    path = realdata / ACOLITE
    assert can_open(path)
    granule = open_cf_swath(path, products["msi-acolite-l2w"])
    ds = granule.dataset
    rrs443, lon = _read(path, "Rrs_443"), _read(path, "lon")
    for i, j in PIXELS:
        np.testing.assert_array_equal(float(ds.rrs.sel(wavelength=443.0)[i, j]), rrs443[i, j])  # NaN where masked
        assert float(ds.longitude[i, j]) == pytest.approx(lon[i, j])
    with netCDF4.Dataset(path) as nc:
        isodate = datetime.strptime(nc.isodate, "%Y-%m-%dT%H:%M:%S.%fZ")
        raw_flags = nc["l2_flags"][:]
    assert granule.time_start == isodate
    assert ds.flags.attrs["flag_meanings"].split()[:2] == ["non_water", "cirrus"]
    mask = invalid_mask(ds.flags, products["msi-acolite-l2w"].flags.invalid, str(path)).values
    np.testing.assert_array_equal(mask, raw_flags > 0)
    assert granule.name_fields["tile"] == "31TFJ" and granule.processing_version == "0209"


def test_synthetic_snap_and_acolite(tmp_path, products):
    snap = write_snap_c2rcc(tmp_path, datetime(2018, 5, 1, 10, 20, 30, 250000), 52.0, 3.5, shape=(30, 40))
    granule = open_cf_swath(snap, products["olci-c2rcc"])
    assert granule.time_start == datetime(2018, 5, 1, 10, 20, 30, 250000)
    assert int(invalid_mask(granule.dataset.flags, ("Cloud_risk",), "x").sum()) > 0
    acolite = write_acolite_l2w(tmp_path, datetime(2022, 7, 1, 10, 40), 43.4, 5.1, shape=(30, 40), platform="S2B")
    ds = open_cf_swath(acolite, products["msi-acolite-l2w"]).dataset
    raw = _read(acolite, "Rrs_2186")  # S2B name, stored under the 2202 nm key
    np.testing.assert_allclose(ds.rrs.sel(wavelength=2202.0).values, raw, rtol=1e-6)


def test_missing_band(tmp_path, products):
    path = write_acolite_l2w(tmp_path, datetime(2022, 7, 1, 10, 40), 43.4, 5.1, shape=(10, 12))
    with netCDF4.Dataset(path, "a") as nc:
        nc.renameVariable("Rrs_665", "other_665")
    with pytest.raises(MissingVariable, match="Rrs_665"):
        open_cf_swath(path, products["msi-acolite-l2w"])


def test_lat_lon_shape_mismatch(tmp_path, products):
    path = tmp_path / "S2A_MSI_L2W__20220701T104000_N0209_R108_T31TFJ_10m_BER__ACOLITE.nc"
    with netCDF4.Dataset(path, "w") as nc:
        nc.isodate = "2022-07-01T10:40:00.000000Z"
        for dim, size in (("y", 5), ("x", 6), ("x2", 7)):
            nc.createDimension(dim, size)
        nc.createVariable("lat", "f4", ("y", "x"))[:] = 43.0
        nc.createVariable("lon", "f4", ("y", "x2"))[:] = 5.0
    with pytest.raises(InvalidFile, match="same shape"):
        open_cf_swath(path, products["msi-acolite-l2w"])


def test_truncated_file(tmp_path, products):
    path = write_snap_c2rcc(tmp_path, datetime(2018, 5, 1, 10, 20), 52.0, 3.5, shape=(10, 12))
    path.write_bytes(path.read_bytes()[:500])
    with pytest.raises(InvalidFile, match="cannot be opened"):
        open_cf_swath(path, products["olci-c2rcc"])
