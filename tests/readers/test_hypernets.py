"""Tests of the HYPERNETS/PANTHYR water L2A reader on the real files and on synthetic ones."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import netCDF4
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pytest

import lake_schema
from tasks import synthetic
from tasks.errors import InvalidFile, MissingVariable, RefusedFile
from tasks.readers.base import LINEAGE_COLUMNS
from tasks.readers.hypernets import can_open, open_hypernets

REALDATA = Path(__file__).resolve().parents[2].parent / "shared" / "realdata" / "hypernets"
PANTHYR = "PANTHYR_W_O1BE_L2A_REF_20230429T144006_270_20230925T231650_v20230717_QA.nc"
LAND = "HYPERNETS_L_GHNA_L2A_REF_20241001T0900_20241001T1525_v2.1.nc"


@pytest.fixture(scope="module")
def realdata() -> Path:
    if not (REALDATA / PANTHYR).exists():
        pytest.skip(f"real HYPERNETS files not found in {REALDATA} (../shared/realdata is absent)")
    return REALDATA


@pytest.fixture(scope="module")
def panthyr(realdata):
    return open_hypernets(realdata / PANTHYR)


def _schema(name: str) -> pa.Schema:
    return pa.schema([f for f in lake_schema.table(name).arrow_schema() if f.name not in LINEAGE_COLUMNS])


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        (PANTHYR, True),
        (LAND, True),
        ("HYPERNETS_W_VEIT_L2A_REF_20240501T1030_20240501T1530_v2.0.nc", True),
        ("HYPERNETS_W_VEIT_L1C_ALL_20240501T1030_20240501T1530_v2.0.nc", False),
        ("SR6903247_001.nc", False),
        ("s3://bucket/x/PANTHYR_W_VEIT_L2A_REF_20240501T103012_270_x.nc", True),
    ],
)
def test_can_open(name, expected):
    assert can_open(name) is expected


@pytest.mark.realdata
def test_panthyr_real_sequence(panthyr, realdata):
    seq = panthyr.tables["hypernets_sequences"]
    assert seq.schema == _schema("hypernets_sequences")
    assert panthyr.reader == "hypernets-l2a" and panthyr.rejected == []
    row = seq.to_pylist()[0]
    assert row["sequence_id"] == "O1BE_20230429T144006"
    assert (row["site"], row["network"], row["system"]) == ("O1BE", "W", "PANTHYR")
    assert row["n_wavelengths"] == 237
    assert row["processor_version"] == "v20230717"
    with netCDF4.Dataset(realdata / PANTHYR) as ds:
        lat, lon = float(ds.latitude_average), float(ds.longitude_average)
        epoch = float(ds["acquisition_time"][...])
        sza = float(ds["solar_zenith_angle"][0])
    assert row["latitude"] == pytest.approx(lat) and row["longitude"] == pytest.approx(lon)
    assert row["time"] == datetime.fromtimestamp(epoch, UTC).replace(tzinfo=None)
    assert row["time"] == datetime(2023, 4, 29, 14, 40, 6)
    assert row["viewing_azimuth_angle"] == pytest.approx(270.0)
    assert row["viewing_zenith_angle"] == pytest.approx(40.0)
    assert row["solar_zenith_angle"] == pytest.approx(sza)
    assert row["solar_azimuth_angle"] is None  # _FillValue 0 in every PANTHYR file
    # quality_flag _FillValue is 0, which also means "no flag set": decoded as 0 and no names
    assert row["quality_flag"] == 0 and row["quality_flags"] == []


@pytest.mark.realdata
def test_panthyr_real_reflectance(panthyr, realdata):
    refl = panthyr.tables["hypernets_reflectance"]
    assert refl.schema == _schema("hypernets_reflectance")
    assert refl.num_rows == 237
    with netCDF4.Dataset(realdata / PANTHYR) as ds:
        wl = np.asarray(ds["wavelength"][:])
        k = int(np.argmin(np.abs(wl - 560.0)))
        rho = float(ds["reflectance"][k, 0, 0])
        std = float(ds["reflectance_std"][k, 0, 0])
    rows = refl.filter(pc.equal(refl["wavelength"], wl[k])).to_pylist()
    assert len(rows) == 1 and wl[k] == 560.0
    row = rows[0]
    assert row["rho_w"] == pytest.approx(rho, rel=1e-12)
    assert row["rrs"] == pytest.approx(rho / np.pi, rel=1e-12)
    assert row["rho_w_uncertainty"] == pytest.approx(std)  # no u_rel_* in PANTHYR: the scan std
    assert row["rrs_uncertainty"] == pytest.approx(std / np.pi)
    assert row["bandwidth"] is None  # bandwidth is all fill in PANTHYR files
    assert refl["wavelength"][0].as_py() == 355.0 and refl["wavelength"][-1].as_py() == 945.0


@pytest.mark.realdata
def test_land_file_refused(realdata):
    with pytest.raises(RefusedFile, match="LANDHYPERNET.*water-network"):
        open_hypernets(realdata / LAND)


@pytest.fixture(scope="module")
def synth_dir(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("hypernets")


def test_synthetic_hypernets_round_trip(synth_dir):
    t = datetime(2024, 5, 2, 10, 30, tzinfo=UTC)
    path = synthetic.write_hypernets_l2a(synth_dir, "VEIT", t, 45.3142, 12.5083, seed=3, n_series=2)
    result = open_hypernets(path)
    seq, refl = result.tables["hypernets_sequences"], result.tables["hypernets_reflectance"]
    assert seq.num_rows == 2 and seq.schema == _schema("hypernets_sequences")
    assert set(seq["sequence_id"].to_pylist()) == {"VEIT_20240502T103000"}
    assert seq["time"][0].as_py() == datetime(2024, 5, 2, 10, 30)
    assert seq["latitude"][0].as_py() == pytest.approx(45.3142)
    with netCDF4.Dataset(path) as ds:
        rho = np.asarray(ds["reflectance"][:], dtype=float)
        ur = np.asarray(ds["u_rel_random_reflectance"][:], dtype=float)
        us = np.asarray(ds["u_rel_systematic_reflectance"][:], dtype=float)
        qf = np.asarray(ds["quality_flag"][:])
        vaa = np.asarray(ds["viewing_azimuth_angle"][:], dtype=float)
        meanings = ds["quality_flag"].flag_meanings.split()
        n_wl = ds.dimensions["wavelength"].size
    assert refl.num_rows == 2 * n_wl
    got = np.asarray(refl["rho_w"]).reshape(2, n_wl)
    np.testing.assert_allclose(got, rho.T, rtol=1e-7)
    unc = np.asarray(refl["rho_w_uncertainty"]).reshape(2, n_wl)
    np.testing.assert_allclose(unc, (np.abs(rho) * np.hypot(ur, us) / 100.0).T, rtol=1e-6)
    np.testing.assert_allclose(np.asarray(refl["rrs"]), np.asarray(refl["rho_w"]) / np.pi)
    np.testing.assert_allclose(seq["viewing_azimuth_angle"].to_numpy(), vaa)
    assert seq["quality_flag"].to_pylist() == [int(v) for v in qf]
    for value, names in zip(qf, seq["quality_flags"].to_pylist(), strict=True):
        assert names == [m for i, m in enumerate(meanings) if int(value) >> i & 1]
    peak = refl["wavelength"][int(np.nanargmax(got[0]))].as_py()
    assert 540.0 < peak < 600.0 and 0.005 < np.nanmax(got) < 0.06


def test_quality_flag_decoding_uses_file_meanings(synth_dir):
    t = datetime(2024, 5, 3, 11, 0, tzinfo=UTC)
    path = synthetic.write_hypernets_l2a(synth_dir, "GAIT", t, 45.577, 10.579, seed=4)
    with netCDF4.Dataset(path, "a") as ds:
        ds["quality_flag"][0] = (1 << 29) | (1 << 3)
    seq = open_hypernets(path).tables["hypernets_sequences"].to_pylist()[0]
    assert seq["quality_flag"] == (1 << 29) | (1 << 3)
    assert seq["quality_flags"] == ["bad_pointing", "simil_fail"]


def test_all_fill_series_rejected(synth_dir):
    t = datetime(2024, 5, 4, 12, 0, tzinfo=UTC)
    path = synthetic.write_hypernets_l2a(synth_dir, "MAFR", t, 45.5, -1.0, seed=5, n_series=2)
    with netCDF4.Dataset(path, "a") as ds:
        ds["reflectance"][:, 1] = np.ma.masked
        ds["reflectance"][:10, 0] = np.ma.masked
    result = open_hypernets(path)
    assert result.tables["hypernets_sequences"].num_rows == 1
    refl = result.tables["hypernets_reflectance"]
    assert refl["rho_w"].null_count == 10 and refl["rrs"].null_count == 10
    assert len(result.rejected) == 1
    obj, reason = result.rejected[0]
    assert obj.startswith(f"{path}#sequence MAFR_20240504T120000") and "fill" in reason


def test_synthetic_panthyr_round_trip(synth_dir):
    t = datetime(2024, 5, 5, 13, 15, 42, tzinfo=UTC)
    path = synthetic.write_hypernets_l2a(synth_dir, "O1BE", t, 51.2464, 2.9193, seed=6, system="PANTHYR")
    assert can_open(path)
    seq = open_hypernets(path).tables["hypernets_sequences"].to_pylist()[0]
    assert seq["sequence_id"] == "O1BE_20240505T131542" and seq["n_wavelengths"] == 237
    assert seq["quality_flag"] == 0 and seq["time"] == datetime(2024, 5, 5, 13, 15, 42)


@pytest.fixture(scope="module")
def bad_files(tmp_path_factory):
    return synthetic.write_bad_files(tmp_path_factory.mktemp("bad"))


@pytest.mark.parametrize(
    ("case", "error", "message"),
    [
        ("hypernets_land", RefusedFile, "LANDHYPERNET"),
        ("hypernets_truncated", InvalidFile, "cannot be read as NetCDF"),
        ("hypernets_no_reflectance", MissingVariable, "no 'reflectance' variable"),
    ],
)
def test_bad_inputs(bad_files, case, error, message):
    path = bad_files[case]
    with pytest.raises(error, match=message) as info:
        open_hypernets(path)
    assert str(path) in str(info.value)


def test_text_file_with_hypernets_name(tmp_path):
    path = tmp_path / "HYPERNETS_W_VEIT_L2A_REF_20240501T1030_20240501T1530_v2.0.nc"
    path.write_text("not netcdf\n")
    with pytest.raises(InvalidFile, match="not NetCDF"):
        open_hypernets(path)


def test_unparsable_name(tmp_path):
    with pytest.raises(InvalidFile, match="file name"):
        open_hypernets(tmp_path / "whatever.nc")
