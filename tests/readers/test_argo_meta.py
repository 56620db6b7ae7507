"""Tests of tasks.readers.argo_meta on the three real meta files (values read with netCDF4 here)."""

from __future__ import annotations

from datetime import datetime

import netCDF4
import numpy as np
import pyarrow as pa
import pytest

from lake_schema import table
from tasks.errors import InvalidFile, MissingVariable
from tasks.readers.argo_meta import can_open, open_argo_meta
from tasks.readers.base import LINEAGE_COLUMNS

META_FILES = ["3902131_meta.nc", "5900865_meta.nc", "6903247_meta.nc"]


def _text(var) -> list[str]:
    var.set_auto_mask(False)
    rows = [b"".join(row).decode().strip(" \x00") for row in np.atleast_2d(var[:])]
    return [row for row in rows if row]


@pytest.mark.parametrize("name", META_FILES)
def test_real_meta_file(realdata, name):
    """One argo_floats row with exact schema; every field equals the file read independently."""
    path = realdata / "argo" / name
    assert can_open(path)
    result = open_argo_meta(path)
    assert result.reader == "argo-meta" and result.rejected == []
    floats = result.tables["argo_floats"]
    assert floats.schema == pa.schema(
        [f for f in table("argo_floats").arrow_schema() if f.name not in LINEAGE_COLUMNS]
    )
    (row,) = floats.to_pylist()
    with netCDF4.Dataset(path) as ds:
        assert row["platform_number"] == _text(ds["PLATFORM_NUMBER"])[0] == name.split("_")[0]
        assert row["platform_type"] == _text(ds["PLATFORM_TYPE"])[0]
        assert row["data_centre"] == _text(ds["DATA_CENTRE"])[0]
        assert row["launch_date"] == datetime.strptime(_text(ds["LAUNCH_DATE"])[0], "%Y%m%d%H%M%S")
        assert row["launch_latitude"] == pytest.approx(float(ds["LAUNCH_LATITUDE"][:]))
        assert row["launch_longitude"] == pytest.approx(float(ds["LAUNCH_LONGITUDE"][:]))
        assert row["sensors"] == _text(ds["SENSOR"])
        assert row["parameters"] == _text(ds["PARAMETER"])


def test_known_values(realdata):
    """6903247: PROVOR_III launched 2018-10-18 04:40 at 34.21N 26.05E with 13 sensors incl. radiometers."""
    (row,) = open_argo_meta(realdata / "argo" / "6903247_meta.nc").tables["argo_floats"].to_pylist()
    assert row["platform_type"] == "PROVOR_III"
    assert row["launch_date"] == datetime(2018, 10, 18, 4, 40)
    assert len(row["sensors"]) == 13 and "RADIOMETER_DOWN_IRR490" in row["sensors"]
    assert "CHLA" in row["parameters"] and len(row["parameters"]) == 36


def test_bad_inputs(realdata, tmp_path):
    """Profile file or text -> InvalidFile; no PLATFORM_NUMBER -> MissingVariable."""
    assert not can_open(realdata / "argo" / "SR6903247_001.nc")
    with pytest.raises(InvalidFile, match="Argo meta-data"):
        open_argo_meta(realdata / "argo" / "SR6903247_001.nc")
    empty = tmp_path / "1234567_meta.nc"
    with netCDF4.Dataset(empty, "w") as ds:
        ds.createDimension("STRING2", 2)
        ds.createVariable("DATA_CENTRE", "S1", ("STRING2",))[:] = np.array([b"I", b"F"])
    with pytest.raises(MissingVariable, match="PLATFORM_NUMBER") as info:
        open_argo_meta(empty)
    assert str(empty) in str(info.value)
    text = tmp_path / "7654321_meta.nc"
    text.write_text("not netcdf")
    with pytest.raises(InvalidFile, match=str(text)):
        open_argo_meta(text)
