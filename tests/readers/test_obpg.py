"""OBPG readers (L3m grid, L2 swath, L3b bins) on real PACE/MODIS files and synthetic files in the real layouts."""

from __future__ import annotations

import math
import shutil
from datetime import date, datetime

import dask.array as da
import netCDF4
import numpy as np
import pytest

import lake_schema
from lake_schema.definitions import parse_product
from tasks.errors import InvalidFile, MissingVariable
from tasks.readers import obpg_l2, obpg_l3b, obpg_l3m
from tasks.readers.obpg_l2 import open_obpg_l2
from tasks.readers.obpg_l3b import open_obpg_l3b
from tasks.readers.obpg_l3m import open_obpg_l3m
from tasks.synthetic.obpg import write_modis_l3b, write_pace_l2_aop, write_pace_l3m

PACE_L3M = "satellite_pace/PACE_OCI.20240614.L3m.DAY.CHL.V3_0.chlor_a.0p1deg.nc"
MODIS_L3B = "satellite_modis/AQUA_MODIS.20140722.L3b.DAY.PAR.x.nc"
#: (lat index, lon index) of water pixels with a valid chlor_a on 2024-06-14 (S Pacific, NW Pacific, Indian Ocean).
PIXELS = [(1172, 399), (519, 3279), (1076, 2520)]


def _product(pid: str):
    return lake_schema.product(pid)


def _custom(**overrides):
    spec = {"id": "test-l3m", "title": "t", "sensor": "OCI", "platform": "PACE", "provider": "test",
            "reader": "obpg_l3m", "geometry": "grid", "file_patterns": ["*.nc"], "main_variable": "chlor_a",
            "latitude": ["lat"], "longitude": ["lon"],
            "variables": {"chlor_a": {"paths": ["chlor_a"], "units": "mg m-3"}}}
    spec.update(overrides)
    return parse_product(spec, lake_schema.fields())


def _isin_centre(bin_num: int, numrows: int) -> tuple[float, float]:
    """Independent ISIN bin centre: walk the rows (SeaWiFS tech. report vol. 32, appendix A)."""
    first = 1
    for row in range(numrows):
        lat = -90.0 + (row + 0.5) * 180.0 / numrows
        nbins = int(2 * numrows * math.cos(math.radians(lat)) + 0.5)
        if bin_num < first + nbins:
            return lat, -180.0 + (bin_num - first + 0.5) * 360.0 / nbins
        first += nbins
    raise AssertionError("bin outside the grid")


# --- real PACE OCI L3m ------------------------------------------------------------------------

@pytest.fixture(scope="module")
def pace_l3m(realdata):
    path = realdata / PACE_L3M
    return path, open_obpg_l3m(path, _product("pace-oci-l3m"))


@pytest.mark.realdata
def test_real_l3m_values_match_independent_read(pace_l3m):
    path, granule = pace_l3m
    chl = granule.dataset["chlor_a"]
    assert isinstance(chl.data, da.Array)  # lazy
    with netCDF4.Dataset(path) as nc:
        for i, j in PIXELS:
            expected = nc["chlor_a"][i, j]
            assert not np.ma.is_masked(expected)
            assert float(chl.isel(time=0, lat=i, lon=j)) == pytest.approx(float(expected), rel=1e-6)
            assert float(granule.dataset["lat"][i]) == pytest.approx(float(nc["lat"][i]), abs=1e-5)
            assert float(granule.dataset["lon"][j]) == pytest.approx(float(nc["lon"][j]), abs=1e-5)
        nc.set_auto_mask(False)
        assert nc["chlor_a"][0, 0] == -32767.0  # polar night: _FillValue -> NaN
        assert np.isnan(float(chl.isel(time=0, lat=0, lon=0)))
        data_bins = int(nc.data_bins)
    assert int(chl.notnull().sum()) == data_bins  # valid cells = the file's data_bins attribute


@pytest.mark.realdata
def test_real_l3m_metadata_and_geometry(pace_l3m):
    _, granule = pace_l3m
    ds = granule.dataset
    assert ds["chlor_a"].dims == ("time", "lat", "lon")
    assert ds.sizes == {"time": 1, "lat": 1800, "lon": 3600}
    assert ds["time"].values[0] == np.datetime64("2024-06-14T00:00:00")  # options.time_coordinate name:date
    assert ds["chlor_a"].attrs["units"] == "mg m-3"
    assert ds["lat"][0] > ds["lat"][-1]  # file order kept (north first)
    lon = ds["lon"].values
    assert lon.min() >= -180 and lon.max() < 180 and np.all(np.diff(lon) > 0)
    assert granule.time_start == datetime(2024, 6, 13, 23, 49, 36)
    assert granule.time_end == datetime(2024, 6, 15, 1, 52, 39)
    assert granule.processing_version == "3.0"
    assert granule.granule_id == "PACE_OCI.20240614.L3m.DAY.CHL.V3_0.chlor_a.0p1deg"
    assert granule.granule_key == "DAY.20240614.CHL.chlor_a.0p1deg"
    assert granule.attrs["main_variable"] == "chlor_a"
    assert granule.bbox == pytest.approx((-179.95, -89.95, 179.95, 89.95), abs=1e-4)
    corners = [tuple(map(float, pt.split())) for pt in granule.footprint[9:-2].split(", ")]
    assert granule.footprint.startswith("POLYGON((") and len(corners) == 5 and corners[0] == corners[-1]
    np.testing.assert_allclose(corners[:4], [(-179.95, -89.95), (179.95, -89.95), (179.95, 89.95), (-179.95, 89.95)],
                               atol=1e-4)


def test_l3m_time_defaults_to_midpoint(tmp_path):
    path = write_pace_l3m(tmp_path, date(2024, 6, 14))
    granule = open_obpg_l3m(path, _custom())  # no time_coordinate option
    midpoint = granule.time_start + (granule.time_end - granule.time_start) / 2
    assert granule.dataset["time"].values[0] == np.datetime64(midpoint, "ns")


# --- real MODIS-Aqua L3b ----------------------------------------------------------------------

@pytest.fixture(scope="module")
def modis_l3b(realdata):
    path = realdata / MODIS_L3B
    return path, open_obpg_l3b(path, _product("modis-l3b"))


@pytest.mark.realdata
def test_real_l3b_bin_means_match_independent_read(modis_l3b):
    path, granule = modis_l3b
    ds = granule.dataset
    assert isinstance(ds["par"].data, da.Array)
    with netCDF4.Dataset(path) as nc:
        group = nc["level-3_binned_data"]
        bin_list, par = group["BinList"][:], group["par"][:]
        numrows = len(group.dimensions["binIndexDim"])
        geo = {k: float(nc.getncattr(f"geospatial_{k}")) for k in ("lon_min", "lat_min", "lon_max", "lat_max")}
    assert ds.sizes["bin"] == len(bin_list) == 3413
    assert granule.attrs["numrows"] == numrows == 4320
    for k in (0, 1700, 3412):
        row = ds.sel(bin=int(bin_list["bin_num"][k]))
        assert float(row["par"]) == pytest.approx(float(par["sum"][k] / bin_list["weights"][k]), rel=1e-6)
        assert int(row["nobs"]) == bin_list["nobs"][k]
        assert float(row["weights"]) == pytest.approx(float(bin_list["weights"][k]))
        lat, lon = _isin_centre(int(bin_list["bin_num"][k]), numrows)
        assert float(row["latitude"]) == pytest.approx(lat, abs=1e-9)
        assert float(row["longitude"]) == pytest.approx(lon, abs=1e-9)
    assert ds["par"].dtype == np.float32 and ds["par"].attrs["units"] == "einstein m-2 day-1"
    # l3bin writes the extreme bin centres as geospatial_* attributes: the bbox must agree.
    assert granule.bbox == pytest.approx((geo["lon_min"], geo["lat_min"], geo["lon_max"], geo["lat_max"]), abs=1e-4)


@pytest.mark.realdata
def test_real_l3b_metadata(modis_l3b):
    _, granule = modis_l3b
    assert granule.time_start == datetime(2014, 7, 22, 0, 15, 1)
    assert granule.time_end == datetime(2014, 7, 23, 2, 55)
    assert granule.processing_version == "unspecified"
    assert granule.granule_key == "DAY.20140722.PAR.x"
    assert granule.attrs["main_variable"] == "par"  # require_any: the only suite variable present
    assert set(granule.dataset.data_vars) == {"par", "nobs", "weights"}


def test_synthetic_l3b_spectral_and_pace_definition(tmp_path):
    path = write_modis_l3b(tmp_path, date(2014, 7, 22), suite="RRS", numrows=2160, region=(-5.0, 5.0, 170.0, 179.9))
    ds = open_obpg_l3b(path, _product("modis-l3b")).dataset
    assert ds["rrs"].dims == ("bin", "wavelength") and list(ds["wavelength"].values)[:2] == [412.0, 443.0]
    with netCDF4.Dataset(path) as nc:
        group = nc["level-3_binned_data"]
        sums, weights = group["Rrs_443"][:]["sum"], group["BinList"][:]["weights"]
    np.testing.assert_allclose(ds["rrs"].sel(wavelength=443.0).values, sums / weights, rtol=1e-6)
    # The same format under PACE names is another definition, not another reader.
    chl = write_modis_l3b(tmp_path, date(2024, 6, 14), suite="CHL")
    pace = chl.rename(tmp_path / "PACE_OCI.20240614.L3b.DAY.CHL.V3_0.nc")
    granule = open_obpg_l3b(pace, _product("pace-oci-l3b"))
    assert granule.attrs["main_variable"] == "chlor_a" and granule.granule_key == "DAY.20240614.CHL"


# --- synthetic PACE OCI L2 AOP ----------------------------------------------------------------

def test_synthetic_l2_aop_round_trip(tmp_path):
    path = write_pace_l2_aop(tmp_path, datetime(2024, 6, 14, 12, 15), 36.0, -70.0, shape=(40, 30))
    assert path.name == "PACE_OCI.20240614T121500.L2.OC_AOP.V3_0.nc"
    granule = open_obpg_l2(path, _product("pace-oci-l2-aop"))
    ds = granule.dataset
    assert ds["rrs"].dims == ("y", "x", "wavelength") and isinstance(ds["rrs"].data, da.Array)
    assert ds["latitude"].dims == ("y", "x") and ds["longitude"].shape == (40, 30)
    with netCDF4.Dataset(path) as nc:
        geo, nav = nc["geophysical_data"], nc["navigation_data"]
        np.testing.assert_allclose(ds["wavelength"].values, nc["sensor_band_parameters/wavelength_3d"][:])
        np.testing.assert_allclose(ds["latitude"].values, nav["latitude"][:])
        np.testing.assert_allclose(ds["longitude"].values, nav["longitude"][:])
        rrs, unc = geo["Rrs"][:], geo["Rrs_unc"][:]
        np.testing.assert_allclose(ds["rrs"].values, rrs.filled(np.nan), rtol=1e-6)
        np.testing.assert_allclose(ds["rrs_uncertainty"].values, unc.filled(np.nan), rtol=1e-6)
        np.testing.assert_array_equal(ds["flags"].values, geo["l2_flags"][:])
        np.testing.assert_allclose(ds["solar_zenith_angle"].values, geo["solz"][:], rtol=1e-6)
        flag_meanings = geo["l2_flags"].flag_meanings
    assert ds["flags"].attrs["flag_meanings"] == flag_meanings
    assert ds["flags"].attrs["flag_masks"][1] == 2 and ds["flags"].attrs["flag_masks"][-1] == -2147483648
    land = (ds["flags"].values & 2) != 0
    assert land.any() and np.isnan(ds["rrs"].values[land]).all()  # fill over land -> NaN
    assert 0.0005 < float(ds["rrs"].sel(wavelength=443.0, method="nearest").max()) < 0.02
    assert ds["viewing_zenith_angle"].attrs["units"] == "degree"
    assert granule.time_start == datetime(2024, 6, 14, 12, 15) and granule.time_end == datetime(2024, 6, 14, 12, 20)
    assert granule.processing_version == "3.0" and granule.granule_key == "OC_AOP.20240614T121500"
    lon0, lat0, lon1, lat1 = granule.bbox
    assert lon0 < -70.0 < lon1 and lat0 < 36.0 < lat1
    no_angles = write_pace_l2_aop(tmp_path, datetime(2024, 6, 14, 12, 20), 36.0, -70.0, shape=(20, 10), angles=False)
    assert "solar_zenith_angle" not in open_obpg_l2(no_angles, _product("pace-oci-l2-aop")).dataset


def test_synthetic_l3m_spectral_and_require_any(tmp_path):
    rrs = open_obpg_l3m(write_pace_l3m(tmp_path, date(2024, 6, 15), "Rrs", "1deg"), _product("pace-oci-l3m"))
    assert rrs.dataset["rrs"].dims == ("time", "lat", "lon", "wavelength")
    assert rrs.attrs["main_variable"] == "rrs" and rrs.granule_key == "DAY.20240615.RRS.Rrs.1deg"
    kd = open_obpg_l3m(write_pace_l3m(tmp_path, date(2024, 6, 15), "Kd_490"), _product("pace-oci-l3m"))
    assert kd.attrs["main_variable"] == "kd490" and set(kd.dataset.data_vars) == {"kd490"}


# --- bad input --------------------------------------------------------------------------------

@pytest.mark.parametrize("writer, opener, pid", [
    (lambda d: write_pace_l3m(d, date(2024, 6, 14)), open_obpg_l3m, "pace-oci-l3m"),
    (lambda d: write_pace_l2_aop(d, datetime(2024, 6, 14, 12), 0.0, 0.0, shape=(20, 10)), open_obpg_l2,
     "pace-oci-l2-aop"),
    (lambda d: write_modis_l3b(d, date(2014, 7, 22)), open_obpg_l3b, "modis-l3b"),
])
def test_truncated_file_is_invalid(tmp_path, writer, opener, pid):
    good = writer(tmp_path)
    bad = tmp_path / "bad" / good.name
    bad.parent.mkdir()
    bad.write_bytes(good.read_bytes()[: good.stat().st_size // 2])
    with pytest.raises(InvalidFile, match="truncated|corrupt"):
        opener(bad, _product(pid))


def test_definition_naming_absent_variable(tmp_path):
    path = write_pace_l3m(tmp_path, date(2024, 6, 14))
    product = _custom(variables={"chlor_a": {"paths": ["bogus/chl"], "units": "mg m-3", "required": True}})
    with pytest.raises(MissingVariable, match=rf"{path.name}.*bogus/chl"):
        open_obpg_l3m(path, product)
    only_kd = _custom(main_variable="kd490", options={"require_any": True},
                      variables={"kd490": {"paths": ["Kd_490"], "units": "m-1", "required": False}})
    with pytest.raises(MissingVariable, match=rf"{path.name}: none of the variables.*kd490 \(Kd_490\)"):
        open_obpg_l3m(path, only_kd)


def test_unknown_flag_name_in_definition(tmp_path):
    path = write_pace_l2_aop(tmp_path, datetime(2024, 6, 14, 12), 0.0, 0.0, shape=(20, 10))
    product = parse_product({"id": "x", "title": "x", "sensor": "OCI", "platform": "PACE", "provider": "t",
                             "reader": "obpg_l2", "geometry": "swath", "file_patterns": ["*.nc"],
                             "main_variable": "rrs", "latitude": ["navigation_data/latitude"],
                             "longitude": ["navigation_data/longitude"],
                             "variables": {"rrs": {"paths": ["geophysical_data/Rrs"], "units": "sr-1",
                                                   "wavelengths": ["sensor_band_parameters/wavelength_3d"]}},
                             "flags": {"paths": ["geophysical_data/l2_flags"], "invalid": ["CLOUDY"]}},
                            lake_schema.fields())
    with pytest.raises(InvalidFile, match="CLOUDY"):
        open_obpg_l2(path, product)


def test_l2_latitude_longitude_shape_mismatch(tmp_path):
    path = tmp_path / "PACE_OCI.20240614T120000.L2.OC_AOP.V3_0.nc"
    with netCDF4.Dataset(path, "w") as nc:
        nc.time_coverage_start, nc.time_coverage_end = "2024-06-14T12:00:00.000Z", "2024-06-14T12:05:00.000Z"
        for name, size in (("number_of_lines", 4), ("pixels_per_line", 3), ("other", 5), ("wavelength_3d", 2)):
            nc.createDimension(name, size)
        nc.createGroup("sensor_band_parameters").createVariable("wavelength_3d", "f4", ("wavelength_3d",))[:] = [
            443, 555]
        nav = nc.createGroup("navigation_data")
        nav.createVariable("latitude", "f4", ("number_of_lines", "pixels_per_line"))[:] = 10.0
        nav.createVariable("longitude", "f4", ("number_of_lines", "other"))[:] = 20.0
        geo = nc.createGroup("geophysical_data")
        geo.createVariable("Rrs", "f4", ("number_of_lines", "pixels_per_line", "wavelength_3d"))[:] = 0.001
    with pytest.raises(InvalidFile,
                       match=r"latitude .*\(4, 3\) and longitude .*\(4, 5\) must be 2-D arrays of the same shape"):
        open_obpg_l2(path, _product("pace-oci-l2-aop"))


def test_all_fill_granules_still_open(tmp_path):
    l3m = write_pace_l3m(tmp_path, date(2024, 6, 14))
    l2 = write_pace_l2_aop(tmp_path, datetime(2024, 6, 14, 12), 0.0, 0.0, shape=(20, 10), wavelengths=[443, 555])
    with netCDF4.Dataset(l3m, "a") as nc:
        nc["chlor_a"][:] = np.ma.masked
    with netCDF4.Dataset(l2, "a") as nc:
        nc["geophysical_data/Rrs"][:] = np.ma.masked
    assert open_obpg_l3m(l3m, _product("pace-oci-l3m")).dataset["chlor_a"].isnull().all()
    assert open_obpg_l2(l2, _product("pace-oci-l2-aop")).dataset["rrs"].isnull().all()


def test_can_open(tmp_path):
    l3m = write_pace_l3m(tmp_path, date(2024, 6, 14))
    l3b = write_modis_l3b(tmp_path, date(2014, 7, 22))
    assert obpg_l3m.can_open(l3m) and not obpg_l3m.can_open(l3b)
    assert obpg_l3b.can_open(l3b) and not obpg_l2.can_open(l3b)
    fake = tmp_path / "PACE_OCI.20240614T120000.L2.OC_AOP.V3_0.nc"
    shutil.copyfile(l3m, fake)
    assert obpg_l2.can_open(fake)
    fake.write_text("not netcdf")
    assert not obpg_l2.can_open(fake)


def test_l3m_longitudes_past_180_are_wrapped_and_sorted(tmp_path):
    path = write_pace_l3m(tmp_path, date(2024, 6, 14), resolution="1deg", region=(0.0, 10.0, 170.0, 190.0))
    ds = open_obpg_l3m(path, _product("pace-oci-l3m")).dataset
    lon = ds["lon"].values
    assert lon[0] == pytest.approx(-179.5) and lon[-1] == pytest.approx(179.5) and np.all(np.diff(lon) > 0)
    with netCDF4.Dataset(path) as nc:
        raw = nc["chlor_a"][:].filled(np.nan)
        column = int(np.argmin(np.abs(nc["lon"][:] - 180.5)))
    np.testing.assert_array_equal(ds["chlor_a"].isel(time=0).sel(lon=-179.5).values, raw[:, column])
