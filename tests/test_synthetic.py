"""Tests of the sample-data generators: files open with plain netCDF4 and look like the real ones."""

from __future__ import annotations

import csv
import gzip
from datetime import UTC, datetime
from pathlib import Path

import netCDF4
import numpy as np
import pytest

from tasks import synthetic

REALDATA = Path(__file__).resolve().parents[1].parent / "shared" / "realdata" / "argo"
SHARED = ("PRES", "TEMP", "PSAL", "DOXY", "DOWN_IRRADIANCE490", "DOWNWELLING_PAR", "CHLA", "BBP700")
START = datetime(2024, 3, 1, tzinfo=UTC)


@pytest.fixture(scope="module")
def realdata() -> Path:
    if not (REALDATA / "SR6903247_001.nc").exists():
        pytest.skip(f"real Argo files not found in {REALDATA} (../shared/realdata is absent)")
    return REALDATA


@pytest.fixture(scope="module")
def sample(tmp_path_factory):
    out = tmp_path_factory.mktemp("sample")
    return out, synthetic.write_sample_dataset(
        out, n_floats=2, n_profiles=10, n_sites=2, n_sequences=3, seed=7
    )


@pytest.fixture(scope="module")
def sprof(sample):
    return sample[1]["argo_sprof"][0]


def _signature(var: netCDF4.Variable) -> tuple:
    attrs = {k: var.getncattr(k) for k in var.ncattrs()}
    attrs = {k: (v.item() if isinstance(v, np.generic) else v) for k, v in attrs.items()}
    return var.dimensions, var.dtype, attrs


@pytest.mark.realdata
@pytest.mark.parametrize(("real_name", "kind"), [("SR6903247_001.nc", "bgc-s"), ("R6903247_001.nc", "core")])
def test_argo_file_matches_real_layout(realdata, tmp_path, real_name, kind):
    path = synthetic.write_argo_profile(tmp_path, "6990001", 1, START, 34.2, 26.0, seed=1, kind=kind)
    assert path.name == ("SR6990001_001.nc" if kind == "bgc-s" else "R6990001_001.nc")
    params = SHARED if kind == "bgc-s" else synthetic.CORE_PARAMS
    with netCDF4.Dataset(realdata / real_name) as real, netCDF4.Dataset(path) as ours:
        assert ours.data_model == real.data_model == "NETCDF3_CLASSIC"
        assert set(ours.ncattrs()) >= {"title", "institution", "source", "Conventions", "featureType"}
        assert ours.Conventions == real.Conventions and ours.featureType == real.featureType
        assert set(ours.dimensions) <= set(real.dimensions)
        assert netCDF4.chartostring(ours["DATA_TYPE"][:]) == netCDF4.chartostring(real["DATA_TYPE"][:])
        real_params = set(np.char.strip(netCDF4.chartostring(real["STATION_PARAMETERS"][0])).tolist())
        header = {n for n in real.variables if real[n].dimensions[:1] != ("N_HISTORY",)}
        header = {n for n in header if _param_of(n) not in real_params}
        shared = {n for n in real.variables if _param_of(n) in params}
        assert (header | shared) - set(ours.variables) == set()
        for name in sorted(header | shared):
            if real[name].dtype.kind == "f" or name.startswith("PROFILE_") or name.endswith("_QC"):
                assert _signature(ours[name]) == _signature(real[name]), name
            else:  # char arrays: same dims and type; the texts differ
                assert ours[name].dimensions == real[name].dimensions, name
                assert ours[name].dtype == real[name].dtype, name


def _param_of(name: str) -> str:
    """Parameter a variable belongs to (``CHLA_ADJUSTED_QC`` -> ``CHLA``, ``PROFILE_CHLA_QC`` -> ``CHLA``)."""
    name = name.removeprefix("PROFILE_")
    for suffix in ("_ADJUSTED_ERROR", "_ADJUSTED_QC", "_ADJUSTED", "_dPRES", "_QC"):
        name = name.removesuffix(suffix)
    return name


@pytest.mark.realdata
def test_sprof_matches_real_sprof(realdata, sprof):
    with netCDF4.Dataset(realdata / "3902131_Sprof.nc") as real, netCDF4.Dataset(sprof) as ours:
        assert ours.data_model == real.data_model == "NETCDF4_CLASSIC"
        assert set(real.dimensions) == set(ours.dimensions)
        for name in ("JULD", "LATITUDE", "PRES", "PRES_ADJUSTED_ERROR", "DOXY_dPRES", "TEMP_QC"):
            assert _signature(ours[name])[:2] == _signature(real[name])[:2], name
        assert ours["REFERENCE_DATE_TIME"][:].tobytes() == real["REFERENCE_DATE_TIME"][:].tobytes()


def test_sprof_contents(sprof):
    with netCDF4.Dataset(sprof) as ds:
        assert ds.dimensions["N_PROF"].size == 10 and ds.dimensions["N_PARAM"].size == len(SHARED)
        assert str(netCDF4.chartostring(ds["DATA_TYPE"][:])).strip() == "Argo synthetic profile"
        assert list(np.char.strip(netCDF4.chartostring(ds["STATION_PARAMETERS"][0]))) == list(SHARED)
        assert list(ds["CYCLE_NUMBER"][:]) == list(range(1, 11))
        assert ds["JULD"].units == "days since 1950-01-01 00:00:00 UTC" and ds["JULD"]._FillValue == 999999.0
        t0 = datetime(1950, 1, 1) + (ds["JULD"][0] * 86400.0).astype("timedelta64[s]").item()
        assert t0.date() == START.date()
        modes = "".join(netCDF4.chartostring(ds["PARAMETER_DATA_MODE"][:]))
        assert {"R", "A", "D"} <= set(modes)
        pres = ds["PRES"][:]
        chla, chla_adj = ds["CHLA"][:], ds["CHLA_ADJUSTED"][:]
        ed = ds["DOWN_IRRADIANCE490"][:]
        qc = ds["TEMP_QC"][:].filled(b" ")
        assert ds["CHLA"]._FillValue == np.float32(99999.0) and np.ma.count_masked(chla) > 0
        assert b"1" in qc and (b"3" in qc or b"4" in qc)
        surface = np.ma.median(chla_adj[:, :5], axis=1)
        assert np.all((surface > 0.03) & (surface < 2.5))
        dcm = pres[np.arange(pres.shape[0]), np.ma.argmax(chla_adj, axis=1)]
        assert np.all((dcm > 15) & (dcm < 150))
        night = ed[:, 0] < 1e-3
        assert 1 <= night.sum() <= 4
        day = np.flatnonzero(~night)[0]
        good = ~np.ma.getmaskarray(ed[day]) & (pres[day] < 60)
        kd = -np.polyfit(pres[day][good], np.log(ed[day][good]), 1)[0]
        assert 0.02 < kd < 0.5
        assert np.all(np.ma.getmaskarray(ed)[pres > 250])


def test_generators_are_deterministic(tmp_path):
    a = synthetic.write_argo_sprof(tmp_path / "a.nc", "6990002", 3, START, 10.0, -30.0, seed=5)
    b = synthetic.write_argo_sprof(tmp_path / "b.nc", "6990002", 3, START, 10.0, -30.0, seed=5)
    with netCDF4.Dataset(a) as da, netCDF4.Dataset(b) as db:
        for name in ("CHLA", "JULD", "LATITUDE", "TEMP_QC"):
            np.testing.assert_array_equal(np.ma.filled(da[name][:]), np.ma.filled(db[name][:]))
    # a single-cycle file holds the same profile as the Sprof file
    t = datetime(1950, 1, 1, tzinfo=UTC)
    with netCDF4.Dataset(a) as ds:
        juld, lat, lon = float(ds["JULD"][1]), float(ds["LATITUDE"][1]), float(ds["LONGITUDE"][1])
        chla = np.ma.filled(ds["CHLA"][1], np.nan)
    when = t + (np.timedelta64(int(round(juld * 86400)), "s")).item()
    modes = synthetic._modes(2, 3, "bgc-s")
    single = synthetic.write_argo_profile(tmp_path, "6990002", 2, when, lat, lon, 5, "bgc-s", modes)
    # any parameter in delayed mode makes it a D file
    assert single.name == ("SD" if "D" in modes.values() else "SR") + "6990002_002.nc"
    with netCDF4.Dataset(single) as ds:
        n = ds["CHLA"].shape[1]
        np.testing.assert_array_equal(np.ma.filled(ds["CHLA"][0], np.nan), chla[:n])


@pytest.mark.realdata
@pytest.mark.parametrize(
    ("name", "columns"),
    [("ar_index_global_prof.txt.gz", 8), ("argo_synthetic-profile_index.txt.gz", 10)],
)
def test_index_files_parse_like_real(realdata, sample, name, columns):
    out, files = sample

    def read(path: Path) -> tuple[list[str], list[list[str]]]:
        with gzip.open(path, "rt") as fh:
            lines = fh.read().splitlines()
        comments = [line for line in lines if line.startswith("#")]
        return comments, list(csv.reader(line for line in lines if not line.startswith("#")))

    real_comments, real_rows = read(realdata / name)
    comments, rows = read(out / "argo" / name)
    assert [c.split(":")[0] for c in comments] == [c.split(":")[0] for c in real_comments]
    assert rows[0] == real_rows[0] and len(rows[0]) == columns
    assert len(rows) - 1 == 2 * 10
    for row in rows[1:]:
        assert len(row) == columns
        assert (out / "argo" / "dac" / row[0]).exists()
        datetime.strptime(row[1], "%Y%m%d%H%M%S")
        assert -90 <= float(row[2]) <= 90 and -180 <= float(row[3]) <= 180
        if columns == 10:
            assert len(row[7].split()) == len(row[8])


def test_sample_dataset_layout(sample):
    out, files = sample
    assert [p.relative_to(out).as_posix() for p in files["argo_sprof"]] == [
        "argo/dac/coriolis/6990001/6990001_Sprof.nc",
        "argo/dac/coriolis/6990002/6990002_Sprof.nc",
    ]
    assert len(files["argo_profiles"]) == 2 * 2 * 10
    assert len(files["hypernets"]) == 2 * 3
    for p in files["hypernets"]:
        assert p.parent.parent == out / "hypernets" and p.name.startswith(
            f"HYPERNETS_W_{p.parent.name}_L2A_REF_"
        )
        with netCDF4.Dataset(p) as ds:
            assert ds["reflectance"].dimensions == ("wavelength", "series")
            assert ds["u_rel_random_reflectance"].units == "%"
            assert ds.product_level == "W_L2A" and ds.processor_name == "hypernets_processor"


def test_bad_files(tmp_path):
    cases = synthetic.write_bad_files(tmp_path)
    for case in ("truncated_netcdf", "text_as_nc"):
        with pytest.raises(OSError):
            netCDF4.Dataset(cases[case])
    with netCDF4.Dataset(cases["sprof_missing_latitude"]) as ds:
        assert "LATITUDE" not in ds.variables and "LONGITUDE" in ds.variables
    with netCDF4.Dataset(cases["sprof_all_fill_profile"]) as ds:
        assert np.ma.getmaskarray(ds["CHLA"][1]).all() and not np.ma.getmaskarray(ds["CHLA"][0]).all()
        assert np.ma.getmaskarray(ds["PRES"][1]).all()
    with netCDF4.Dataset(cases["sprof_bad_juld"]) as ds:
        ds.set_auto_mask(False)
        assert ds["JULD"][1] == 999999.0 and ds["JULD"][0] < 999999.0
    with netCDF4.Dataset(cases["sprof_bad_latitude"]) as ds:
        ds.set_auto_mask(False)  # valid_max 90 would mask it
        assert ds["LATITUDE"][1] == 999.0 and abs(ds["LATITUDE"][0]) <= 90
    assert "_L_" in cases["hypernets_land"].name
