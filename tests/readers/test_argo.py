"""Tests of tasks.readers.argo on every real Argo profile file and on synthetic bad files."""

from __future__ import annotations

from pathlib import Path

import netCDF4
import numpy as np
import pyarrow as pa
import pytest
import xarray as xr

from lake_schema import table
from tasks.errors import InvalidFile, MissingVariable
from tasks.readers.argo import can_open, open_argo
from tasks.readers.base import LINEAGE_COLUMNS

#: file -> profiles expected to be rejected (BR6903247_001 profiles 0 and 1 only carry PRES).
PROFILE_FILES = {
    "3902131_Sprof.nc": [],
    "5900865_prof.nc": [],
    "BD3902131_001.nc": [],
    "BR6903247_001.nc": [0, 1],
    "D3902131_001.nc": [],
    "D5900865_001.nc": [],
    "R6903247_001.nc": [],
    "SD3902131_001.nc": [],
    "SR6903247_001.nc": [],
    "SR6903247_002.nc": [],
}


def _schema(name: str) -> pa.Schema:
    return pa.schema([f for f in table(name).arrow_schema() if f.name not in LINEAGE_COLUMNS])


def _xr(path: Path) -> xr.Dataset:
    return xr.open_dataset(path, decode_times=True, mask_and_scale=True)


def _rows(result, **where) -> list[dict]:
    rows = result.tables["argo_measurements"].to_pylist()
    return [r for r in rows if all(r[k] == v for k, v in where.items())]


@pytest.mark.parametrize("name", sorted(PROFILE_FILES))
def test_real_file_tables_and_counts(realdata, name):
    """Exact lake schemas; every profile is either a row or a rejected entry; positions match."""
    path = realdata / "argo" / name
    assert can_open(path)
    result = open_argo(path)
    profiles = result.tables["argo_profiles"]
    assert result.reader == "argo-profile"
    assert profiles.schema == _schema("argo_profiles")
    assert result.tables["argo_measurements"].schema == _schema("argo_measurements")
    with netCDF4.Dataset(path) as ds:
        n_prof = len(ds.dimensions["N_PROF"])
        lat = np.asarray(ds["LATITUDE"][:], dtype=float)
        lon = np.asarray(ds["LONGITUDE"][:], dtype=float)
    rejected = PROFILE_FILES[name]
    assert profiles.num_rows == n_prof - len(rejected)
    assert [obj for obj, _ in result.rejected] == [f"{path}#profile {i} (cycle 1 A)" for i in rejected]
    kept = np.setdiff1d(np.arange(n_prof), rejected)
    np.testing.assert_allclose(profiles["latitude"].to_numpy(), lat[kept])
    np.testing.assert_allclose(profiles["longitude"].to_numpy(), lon[kept])
    assert set(profiles["file_kind"].to_pylist()) == {
        "bgc-s" if name.startswith("S") or "Sprof" in name else "bgc-b" if name.startswith("B") else "core"
    }
    qcs = set(result.tables["argo_measurements"]["qc"].unique().to_pylist())
    assert qcs <= set("0123456789") | {None}


def test_sprof_162_profiles_times(realdata):
    """3902131_Sprof: 162 profiles, none rejected, JULD range as in MANIFEST, n_levels independent."""
    path = realdata / "argo" / "3902131_Sprof.nc"
    result = open_argo(path)
    profiles = result.tables["argo_profiles"]
    assert profiles.num_rows == 162 and result.rejected == []
    times = profiles["time"].to_numpy()
    assert times.min() == np.datetime64("2018-03-13T06:01:00")
    assert times.max() == np.datetime64("2021-02-27T12:37:20")
    assert profiles["direction"].to_pylist()[:2] == ["D", "A"]
    assert profiles["cycle_number"].to_pylist()[:3] == [1, 1, 2]
    assert set(profiles["data_mode"].to_pylist()) == {"R"}  # DOXY is R, TEMP/PSAL/PRES D
    ds = _xr(path)
    notnull = sum(ds[p].notnull() | ds[f"{p}_ADJUSTED"].notnull() for p in ("TEMP", "PSAL", "DOXY"))
    np.testing.assert_array_equal(profiles["n_levels"].to_numpy(), (notnull > 0).sum("N_LEVELS").values)
    assert result.tables["argo_measurements"].num_rows == int(notnull.sum())


def test_sr6903247_chla_and_ed490_values(realdata):
    """CHLA (mode A -> adjusted) and DOWN_IRRADIANCE490 (mode R -> raw) at given levels."""
    path = realdata / "argo" / "SR6903247_001.nc"
    ds = _xr(path)
    result = open_argo(path)
    (chla,) = _rows(result, parameter="CHLA", level=2)
    assert chla["data_mode"] == "A"
    assert chla["value"] == pytest.approx(float(ds.CHLA_ADJUSTED[0, 2]), rel=1e-6) == pytest.approx(0.0438)
    assert chla["value_raw"] == pytest.approx(float(ds.CHLA[0, 2]), rel=1e-6)
    assert (chla["qc"], chla["qc_raw"]) == (
        ds.CHLA_ADJUSTED_QC.values[0, 2].decode(),
        ds.CHLA_QC.values[0, 2].decode(),
    )
    assert chla["pres"] == pytest.approx(float(ds.PRES[0, 2]))  # PRES is in R mode: raw PRES
    (ed,) = _rows(result, parameter="DOWN_IRRADIANCE490", level=0)
    assert ed["data_mode"] == "R" and ed["value"] == ed["value_raw"]
    assert ed["value"] == pytest.approx(float(ds.DOWN_IRRADIANCE490[0, 0]), rel=1e-6)
    assert ed["qc"] == "1" and ed["units"] == ds.DOWN_IRRADIANCE490.attrs["units"]
    (profile,) = result.tables["argo_profiles"].to_pylist()
    assert profile["time"] == np.datetime64("2018-10-19T05:41:00").astype(object)
    # JULD_LOCATION is 06:04:08.999997 (MANIFEST truncates it to 06:04:08); decoding rounds to the ms
    assert profile["time_location"] == np.datetime64("2018-10-19T06:04:09").astype(object)
    assert profile["parameter_data_modes"][8] == ("CHLA", "A")
    assert profile["chla_surface_rule"] == "first_optical_depth"
    assert 10 < profile["first_optical_depth"] < 60
    assert profile["chla_surface"] == pytest.approx(0.0438)


def test_data_mode_selection_sd3902131(realdata):
    """TEMP/PSAL in D mode -> adjusted; DOXY in R mode -> raw; pres = PRES_ADJUSTED (D)."""
    path = realdata / "argo" / "SD3902131_001.nc"
    ds = _xr(path)
    result = open_argo(path)
    for param, use_adjusted in (("TEMP", True), ("PSAL", True), ("DOXY", False)):
        rows = _rows(result, parameter=param)
        levels = [r["level"] for r in rows]
        source = ds[f"{param}_ADJUSTED" if use_adjusted else param].values[0, levels]
        got = np.array([np.nan if r["value"] is None else r["value"] for r in rows])
        np.testing.assert_allclose(got, source, rtol=1e-6)
        assert {r["data_mode"] for r in rows} == {"D" if use_adjusted else "R"}
        np.testing.assert_allclose([r["pres"] for r in rows], ds.PRES_ADJUSTED.values[0, levels], rtol=1e-6)


def test_core_profile_modes_and_index(realdata):
    """Core DATA_MODE per profile; profile_index ranks profiles of one cycle; B file PRES fallback."""
    core = open_argo(realdata / "argo" / "D3902131_001.nc").tables["argo_profiles"]
    assert core["data_mode"].to_pylist() == ["D", "A"]
    multi = open_argo(realdata / "argo" / "R6903247_001.nc").tables["argo_profiles"]
    assert multi["profile_index"].to_pylist() == [0, 1, 2, 3, 4, 5]
    bfile = realdata / "argo" / "BR6903247_001.nc"
    result = open_argo(bfile)
    assert "UV_INTENSITY_NITRATE" not in set(result.tables["argo_measurements"]["parameter"].to_pylist())
    assert "UV_INTENSITY_NITRATE" in result.tables["argo_profiles"]["parameters"][3].as_py()
    (row,) = _rows(result, parameter="CHLA", level=0)
    assert row["pres"] == pytest.approx(float(_xr(bfile).PRES[4, 0]))
    assert "only PRES" in result.rejected[0][1] and str(bfile) in result.rejected[0][1]


def test_juld_decoding_core(realdata):
    """D5900865_001 JULD vs MANIFEST, which truncates: JULD is 06:28:06.99998 -> 06:28:07, as in _prof."""
    (profile,) = open_argo(realdata / "argo" / "D5900865_001.nc").tables["argo_profiles"].to_pylist()
    with netCDF4.Dataset(realdata / "argo" / "D5900865_001.nc") as ds:
        seconds = float(ds["JULD"][0]) * 86400.0
    assert seconds % 60 == pytest.approx(7.0, abs=1e-3)
    assert profile["time"] == np.datetime64("2005-08-28T06:28:07").astype(object)
    multi = open_argo(realdata / "argo" / "5900865_prof.nc").tables["argo_profiles"]
    assert multi["time"][0].as_py() == profile["time"]
    assert profile["latitude"] == pytest.approx(-9.768)
    assert (profile["time_qc"], profile["position_qc"], profile["data_mode"]) == ("1", "1", "D")


# --- bad input ---------------------------------------------------------------------------------


def _write_argo(
    path: Path, juld=(25000.5, 25001.5), lat=(10.0, 11.0), lon=(20.0, 200.0), drop=(), fill_profile=None
):
    """Small synthetic Argo S file with 2 profiles x 4 levels of PRES, TEMP and CHLA."""
    n_prof, n_levels = 2, 4
    with netCDF4.Dataset(path, "w", format="NETCDF3_CLASSIC") as ds:
        for name, size in (
            ("N_PROF", n_prof),
            ("N_LEVELS", n_levels),
            ("N_PARAM", 3),
            ("STRING8", 8),
            ("STRING64", 64),
            ("STRING32", 32),
            ("DATE_TIME", 14),
        ):
            ds.createDimension(name, size)

        def chars(name, dims, text):
            var = ds.createVariable(name, "S1", dims, fill_value=b" ")
            var[:] = netCDF4.stringtochar(np.array(text, dtype=f"S{ds.dimensions[dims[-1]].size}"))

        chars("DATA_TYPE", ("STRING32",), "Argo synthetic profile")
        chars("REFERENCE_DATE_TIME", ("DATE_TIME",), "19500101000000")
        chars("PLATFORM_NUMBER", ("N_PROF", "STRING8"), ["1234567"] * n_prof)
        chars("STATION_PARAMETERS", ("N_PROF", "N_PARAM", "STRING64"), [["PRES", "TEMP", "CHLA"]] * n_prof)
        scalars = {
            "CYCLE_NUMBER": ("i4", [7, 8], 99999),
            "JULD": ("f8", juld, 999999.0),
            "LATITUDE": ("f8", lat, 99999.0),
            "LONGITUDE": ("f8", lon, 99999.0),
        }
        for name, (dtype, values, fill) in scalars.items():
            if name not in drop:
                ds.createVariable(name, dtype, ("N_PROF",), fill_value=fill)[:] = values
        ds.createVariable("DIRECTION", "S1", ("N_PROF",), fill_value=b" ")[:] = np.array([b"A", b"A"])
        ds.createVariable("PARAMETER_DATA_MODE", "S1", ("N_PROF", "N_PARAM"), fill_value=b" ")[:] = np.array(
            [[b"R", b"R", b"A"]] * n_prof
        )
        for name, base in (("PRES", 1.0), ("TEMP", 20.0), ("CHLA", 0.5)):
            values = np.tile(base + np.arange(n_levels, dtype="f4"), (n_prof, 1))
            if fill_profile is not None:
                values[fill_profile] = 99999.0
            for suffix in ("", "_ADJUSTED"):
                var = ds.createVariable(
                    name + suffix, "f4", ("N_PROF", "N_LEVELS"), fill_value=np.float32(99999.0)
                )
                var.units = "mg/m3" if name == "CHLA" else "degree_Celsius"
                var[:] = values if (suffix == "" or name == "CHLA") else 99999.0
                ds.createVariable(f"{name}{suffix}_QC", "S1", ("N_PROF", "N_LEVELS"), fill_value=b" ")[:] = (
                    b"1"
                )


def test_synthetic_ok_and_longitude_wrap(tmp_path):
    """A clean synthetic file: 2 profiles, 4 levels x 2 parameters, CHLA adjusted, lon 200 -> -160."""
    path = tmp_path / "renamed.nc"
    _write_argo(path)
    assert can_open(path)  # by DATA_TYPE, the name does not match
    result = open_argo(path)
    assert result.rejected == []
    assert result.tables["argo_profiles"]["longitude"].to_pylist() == [20.0, -160.0]
    assert result.tables["argo_measurements"].num_rows == 2 * 4 * 2
    assert {r["value"] for r in _rows(result, parameter="CHLA", level=0)} == {0.5}
    assert result.tables["argo_profiles"]["chla_surface_rule"].to_pylist() == ["top_10dbar"] * 2


@pytest.mark.parametrize(
    ("kwargs", "problem"),
    [
        ({"fill_profile": 1}, "no non-fill measurement"),
        ({"juld": (25000.5, 999999.0)}, "fill or undecodable JULD"),
        ({"juld": (25000.5, 1e300)}, "fill or undecodable JULD"),
        ({"lat": (10.0, 999.0)}, "impossible position"),
        ({"lat": (10.0, 99999.0)}, "fill or NaN position"),
    ],
)
def test_bad_profile_rejected(tmp_path, kwargs, problem):
    """A bad profile goes to ``rejected`` with the file and the problem; the other one is kept."""
    path = tmp_path / "SR1234567_007.nc"
    _write_argo(path, **kwargs)
    result = open_argo(path)
    assert result.tables["argo_profiles"]["cycle_number"].to_pylist() == [7]
    assert set(result.tables["argo_measurements"]["cycle_number"].to_pylist()) == {7}
    ((obj, reason),) = result.rejected
    assert obj == f"{path}#profile 1 (cycle 8 A)"
    assert str(path) in reason and problem in reason


def test_missing_variable(tmp_path):
    """Missing LATITUDE -> MissingVariable naming the file and the variable."""
    path = tmp_path / "SR1234567_007.nc"
    _write_argo(path, drop=("LATITUDE",))
    with pytest.raises(MissingVariable, match="LATITUDE") as info:
        open_argo(path)
    assert str(path) in str(info.value)


def test_truncated_and_text_files(realdata, tmp_path):
    """Truncated NetCDF and plain text -> InvalidFile naming the file."""
    truncated = tmp_path / "SR6903247_001.nc"
    truncated.write_bytes((realdata / "argo" / "SR6903247_001.nc").read_bytes()[:1000])
    text = tmp_path / "R1234567_001.nc"
    text.write_text("this is not a netCDF file\n")
    for path in (truncated, text):
        with pytest.raises(InvalidFile, match="not a readable NetCDF") as info:
            open_argo(path)
        assert str(path) in str(info.value)
    assert not can_open(tmp_path / "notes.txt")
