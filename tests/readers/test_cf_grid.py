"""cf_grid reader: real xcube OLCI L3 cube (values read independently with zarr), synthetic OC-CCI
v5/v6, GlobColour and ODATIS-MR files, lake round trips and bad inputs."""

from __future__ import annotations

from datetime import datetime

import numpy as np
import pytest
import xarray as xr
import zarr

import lake_schema
from lake_schema.definitions import parse_product
from tasks.cubes import open_cube, write_cube
from tasks.errors import InvalidFile, MissingVariable
from tasks.readers.cf_grid import is_zarr, open_cf_grid
from tasks.synthetic import write_globcolour_l3, write_occi_l3, write_odatis_mr

CUBE = "satellite_olci/cube-1-250-250.levels/2.zarr"


def _round_trip(settings, granule, name="t"):
    write_cube(settings, name, granule.dataset, message="test", append_dim="time")
    back = open_cube(settings, name)
    xr.testing.assert_equal(back.load(), granule.dataset.load())
    return back


@pytest.fixture(scope="module")
def xcube(realdata):
    return open_cf_grid(realdata / CUBE, lake_schema.product("olci-c2rcc-l3-cube"))


@pytest.mark.realdata
def test_xcube_values_equal_independent_zarr_read(xcube, realdata):
    group = zarr.open_group(str(realdata / CUBE), mode="r")
    chl, lat, lon = group["conc_chl"], group["lat"][:], group["lon"][:]
    finite = np.argwhere(np.isfinite(chl[:]))
    picks = [tuple(finite[i]) for i in (0, len(finite) // 2, len(finite) - 1)]
    for t, i, j in picks:
        value = xcube.dataset["chlor_a"].isel(time=t, lat=i, lon=j)
        assert float(value) == float(chl[t, i, j])
        assert float(value.lat) == lat[i] and float(value.lon) == lon[j]
    assert xcube.dataset["chlor_a"].attrs["units"] == "mg m-3"
    assert xcube.dataset["chlor_a"].dims == ("time", "lat", "lon")
    assert xcube.dataset["flags"].dtype == np.int64
    assert xcube.dataset["flags"].chunks is not None  # lazy
    assert "kd490" not in xcube.dataset  # kd489 is not relabelled


@pytest.mark.realdata
def test_xcube_time_and_bbox(xcube, realdata):
    days = zarr.open_group(str(realdata / CUBE), mode="r")["time"][:]  # days since 1970-01-01
    expected = (np.datetime64("1970-01-01") + (days * 86400e9).astype("timedelta64[ns]")).astype("datetime64[ns]")
    assert xcube.dataset.sizes["time"] == 5
    assert np.abs(xcube.dataset.time.values - expected).max() < np.timedelta64(1, "ms")
    assert xcube.time_start == datetime(2017, 1, 16, 10, 9, 21, 834255)
    assert xcube.time_end.date() == datetime(2017, 1, 30).date() and xcube.time_end.hour == 10
    lon0, lat0, lon1, lat1 = xcube.bbox
    assert (lon0, lat0, lon1, lat1) == pytest.approx((0.00125, 50.00875, 4.99125, 52.49875))
    assert xcube.dataset.lat.values[0] > xcube.dataset.lat.values[-1]  # source order kept


@pytest.mark.realdata
def test_xcube_round_trip_through_lake(xcube, settings):
    back = _round_trip(settings, xcube, "olci-c2rcc-l3-cube")
    assert back.sizes["time"] == 5


@pytest.mark.realdata
def test_zarr_url_code_path(realdata):
    url = (realdata / CUBE).as_uri()  # file:// goes through fsspec like s3:// or https:// ARCO stores
    assert is_zarr(url)
    granule = open_cf_grid(url, lake_schema.product("olci-c2rcc-l3-cube"))
    assert granule.dataset.sizes["time"] == 5 and granule.granule_id == "2"


@pytest.mark.parametrize("version", ["5.0", "6.0"])
def test_occi_round_trip(tmp_path, settings, version):
    path = write_occi_l3(tmp_path, "20200101", version=version, parameter="OC_PRODUCTS")
    granule = open_cf_grid(path, lake_schema.product("occi-l3"))
    ds = granule.dataset
    assert granule.processing_version == version
    assert granule.granule_key == "OC_PRODUCTS.1D.4km.20200101"
    assert (granule.time_start, granule.time_end) == (datetime(2020, 1, 1), datetime(2020, 1, 1, 23, 59))
    assert list(ds.wavelength.values) == [412, 443, 490, 510, 560, 665]
    assert ds["rrs"].dims == ("time", "lat", "lon", "wavelength")
    src = xr.open_dataset(path)
    np.testing.assert_array_equal(ds["chlor_a"].values, src["chlor_a"].values)
    np.testing.assert_array_equal(ds["chlor_a_log10_rmsd"].values, src["chlor_a_log10_rmsd"].values)
    np.testing.assert_array_equal(ds["rrs"].sel(wavelength=560).values, src["Rrs_560"].values)
    assert np.isnan(ds["chlor_a"].values).any() and np.isfinite(ds["chlor_a"].values).any()
    _round_trip(settings, granule)


def test_occi_chlor_a_only_file(tmp_path):
    path = write_occi_l3(tmp_path, "20200101", version="6.0")
    ds = open_cf_grid(path, lake_schema.product("occi-l3")).dataset
    assert set(ds.data_vars) == {"chlor_a", "chlor_a_log10_rmsd", "chlor_a_log10_bias"}


@pytest.mark.parametrize("kind", ["plankton", "reflectance"])
def test_globcolour_round_trip(tmp_path, settings, kind):
    path = write_globcolour_l3(tmp_path, "20240101", kind=kind)
    granule = open_cf_grid(path, lake_schema.product("globcolour-l3"))
    ds = granule.dataset
    src = xr.open_dataset(path)
    assert "latitude" not in ds.dims and ds.lat.values[0] < ds.lat.values[-1]
    if kind == "plankton":
        np.testing.assert_array_equal(ds["chlor_a"].values, src["CHL"].values)
    else:
        assert list(ds.wavelength.values) == [412, 443, 490, 555, 670]
        np.testing.assert_array_equal(ds["rrs"].sel(wavelength=670).values, src["RRS670"].values)
    np.testing.assert_array_equal(ds["flags"].values, src["flags"].values)
    assert granule.granule_key == f"{kind}.P1D.20240101"
    _round_trip(settings, granule)


@pytest.mark.parametrize(("sensor", "parameter", "var", "band"),
                         [("OLCI-A", "NRRS", "NRRS560-PO_mean", 560), ("MODIS", "NRRS", "NRRS555-NS_mean", 555),
                          ("MERIS", "CHL-OC5", "CHL-OC5-PO_mean", None)])
def test_odatis_round_trip(tmp_path, settings, sensor, parameter, var, band):
    path = write_odatis_mr(tmp_path, "20200101", sensor=sensor, parameter=parameter)
    granule = open_cf_grid(path, lake_schema.product("odatis-mr"))
    ds = granule.dataset
    assert ds.sizes["time"] == 1 and ds.time.values[0] == np.datetime64("2020-01-01")  # added time dim
    values = ds["rrs"].sel(wavelength=band) if band else ds["chlor_a"]
    np.testing.assert_array_equal(values.isel(time=0).values, xr.open_dataset(path)[var].values)
    _round_trip(settings, granule)


def test_longitude_wrapped_and_sorted(tmp_path):
    path = write_occi_l3(tmp_path, "20200101", bbox=(178.0, 10.0, 182.0, 12.0))
    ds = open_cf_grid(path, lake_schema.product("occi-l3")).dataset
    assert ds.lon.values.min() >= -180 and ds.lon.values.max() < 180
    assert np.all(np.diff(ds.lon.values) > 0)


def test_truncated_file(tmp_path):
    path = write_occi_l3(tmp_path, "20200101")
    path.write_bytes(path.read_bytes()[:2000])
    with pytest.raises(InvalidFile, match="truncated"):
        open_cf_grid(path, lake_schema.product("occi-l3"))


def test_definition_naming_missing_variable(tmp_path):
    path = write_globcolour_l3(tmp_path, "20240101")
    spec = {"id": "x", "title": "x", "sensor": "x", "platform": "x", "provider": "x", "reader": "cf_grid",
            "geometry": "grid", "file_patterns": ["*.nc"], "latitude": ["latitude"], "longitude": ["longitude"],
            "main_variable": "kd490", "variables": {"kd490": {"paths": ["KD490"], "units": "m-1"}}}
    with pytest.raises(MissingVariable, match="KD490"):
        open_cf_grid(path, parse_product(spec, lake_schema.fields()))


def test_lat_lon_not_1d(tmp_path):
    lat, lon = np.meshgrid(np.linspace(40, 41, 4), np.linspace(-5, -4, 3), indexing="ij")
    ds = xr.Dataset({"chlor_a": (("y", "x"), np.ones((4, 3), np.float32))},
                    coords={"lat": (("y", "x"), lat), "lon": (("y", "x"), lon)},
                    attrs={"time_coverage_start": "2020-01-01T00:00:00Z"})
    path = tmp_path / "ESACCI-OC-L3S-CHLOR_A-MERGED-1D_DAILY_4km_GEO_PML_OCx-20200101-fv6.0.nc"
    ds.to_netcdf(path)
    with pytest.raises(InvalidFile, match="1-D"):
        open_cf_grid(path, lake_schema.product("occi-l3"))


def test_all_nan_granule_opens(tmp_path):
    src = xr.open_dataset(write_occi_l3(tmp_path / "a", "20200101")).load()
    src["chlor_a"][:] = np.nan
    path = tmp_path / "ESACCI-OC-L3S-CHLOR_A-MERGED-1D_DAILY_4km_GEO_PML_OCx-20200102-fv6.0.nc"
    src.to_netcdf(path)
    granule = open_cf_grid(path, lake_schema.product("occi-l3"))
    assert np.isnan(granule.dataset["chlor_a"].values).all()
