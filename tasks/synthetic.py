"""Sample data in the real file formats, small and deterministic, for the demo and the tests.

Argo files follow the Argo user manual layout of the real GDAC files (``3902131_Sprof.nc``,
``SR6903247_001.nc``, ``R6903247_001.nc``): same dimension names, char arrays, variable names and
attributes, ``_FillValue`` 99999., JULD in days since 1950-01-01. HYPERNETS files follow the
``hypernets_processor`` v2 water L2A layout (``wavelength x series``) and the PANTHYR layout.
Every generator takes a seed; the same arguments always give the same values.
"""

from __future__ import annotations

import gzip
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import netCDF4
import numpy as np

ARGO_FILL = 99999.0
JULD_FILL = 999999.0
_EPOCH = datetime(1950, 1, 1, tzinfo=UTC)
_CREATED = "20240601000000"

#: Per-parameter attributes, copied from the real S file SR6903247_001.nc.
_PARAM_ATTRS: dict[str, dict] = {
    "PRES": dict(
        long_name="Sea water pressure, equals 0 at sea-level",
        standard_name="sea_water_pressure",
        units="decibar",
        valid_min=0.0,
        valid_max=12000.0,
        C_format="%7.1f",
        FORTRAN_format="F7.1",
        resolution=0.1,
        axis="Z",
    ),
    "TEMP": dict(
        long_name="Sea temperature in-situ ITS-90 scale",
        standard_name="sea_water_temperature",
        units="degree_Celsius",
        valid_min=-2.5,
        valid_max=40.0,
        C_format="%9.3f",
        FORTRAN_format="F9.3",
        resolution=0.001,
    ),
    "PSAL": dict(
        long_name="Practical salinity",
        standard_name="sea_water_salinity",
        units="psu",
        valid_min=2.0,
        valid_max=41.0,
        C_format="%9.3f",
        FORTRAN_format="F9.3",
        resolution=0.001,
    ),
    "DOXY": dict(
        long_name="Dissolved oxygen",
        standard_name="moles_of_oxygen_per_unit_mass_in_sea_water",
        units="micromole/kg",
        valid_min=-5.0,
        valid_max=600.0,
        C_format="%9.3f",
        FORTRAN_format="F9.3",
        resolution=0.001,
    ),
    "DOWN_IRRADIANCE490": dict(
        long_name="Downwelling irradiance at 490 nanometers",
        units="W/m^2/nm",
        C_format="%.6f",
        FORTRAN_format="F.6",
        resolution=1e-06,
    ),
    "DOWNWELLING_PAR": dict(
        long_name="Downwelling photosynthetic available radiation",
        standard_name="downwelling_photosynthetic_photon_flux_in_sea_water",
        units="microMoleQuanta/m^2/sec",
        C_format="%.3f",
        FORTRAN_format="F.3",
        resolution=0.001,
    ),
    "CHLA": dict(
        long_name="Chlorophyll-A",
        standard_name="mass_concentration_of_chlorophyll_a_in_sea_water",
        units="mg/m3",
        C_format="%.3f",
        FORTRAN_format="F.3",
        resolution=0.025,
    ),
    "BBP700": dict(
        long_name="Particle backscattering at 700 nanometers",
        units="m-1",
        C_format="%.3f",
        FORTRAN_format="F.3",
        resolution=0.001,
    ),
}
CORE_PARAMS = ("PRES", "TEMP", "PSAL")
BGC_PARAMS = ("PRES", "TEMP", "PSAL", "DOXY", "DOWN_IRRADIANCE490", "DOWNWELLING_PAR", "CHLA", "BBP700")
_ERROR_LONG = "Contains the error on the adjusted values as determined by the delayed mode QC process"


@dataclass
class ArgoProfile:
    """One synthetic profile: metadata and, per parameter, raw/adjusted values and QC characters.

    Values are float arrays with NaN for fill; QC arrays are ``S1`` with ``b" "`` for fill.
    """

    wmo: str
    cycle: int
    juld: float
    latitude: float
    longitude: float
    modes: dict[str, str]
    values: dict[str, dict[str, np.ndarray]] = field(default_factory=dict)
    direction: str = "A"
    juld_location: float | None = None


def juld_of(time: datetime) -> float:
    """Days since 1950-01-01 00:00 UTC (Argo JULD) of a datetime (naive means UTC)."""
    time = time if time.tzinfo else time.replace(tzinfo=UTC)
    return (time - _EPOCH).total_seconds() / 86400.0


def _levels(rng: np.random.Generator) -> np.ndarray:
    pres = np.r_[np.arange(1.0, 10.0, 1.0), np.arange(10.0, 250.0, 5.0), np.arange(250.0, 1001.0, 25.0)]
    return np.round(pres + rng.uniform(-0.2, 0.2, pres.size), 1).clip(0.1)


def _qc(rng: np.random.Generator, n: int, good: str = "1", bad_fraction: float = 0.03) -> np.ndarray:
    qc = np.full(n, good.encode(), dtype="S1")
    bad = rng.random(n) < bad_fraction
    qc[bad] = rng.choice([b"3", b"4"], size=int(bad.sum()))
    return qc


def make_profile(
    wmo: str,
    cycle: int,
    time: datetime,
    lat: float,
    lon: float,
    seed: int,
    kind: str = "bgc-s",
    modes: dict[str, str] | None = None,
) -> ArgoProfile:
    """Build one realistic profile (seeded by ``seed``, ``wmo`` and ``cycle``).

    CHLA has a deep chlorophyll maximum below a surface value in 0.05-2 mg m-3; Ed490 decays as
    exp(-Kd490 z) with Kd490 from surface CHLA (Morel et al. 2007) and is ~0 at night (local solar
    time from ``lon``); radiometry stops at 250 dbar; a few levels have bad QC or fill values.
    """
    rng = np.random.default_rng([seed, int(wmo), cycle])
    pres = _levels(rng)
    n = pres.size
    night = not 6 <= (time.hour + lon / 15.0) % 24 <= 18
    params = CORE_PARAMS if kind == "core" else BGC_PARAMS
    modes = dict(modes or {p: "R" for p in params})
    sst, mld = rng.uniform(14, 27), rng.uniform(15, 80)
    temp = 4.0 + (sst - 4.0) * np.where(pres < mld, 1.0, np.exp(-(pres - mld) / 250.0))
    psal = 35.0 + rng.uniform(-0.5, 2.5) * np.exp(-pres / 400.0) + rng.normal(0, 0.005, n)
    chl0 = float(np.exp(rng.uniform(np.log(0.05), np.log(2.0))))
    z_dcm = rng.uniform(30, 110)
    chla = chl0 * np.where(pres < mld, 1.0, np.exp(-(pres - mld) / 60.0))
    chla = chla + rng.uniform(0.2, 1.2) * np.exp(-(((pres - z_dcm) / 15.0) ** 2)) + 0.01
    kd490 = 0.0166 + 0.0773 * chl0**0.6715
    ed0, par0 = (0.0, 0.0) if night else (rng.uniform(0.6, 1.6), rng.uniform(800, 1900))
    raw = {
        "PRES": pres,
        "TEMP": temp + rng.normal(0, 0.01, n),
        "PSAL": psal,
        "DOXY": 240.0 - 70.0 * np.exp(-(((pres - 500.0) / 250.0) ** 2)) + rng.normal(0, 0.5, n),
        "DOWN_IRRADIANCE490": ed0 * np.exp(-kd490 * pres) + np.abs(rng.normal(0, 2e-5, n)),
        "DOWNWELLING_PAR": par0 * np.exp(-0.9 * kd490 * pres) + np.abs(rng.normal(0, 0.01, n)),
        "CHLA": 2.0 * chla + rng.normal(0, 0.005, n),  # raw factory calibration ~2x too high
        "BBP700": 0.0004 + 0.0015 * chla / (1 + chla) + np.abs(rng.normal(0, 5e-5, n)),
    }
    prof = ArgoProfile(wmo, cycle, juld_of(time), lat, lon, modes)
    prof.juld_location = prof.juld + rng.uniform(5, 40) / 1440.0
    for p in params:
        value = raw[p].astype(np.float64)
        if p.startswith("DOWN"):
            value[pres > 250.0] = np.nan
        elif p in ("CHLA", "BBP700", "DOXY"):
            value[rng.random(n) < 0.05] = np.nan  # levels not sampled by that sensor
        qc = _qc(rng, n, good="3" if p == "CHLA" else "1")
        qc[np.isnan(value)] = b" "
        adj, adj_qc, err = np.full(n, np.nan), np.full(n, b" ", dtype="S1"), np.full(n, np.nan)
        if modes.get(p, "R") in "AD":
            adj = value / 2.0 if p == "CHLA" else value + (0.01 if p == "PSAL" else 0.0)
            adj_qc = np.where(qc == b"3", b"1", qc).astype("S1") if p == "CHLA" else qc.copy()
            err = np.where(np.isnan(adj), np.nan, np.abs(adj) * 0.1 + (0.01 if p == "PSAL" else 0.002))
        prof.values[p] = {"raw": value, "qc": qc, "adj": adj, "adj_qc": adj_qc, "err": err}
    return prof


def _chars(ds: netCDF4.Dataset, name: str, dims: tuple, text, attrs: dict) -> None:
    """Write a char variable from a str or nested list of str (space padded, Argo style)."""
    var = ds.createVariable(name, "S1", dims, fill_value=b" ")
    var.setncatts(attrs)
    width = len(ds.dimensions[dims[-1]])
    arr = np.array(text, dtype=f"U{width}")
    padded = np.char.ljust(arr, width)
    var[...] = netCDF4.stringtochar(padded.astype(f"S{width}"))


def _qc_var(ds: netCDF4.Dataset, name: str, dims: tuple, values: np.ndarray, table: str) -> None:
    var = ds.createVariable(name, "S1", dims, fill_value=b" ")
    var.setncatts(
        {
            "long_name": "quality flag" if table == "2" else name,
            "conventions": f"Argo reference table {table}",
        }
    )
    var[...] = values


def _float_var(ds, name, dims, values, attrs, dtype="f4") -> None:
    var = ds.createVariable(name, dtype, dims, fill_value=np.array(ARGO_FILL, dtype))
    # numeric attributes have the variable's type, as in the real files (float32 valid_min, resolution)
    var.setncatts({k: np.dtype(dtype).type(v) if isinstance(v, float) else v for k, v in attrs.items()})
    var[...] = np.where(np.isnan(values), ARGO_FILL, values)


def write_argo_file(
    path: str | Path,
    profiles: list[ArgoProfile],
    kind: str = "bgc-s",
    fmt: str = "NETCDF3_CLASSIC",
    drop: tuple[str, ...] = (),
) -> Path:
    """Write profiles to one Argo profile file (core ``R/D`` or synthetic ``S`` layout).

    Args:
        path: output file path.
        profiles: profiles of the file (N_PROF); levels are padded with fill to the longest.
        kind: ``"core"`` (Argo profile, STRING16 names, DATA_MODE) or ``"bgc-s"`` (Argo
            synthetic profile, STRING64 names, PARAMETER_DATA_MODE, ``<PARAM>_dPRES``).
        fmt: NetCDF format (real single-cycle files are NETCDF3_CLASSIC, Sprof NETCDF4_CLASSIC).
        drop: variable names not to write (to build broken files).

    Returns:
        The path written.

    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    params = CORE_PARAMS if kind == "core" else BGC_PARAMS
    n_prof, n_lev = len(profiles), max(p.values["PRES"]["raw"].size for p in profiles)
    sw = 16 if kind == "core" else 64

    def stack(p: str, key: str) -> np.ndarray:
        fill = b" " if key in ("qc", "adj_qc") else np.nan
        out = np.full((n_prof, n_lev), fill, dtype="S1" if fill == b" " else "f8")
        for i, prof in enumerate(profiles):
            v = prof.values[p][key]
            out[i, : v.size] = v
        return out

    with netCDF4.Dataset(path, "w", format=fmt) as ds:
        ds.setncatts(
            {
                "title": "Argo float vertical profile",
                "institution": "CORIOLIS",
                "source": "Argo float",
                "history": "2024-06-01T00:00:00Z creation (oceanlake synthetic)",
                "references": "http://www.argodatamgt.org/Documentation",
                "user_manual_version": "3.1" if kind == "core" else "1.0",
                "Conventions": "Argo-3.1 CF-1.6",
                "featureType": "trajectoryProfile",
            }
        )
        for name, size in [
            ("DATE_TIME", 14),
            ("STRING256", 256),
            ("STRING64", 64),
            ("STRING32", 32),
            ("STRING16", 16),
            ("STRING8", 8),
            ("STRING4", 4),
            ("STRING2", 2),
            ("N_PROF", n_prof),
            ("N_PARAM", len(params)),
            ("N_LEVELS", n_lev),
            ("N_CALIB", 1),
        ]:
            if name != "STRING16" or kind == "core":
                ds.createDimension(name, size)
        if kind == "core":
            ds.createDimension("N_HISTORY", None)
        _write_header(ds, profiles, kind, params, sw, drop)
        for p in params:
            _write_param(ds, p, kind, {k: stack(p, k) for k in ("raw", "qc", "adj", "adj_qc", "err")})
        if kind == "core":
            for name in (
                "HISTORY_INSTITUTION",
                "HISTORY_STEP",
                "HISTORY_SOFTWARE",
                "HISTORY_SOFTWARE_RELEASE",
            ):
                ds.createVariable(name, "S1", ("N_HISTORY", "N_PROF", "STRING4"), fill_value=b" ")
        _write_calib(ds, profiles, params, sw)
    return path


def _write_header(ds, profiles, kind, params, sw, drop) -> None:
    n = len(profiles)
    bgc = kind != "core"
    _chars(
        ds,
        "DATA_TYPE",
        ("STRING32",) if bgc else ("STRING16",),
        "Argo synthetic profile" if bgc else "Argo profile",
        {"long_name": "Data type", "conventions": "Argo reference table 1"},
    )
    _chars(ds, "FORMAT_VERSION", ("STRING4",), "1.0" if bgc else "3.1", {"long_name": "File format version"})
    _chars(ds, "HANDBOOK_VERSION", ("STRING4",), "1.2", {"long_name": "Data handbook version"})
    for name, text, long in [
        ("REFERENCE_DATE_TIME", "19500101000000", "Date of reference for Julian days"),
        ("DATE_CREATION", _CREATED, "Date of file creation"),
        ("DATE_UPDATE", _CREATED, "Date of update of this file"),
    ]:
        _chars(ds, name, ("DATE_TIME",), text, {"long_name": long, "conventions": "YYYYMMDDHHMISS"})
    _chars(
        ds,
        "PLATFORM_NUMBER",
        ("N_PROF", "STRING8"),
        [p.wmo for p in profiles],
        {"long_name": "Float unique identifier", "conventions": "WMO float identifier : A9IIIII"},
    )
    _chars(
        ds,
        "PROJECT_NAME",
        ("N_PROF", "STRING64"),
        ["oceanlake synthetic"] * n,
        {"long_name": "Name of the project"},
    )
    _chars(
        ds,
        "PI_NAME",
        ("N_PROF", "STRING64"),
        ["Nobody"] * n,
        {"long_name": "Name of the principal investigator"},
    )
    _chars(
        ds,
        "STATION_PARAMETERS",
        ("N_PROF", "N_PARAM", f"STRING{sw}"),
        [list(params)] * n,
        {
            "long_name": "List of available parameters for the station",
            "conventions": "Argo reference table 3",
        },
    )
    cyc = ds.createVariable("CYCLE_NUMBER", "i4", ("N_PROF",), fill_value=np.int32(99999))
    cyc.setncatts(
        {
            "long_name": "Float cycle number",
            "conventions": "0...N, 0 : launch cycle (if exists), 1 : first complete cycle",
        }
    )
    cyc[:] = [p.cycle for p in profiles]
    _qc_var(ds, "DIRECTION", ("N_PROF",), np.array([p.direction for p in profiles], "S1"), "")
    ds["DIRECTION"].setncatts(
        {
            "long_name": "Direction of the station profiles",
            "conventions": "A: ascending profiles, D: descending profiles",
        }
    )
    _chars(
        ds,
        "DATA_CENTRE",
        ("N_PROF", "STRING2"),
        ["IF"] * n,
        {
            "long_name": "Data centre in charge of float data processing",
            "conventions": "Argo reference table 4",
        },
    )
    mode_conv = "R : real time; D : delayed mode; A : real time with adjustment"
    if bgc:
        _chars(
            ds,
            "PARAMETER_DATA_MODE",
            ("N_PROF", "N_PARAM"),
            ["".join(p.modes.get(k, "R") for k in params) for p in profiles],
            {"long_name": "Delayed mode or real time data", "conventions": mode_conv},
        )
    else:
        _chars(
            ds,
            "DC_REFERENCE",
            ("N_PROF", "STRING32"),
            [f"{p.wmo}{p.cycle:04d}" for p in profiles],
            {
                "long_name": "Station unique identifier in data centre",
                "conventions": "Data centre convention",
            },
        )
        _chars(
            ds,
            "DATA_STATE_INDICATOR",
            ("N_PROF", "STRING4"),
            ["2B"] * n,
            {
                "long_name": "Degree of processing the data have passed through",
                "conventions": "Argo reference table 6",
            },
        )
        _qc_var(
            ds, "DATA_MODE", ("N_PROF",), np.array([p.modes.get("TEMP", "R") for p in profiles], "S1"), ""
        )
        ds["DATA_MODE"].setncatts({"long_name": "Delayed mode or real time data", "conventions": mode_conv})
    _chars(
        ds,
        "PLATFORM_TYPE",
        ("N_PROF", "STRING32"),
        ["PROVOR_III"] * n,
        {"long_name": "Type of float", "conventions": "Argo reference table 23"},
    )
    _chars(
        ds,
        "FLOAT_SERIAL_NO",
        ("N_PROF", "STRING32"),
        [f"SYN-{p.wmo}" for p in profiles],
        {"long_name": "Serial number of the float"},
    )
    _chars(
        ds,
        "FIRMWARE_VERSION",
        ("N_PROF", "STRING32"),
        ["3"] * n,
        {"long_name": "Instrument firmware version"},
    )
    _chars(
        ds,
        "WMO_INST_TYPE",
        ("N_PROF", "STRING4"),
        ["836"] * n,
        {"long_name": "Coded instrument type", "conventions": "Argo reference table 8"},
    )
    _write_time_position(ds, profiles, drop, bgc)
    for p in params:
        _qc_var(ds, f"PROFILE_{p}_QC", ("N_PROF",), np.array(["A"] * n, "S1"), "2a")
        ds[f"PROFILE_{p}_QC"].long_name = f"Global quality flag of {p} profile"
    if not bgc:
        _chars(
            ds,
            "VERTICAL_SAMPLING_SCHEME",
            ("N_PROF", "STRING256"),
            ["Primary sampling: averaged [synthetic]"] * n,
            {"long_name": "Vertical sampling scheme", "conventions": "Argo reference table 16"},
        )
    cfg = ds.createVariable("CONFIG_MISSION_NUMBER", "i4", ("N_PROF",), fill_value=np.int32(99999))
    cfg.setncatts(
        {
            "long_name": "Unique number denoting the missions performed by the float",
            "conventions": "1...N, 1 : first complete mission",
        }
    )
    cfg[:] = 1


def _write_time_position(ds, profiles, drop, bgc: bool) -> None:
    days = "days since 1950-01-01 00:00:00 UTC"
    rel = "Relative julian days with decimal part (as parts of day)"
    juld = ds.createVariable("JULD", "f8", ("N_PROF",), fill_value=JULD_FILL)
    juld.setncatts(
        {
            "long_name": "Julian day (UTC) of the station relative to REFERENCE_DATE_TIME",
            "standard_name": "time",
            "units": days,
            "conventions": rel,
            "axis": "T",
            "resolution": 1.0 / 1440.0,
        }
    )
    if not bgc:
        juld.comment_on_resolution = (
            "JULD resolution is 1 minute, except when JULD = JULD_LOCATION or when JULD = "
            "JULD_FIRST_MESSAGE (TRAJ file variable); in that case, JULD resolution is 1 second"
        )
    juld[:] = [p.juld for p in profiles]
    _qc_var(ds, "JULD_QC", ("N_PROF",), np.array(["1"] * len(profiles), "S1"), "2")
    ds["JULD_QC"].long_name = "Quality on date and time"
    loc = ds.createVariable("JULD_LOCATION", "f8", ("N_PROF",), fill_value=JULD_FILL)
    loc.setncatts(
        {
            "long_name": "Julian day (UTC) of the location relative to REFERENCE_DATE_TIME",
            "units": days,
            "conventions": rel,
            "resolution": 1.0 / 86400.0,
        }
    )
    loc[:] = [p.juld_location if p.juld_location is not None else p.juld for p in profiles]
    for name, axis, std, units, lim in [
        ("LATITUDE", "Y", "latitude", "degree_north", 90.0),
        ("LONGITUDE", "X", "longitude", "degree_east", 180.0),
    ]:
        if name in drop:
            continue
        var = ds.createVariable(name, "f8", ("N_PROF",), fill_value=ARGO_FILL)
        var.setncatts(
            {
                "long_name": f"{name.title()} of the station, best estimate",
                "standard_name": std,
                "units": units,
                "valid_min": -lim,
                "valid_max": lim,
                "axis": axis,
            }
        )
        var[:] = [p.latitude if name == "LATITUDE" else p.longitude for p in profiles]
    _qc_var(ds, "POSITION_QC", ("N_PROF",), np.array(["1"] * len(profiles), "S1"), "2")
    ds["POSITION_QC"].long_name = "Quality on position (latitude and longitude)"
    _chars(
        ds,
        "POSITIONING_SYSTEM",
        ("N_PROF", "STRING8"),
        ["GPS"] * len(profiles),
        {"long_name": "Positioning system"},
    )


def _write_param(ds, p: str, kind: str, v: dict[str, np.ndarray]) -> None:
    dims = ("N_PROF", "N_LEVELS")
    attrs = _PARAM_ATTRS[p]
    _float_var(ds, p, dims, v["raw"], attrs)
    _qc_var(ds, f"{p}_QC", dims, v["qc"], "2")
    if kind != "core" and p != "PRES":
        dpres = np.where(np.isnan(v["raw"]), np.nan, 0.0)
        _float_var(
            ds,
            f"{p}_dPRES",
            dims,
            dpres,
            {"long_name": f"{p} pressure displacement from original sampled value", "units": "decibar"},
        )
    _float_var(ds, f"{p}_ADJUSTED", dims, v["adj"], attrs)
    _qc_var(ds, f"{p}_ADJUSTED_QC", dims, v["adj_qc"], "2")
    err_attrs = {
        "long_name": _ERROR_LONG,
        "units": attrs["units"],
        **{k: attrs[k] for k in ("C_format", "FORTRAN_format", "resolution")},
    }
    _float_var(ds, f"{p}_ADJUSTED_ERROR", dims, v["err"], err_attrs)


def _write_calib(ds, profiles, params, sw) -> None:
    dims = ("N_PROF", "N_CALIB", "N_PARAM")
    n = len(profiles)
    _chars(
        ds,
        "PARAMETER",
        (*dims, f"STRING{sw}"),
        [[list(params)]] * n,
        {
            "long_name": "List of parameters with calibration information",
            "conventions": "Argo reference table 3",
        },
    )
    for name, long in [
        ("SCIENTIFIC_CALIB_EQUATION", "Calibration equation for this parameter"),
        ("SCIENTIFIC_CALIB_COEFFICIENT", "Calibration coefficients for this equation"),
        ("SCIENTIFIC_CALIB_COMMENT", "Comment applying to this parameter calibration"),
    ]:
        text = [
            [["CHLA_ADJUSTED=CHLA/2" if name.endswith("EQUATION") and p == "CHLA" else "" for p in params]]
        ] * n
        _chars(ds, name, (*dims, "STRING256"), text, {"long_name": long})
    _chars(
        ds,
        "SCIENTIFIC_CALIB_DATE",
        (*dims, "DATE_TIME"),
        [[[""] * len(params)]] * n,
        {"long_name": "Date of calibration", "conventions": "YYYYMMDDHHMISS"},
    )


# --- public Argo generators ------------------------------------------------------------------------


def _track(wmo: str, n: int, start: datetime, lat0: float, lon0: float, seed: int) -> list[tuple]:
    """(cycle, time, lat, lon) of a float drifting from (lat0, lon0), one cycle every 10 days.

    Every fifth cycle surfaces around local midnight (night profile), the others near local noon.
    """
    rng = np.random.default_rng([seed, int(wmo)])
    steps = rng.normal(0, 0.08, (n, 2)).cumsum(axis=0)
    out = []
    for i in range(n):
        day = (start + timedelta(days=10 * i)).replace(hour=0, minute=0, second=0, microsecond=0)
        local = 0.5 if i % 5 == 4 else 12.0 + rng.uniform(-1.5, 1.5)
        utc = day + timedelta(hours=(local - lon0 / 15.0) % 24, minutes=int(rng.integers(0, 60)))
        out.append(
            (
                i + 1,
                utc,
                float(np.clip(lat0 + steps[i, 0], -89, 89)),
                float(((lon0 + steps[i, 1] + 180) % 360) - 180),
            )
        )
    return out


def _modes(cycle: int, n: int, kind: str) -> dict[str, str]:
    """Return a mix of data modes: older cycles delayed mode, CHLA/DOXY adjusted, radiometry real time."""
    core = "D" if cycle <= n // 2 else "R"
    if kind == "core":
        return {p: core for p in CORE_PARAMS}
    return {
        "PRES": core,
        "TEMP": core,
        "PSAL": core,
        "DOXY": "A",
        "CHLA": "A" if cycle % 3 else "D",
        "BBP700": "R",
        "DOWN_IRRADIANCE490": "R",
        "DOWNWELLING_PAR": "R",
    }


def write_argo_sprof(
    path: str | Path, wmo: str, n_profiles: int, start: datetime, lat0: float, lon0: float, seed: int = 0
) -> Path:
    """Write a multi-profile ``<wmo>_Sprof.nc`` (Argo synthetic profile, NETCDF4_CLASSIC).

    Args:
        path: output file, or an existing directory (the file is then ``<wmo>_Sprof.nc`` in it).
        wmo: float WMO number (7 digits as text).
        n_profiles: number of cycles (1..n), one every 10 days from ``start`` (UTC).
        start: date of cycle 1.
        lat0: start latitude in degree_north.
        lon0: start longitude in degree_east.
        seed: random seed.

    """
    path = Path(path)
    if path.is_dir():
        path = path / f"{wmo}_Sprof.nc"
    profiles = [
        make_profile(wmo, c, t, la, lo, seed, "bgc-s", _modes(c, n_profiles, "bgc-s"))
        for c, t, la, lo in _track(wmo, n_profiles, start, lat0, lon0, seed)
    ]
    return write_argo_file(path, profiles, "bgc-s", fmt="NETCDF4_CLASSIC")


def profile_file_name(wmo: str, cycle: int, kind: str = "core", data_mode: str = "R") -> str:
    """GDAC single-cycle file name: ``R<wmo>_<ccc>.nc`` / ``D...`` (core), ``SR...`` / ``SD...`` (S)."""
    prefix = ("S" if kind == "bgc-s" else "") + ("D" if data_mode == "D" else "R")
    return f"{prefix}{wmo}_{cycle:03d}.nc"


def write_argo_profile(
    path: str | Path,
    wmo: str,
    cycle: int,
    time: datetime,
    lat: float,
    lon: float,
    seed: int = 0,
    kind: str = "core",
    modes: dict[str, str] | None = None,
) -> Path:
    """Write a single-cycle Argo file (core ``R/D`` or ``SR/SD``), NETCDF3_CLASSIC like the GDAC.

    Args:
        path: output file, or an existing directory (the GDAC file name is then used).
        wmo: float WMO number.
        cycle: cycle number.
        time: profile time (UTC).
        lat: latitude in degree_north.
        lon: longitude in degree_east.
        seed: random seed (same seed, wmo and cycle give the same values as in the Sprof file).
        kind: ``"core"`` or ``"bgc-s"``.
        modes: data mode per parameter (default all ``R``); core files use the TEMP mode.

    """
    params = CORE_PARAMS if kind == "core" else BGC_PARAMS
    modes = modes or {p: "R" for p in params}
    path = Path(path)
    if path.is_dir():
        worst = "D" if any(modes.get(p, "R") == "D" for p in params) else "R"
        path = path / profile_file_name(wmo, cycle, kind, modes.get("TEMP", "R") if kind == "core" else worst)
    prof = make_profile(wmo, cycle, time, lat, lon, seed, kind, modes)
    return write_argo_file(path, [prof], kind)


# --- HYPERNETS / PANTHYR water L2A ---------------------------------------------------------------------

#: hypernets_processor v2 quality bits, water network (docs table_flags_common.csv + table_flags_water.csv).
HYPERNETS_WATER_FLAGS = (
    "lon_default lat_default pt_ref_invalid bad_pointing outliers L0_threshold L0_discontinuity dark_masked "
    "half_of_scans_masked not_enough_dark_scans not_enough_rad_scans not_enough_irr_scans series_missing "
    "vza_irradiance no_clear_sky_irradiance variable_irradiance half_of_uncertainties_too_big "
    "single_irradiance_used no_clear_sky_sequence single_skyradiance_used lu_eq_missing rhof_angle_missing "
    "rhof_default temp_variability_irr temp_variability_rad min_nbred min_nbrlu min_nbrlsky def_wind_flag "
    "simil_fail"
).split()
_F4_FILL = np.float32(9.96921e36)


def solar_angles(time: datetime, lat: float, lon: float) -> tuple[float, float]:
    """Approximate solar zenith and azimuth (degrees, azimuth clockwise from north) at a UTC time."""
    time = time if time.tzinfo else time.replace(tzinfo=UTC)
    doy = time.timetuple().tm_yday
    decl = np.radians(23.44 * np.sin(2 * np.pi * (284 + doy) / 365.0))
    hour_angle = np.radians(15.0 * (time.hour + time.minute / 60.0 + lon / 15.0 - 12.0))
    phi = np.radians(lat)
    cos_z = np.sin(phi) * np.sin(decl) + np.cos(phi) * np.cos(decl) * np.cos(hour_angle)
    zenith = float(np.degrees(np.arccos(np.clip(cos_z, -1, 1))))
    az = np.degrees(
        np.arctan2(np.sin(hour_angle), np.cos(hour_angle) * np.sin(phi) - np.tan(decl) * np.cos(phi))
    )
    return zenith, float((az + 180.0) % 360.0)


def water_reflectance(wavelength: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Return a coastal-water rho_w spectrum (dimensionless): peak 0.01-0.04 near 560-570 nm."""
    peak, centre = rng.uniform(0.012, 0.04), rng.uniform(558, 572)
    wl = wavelength
    green = np.exp(-(((wl - centre) / 85.0) ** 2))
    red = 0.25 * np.exp(-(((wl - 690.0) / 25.0) ** 2)) + 0.08 * np.exp(-(((wl - 810.0) / 20.0) ** 2))
    blue = 0.45 + 0.1 * np.exp(-(((wl - 360.0) / 40.0) ** 2))
    shape = np.where(wl < centre, np.maximum(green, blue * (wl < 450) + green * (wl >= 450)), green)
    nir = np.exp(-np.clip(wl - 720.0, 0, None) / 60.0)
    rho = peak * (shape * np.where(wl > 700, nir, 1.0) + red * 0.6)
    return rho * (1 + rng.normal(0, 0.004, wl.size))


def _hyp_var(ds, name, dtype, dims, values, attrs, drop, fill=None, scale=None):
    if name in drop:
        return
    var = ds.createVariable(name, dtype, dims, fill_value=fill, zlib=True, complevel=4)
    var.setncatts(attrs)
    if scale is not None:
        var.setncatts({"add_offset": 0.0, "scale_factor": scale})
    var[...] = values


def write_hypernets_l2a(
    path_dir: str | Path,
    site: str,
    time: datetime,
    lat: float,
    lon: float,
    seed: int = 0,
    system: str = "HYPERNETS",
    network: str = "W",
    n_series: int = 1,
    drop: tuple[str, ...] = (),
) -> Path:
    """Write one water L2A reflectance file in the real layout of its system.

    ``system="HYPERNETS"``: hypernets_processor v2 layout (``wavelength x series``, 350-1000 nm at
    ~0.47 nm, float32 rho_w, relative random/systematic uncertainties in %, scaled uint16 angles,
    uint32 ``acquisition_time`` in s since 1970, uint32 ``quality_flag`` with CF masks), file name
    ``HYPERNETS_<network>_<SITE>_L2A_REF_<yyyymmddThhmm>_<proc yyyymmddThhmm>_v2.0.nc``.
    ``system="PANTHYR"``: PANTHYR layout (``wavelength x sequence x time``, 237 bands 355-945 nm,
    float64, ``reflectance_std``, uint8 ``quality_flag`` with ``_FillValue`` 0), file name
    ``PANTHYR_W_<SITE>_L2A_REF_<yyyymmddThhmmss>_<AZ>_<proc>_v20230717_QA.nc``.

    Args:
        path_dir: output folder.
        site: 4-character site code.
        time: acquisition start time (UTC).
        lat: site latitude in degree_north.
        lon: site longitude in degree_east.
        seed: random seed.
        system: ``"HYPERNETS"`` or ``"PANTHYR"``.
        network: ``"W"`` (water) or ``"L"`` (land; for refusal tests).
        n_series: spectra in the file (HYPERNETS layout; one viewing azimuth each).
        drop: variable names not to write (to build broken files).

    Returns:
        The path written.

    """
    time = time if time.tzinfo else time.replace(tzinfo=UTC)
    rng = np.random.default_rng([seed, sum(map(ord, site)), int(time.timestamp())])
    out = Path(path_dir)
    out.mkdir(parents=True, exist_ok=True)
    sza, saa = solar_angles(time, lat, lon)
    if system == "PANTHYR":
        return _write_panthyr(out, site, time, lat, lon, rng, sza, drop)
    proc = time + timedelta(hours=5)
    path = out / f"HYPERNETS_{network}_{site}_L2A_REF_{time:%Y%m%dT%H%M}_{proc:%Y%m%dT%H%M}_v2.0.nc"
    wl = np.linspace(350.2, 999.8, 1400)
    rho = np.stack([water_reflectance(wl, rng) for _ in range(n_series)], axis=1).astype(np.float32)
    u_rand = (1.0 + 2.0 * np.exp(-((wl - 350) / 40.0)) + 3.0 * np.clip((wl - 850) / 150, 0, 1))[:, None]
    u_rand = np.broadcast_to(u_rand, rho.shape) * rng.uniform(0.8, 1.2, (1, n_series))
    u_sys = np.full(rho.shape, rng.uniform(4.0, 7.0), np.float32)
    bits = rng.random(n_series) < 0.3
    flags = np.where(bits, 1 << rng.choice([19, 22, 28, 29], n_series), 0).astype(np.uint32)
    vaa = (saa + 90.0 + 45.0 * np.arange(n_series)) % 360.0
    ed = 1400.0 * np.exp(-(((wl - 480.0) / 350.0) ** 2))[:, None]
    nosc = rho + np.float32(rng.uniform(0.0005, 0.002))
    water = "W" if network == "W" else "L"
    with netCDF4.Dataset(path, "w", format="NETCDF4") as ds:
        ds.setncatts(_hypernets_attrs(path, site, time, lat, lon, seed, water))
        ds.createDimension("wavelength", wl.size)
        ds.createDimension("series", n_series)
        series, spec = ("series",), ("wavelength", "series")
        _hyp_var(
            ds,
            "bandwidth",
            "f4",
            ("wavelength",),
            np.full(wl.size, 3.0),
            {
                "standard_name": "bandwidth",
                "long_name": "bandwidth FWHM assuming a Gaussian SRF",
                "units": "nm",
                "preferred_symbol": "FWHM",
            },
            drop,
            _F4_FILL,
            0.1,
        )
        for name, value, scale, symbol in [
            ("viewing_azimuth_angle", vaa, 0.0055, "vaa"),
            ("pointing_azimuth_angle", (vaa + 180) % 360, 0.0055, "vaa"),
            ("viewing_zenith_angle", np.full(n_series, 40.0), 0.0028, "vza"),
            ("solar_azimuth_angle", np.full(n_series, saa), 0.0055, "saa"),
            ("solar_zenith_angle", np.full(n_series, sza), 0.0028, "sza"),
        ]:
            _hyp_var(
                ds,
                name,
                "u2",
                series,
                value,
                {
                    "standard_name": name,
                    "long_name": name.replace("_", " "),
                    "units": "degrees",
                    "preferred_symbol": symbol,
                },
                drop,
                np.uint16(65535),
                scale,
            )
        _hyp_var(
            ds,
            "acquisition_time",
            "u4",
            series,
            int(time.timestamp()) + 40 * np.arange(n_series),
            {
                "standard_name": "time",
                "long_name": "Acquisition time in seconds since 1970-01-01 00:00:00",
                "units": "s",
            },
            drop,
        )
        _hyp_var(
            ds,
            "series_id",
            "u2",
            series,
            7 + 2 * np.arange(n_series),
            {"standard_name": "series_id", "long_name": "Series id number", "units": "-"},
            drop,
        )
        _hyp_var(
            ds,
            "quality_flag",
            "u4",
            series,
            flags,
            {
                "standard_name": "quality_flag",
                "long_name": "The quality flag field consists of 32 bits.",
                "flag_meanings": " ".join(HYPERNETS_WATER_FLAGS),
                "flag_masks": ", ".join(str(1 << i) for i in range(len(HYPERNETS_WATER_FLAGS))),
            },
            drop,
        )
        unc = {"units": "%", "pdf_shape": "gaussian"}
        _hyp_var(
            ds,
            "u_rel_random_reflectance",
            "f4",
            spec,
            u_rand,
            {
                "standard_name": "u_rel_random_water_leaving_reflectance",
                "long_name": "Random water leaving reflectance relative uncertainty",
                **unc,
            },
            drop,
            _F4_FILL,
            0.01,
        )
        _hyp_var(
            ds,
            "u_rel_systematic_reflectance",
            "f4",
            spec,
            u_sys,
            {
                "standard_name": "u_rel_systematic_water_leaving_reflectance",
                "long_name": "Systematic water leaving reflectance relative uncertainty",
                **unc,
            },
            drop,
            _F4_FILL,
            0.01,
        )
        _hyp_var(
            ds,
            "reflectance",
            "f4",
            spec,
            rho,
            {
                "standard_name": "water_leaving_reflectance",
                "units": "-",
                "preferred_symbol": "rhow",
                "long_name": "Reflectance of the water column at the surface with correction for the NIR "
                "similarity spectrum (see Ruddick et al. 2006)",
                "unc_comps": "['u_rel_random_reflectance', 'u_rel_systematic_reflectance']",
            },
            drop,
            _F4_FILL,
        )
        _hyp_var(
            ds,
            "std_reflectance",
            "f4",
            spec,
            np.abs(rho) * 0.02,
            {
                "standard_name": "std_reflectance",
                "units": "-",
                "long_name": "standard deviation on reflectance due to the variability in radiance",
            },
            drop,
            _F4_FILL,
        )
        _hyp_var(
            ds,
            "reflectance_nosc",
            "f4",
            spec,
            nosc,
            {
                "standard_name": "water_leaving_reflectance_nosc",
                "units": "-",
                "preferred_symbol": "rhow_nosc",
                "long_name": "Reflectance of the water column at the surface without correction for the NIR "
                "similarity spectrum (see Ruddick et al., 2006)",
            },
            drop,
            _F4_FILL,
        )
        _hyp_var(
            ds,
            "water_leaving_radiance",
            "f4",
            spec,
            nosc * ed / np.pi,
            {
                "standard_name": "water_leaving_radiance",
                "units": "mW m^-2 nm^-1 sr^-1",
                "preferred_symbol": "lw",
                "long_name": "water-leaving radiance",
            },
            drop,
            _F4_FILL,
        )
        _hyp_var(
            ds,
            "irradiance",
            "f4",
            spec,
            np.broadcast_to(ed, rho.shape),
            {"standard_name": "irradiance", "long_name": "downwelling irradiance", "units": "mW m^-2 nm^-1"},
            drop,
            _F4_FILL,
        )
        for name, value, units in [
            ("epsilon", rng.normal(0, 5e-4, n_series), "-"),
            ("rhof", np.full(n_series, 0.0256), "-"),
            ("rhof_wind", rng.uniform(1, 8, n_series), "ms^-1"),
        ]:
            _hyp_var(ds, name, "f4", series, value, {"standard_name": name, "units": units}, drop, _F4_FILL)
        for name in ("n_valid_scans", "n_total_scans"):
            _hyp_var(
                ds, name, "u1", series, np.full(n_series, 6), {"standard_name": name, "units": "-"}, drop
            )
        _hyp_var(ds, "wavelength", "f8", ("wavelength",), wl, {}, drop, np.nan)
    return path


def _hypernets_attrs(path: Path, site, time, lat, lon, seed, network) -> dict:
    return {
        "type": "dataset",
        "conventions": "CFv72, NVS2.0",
        "format_version": "v2.0",
        "netcdf_version": "1.6",
        "processor_name": "hypernets_processor",
        "processor_version": "2.0.0",
        "processor_atbd": "https://hypernets-processor.readthedocs.io/en/latest/",
        "product_name": path.stem,
        "product_level": f"{network}_L2A",
        "source": "surface observation",
        "title": f"HYPSTAR {'Water' if network == 'W' else 'Land'} network dataset of spectral "
        "surface reflectance",
        "licence": "Attribution-NonCommercial-NoDerivs CC BY-NC-ND",
        "comment": "oceanlake synthetic file, not a measurement",
        "sequence_id": f"SEQ{time:%Y%m%dT%H%M%S}",
        "system_id": f"HYPSTAR_{222300 + seed % 100}",
        "site_id": site,
        "site_latitude": float(lat),
        "site_longitude": float(lon),
        "topic_category": "oceans, environment, inland waters, geoscientific information",
        "locator": "https://github.com/HYPERNETS/hypernets_processor/",
    }


def _write_panthyr(out: Path, site, time, lat, lon, rng, sza, drop) -> Path:
    proc = time + timedelta(days=30)
    path = out / f"PANTHYR_W_{site}_L2A_REF_{time:%Y%m%dT%H%M%S}_270_{proc:%Y%m%dT%H%M%S}_v20230717_QA.nc"
    wl = np.arange(355.0, 945.1, 2.5)
    rho = water_reflectance(wl, rng)[:, None, None]
    fill = 9.969209968386869e36
    spec = ("wavelength", "sequence", "time")
    with netCDF4.Dataset(path, "w", format="NETCDF4") as ds:
        ds.setncatts(
            {
                "timestamp": f"{time:%Y-%m-%dT%H:%M:%S}",
                "processor_version": "v20230717",
                "azimuth": 270,
                "solar_zenith_angle": round(sza, 2),
                "rhow_units": "-",
                "latitude_average": float(lat),
                "longitude_average": float(lon),
                "platform_description": "oceanlake synthetic PANTHYR",
            }
        )
        for name, size in (("wavelength", wl.size), ("sequence", 1), ("time", 1)):
            ds.createDimension(name, size)
        _hyp_var(ds, "wavelength", "f8", ("wavelength",), wl, {}, drop, np.nan)
        _hyp_var(ds, "acquisition_time", "f8", (), time.timestamp(), {}, drop, np.nan)
        _hyp_var(ds, "bandwidth", "u2", ("wavelength",), np.zeros(wl.size), {}, drop, np.uint16(0), 1.0)
        for name, value in [
            ("viewing_azimuth_angle", 270.0),
            ("viewing_zenith_angle", 40.0),
            ("solar_azimuth_angle", 0.0),
            ("solar_zenith_angle", round(sza, 1)),
        ]:
            _hyp_var(
                ds,
                name,
                "u2",
                ("sequence",),
                [value],
                {"standard_name": name, "units": "degrees"},
                drop,
                np.uint16(0),
                0.1,
            )
        _hyp_var(
            ds,
            "quality_flag",
            "u1",
            ("sequence",),
            [0],
            {
                "standard_name": "quality_flag",
                "flag_meanings": " ".join(f"flag{i}" for i in range(1, 9)),
                "flag_masks": "1, 2, 4, 8, 16, 32, 64, 128",
            },
            drop,
            np.uint8(0),
        )
        for name, value in [
            ("reflectance", rho),
            ("reflectance_std", rho * 0.02),
            ("reflectance_nosc", rho + 1e-3),
        ]:
            _hyp_var(
                ds,
                name,
                "f8",
                spec,
                value,
                {"standard_name": "water_leaving_reflectance", "units": "-"},
                drop,
                fill,
            )
        seq = ds.createVariable("sequence", str, ("sequence",))
        seq[0] = f"SYN_{time:%Y%m%d_%H%M%S}_AZI_270.0"
        tvar = ds.createVariable("time", str, ("time",))
        tvar[0] = f"{time:%Y-%m-%dT%H:%M:%S}"
    return path


# --- sample set, bad files ----------------------------------------------------------------------------

_FLOATS = [(34.2, 26.0), (43.5, 7.5), (-20.0, 60.0), (10.0, -30.0)]
_SITES = [
    ("VEIT", 45.3142, 12.5083),
    ("O1BE", 51.2464, 2.9193),
    ("GAIT", 45.577, 10.5794),
    ("MAFR", 45.5477, -1.0405),
]


def _index_header(title: str, description: str, version: str) -> list[str]:
    return [
        f"# Title : {title}",
        f"# Description : {description}",
        "# Project : ARGO",
        f"# Format version : {version}",
        f"# Date of update : {_CREATED}",
        "# FTP root number 1 : ftp://ftp.ifremer.fr/ifremer/argo/dac",
        "# FTP root number 2 : ftp://usgodae.org/pub/outgoing/argo/dac",
        "# GDAC node : CORIOLIS",
    ]


def _ocean(lat: float, lon: float) -> str:
    if 20.0 <= lon <= 146.0 and lat < 30.0:
        return "I"
    return "A" if -70.0 <= lon < 20.0 or (20.0 <= lon <= 42.0 and lat >= 30.0) else "P"


def _write_gz(path: Path, lines: list[str]) -> Path:
    with open(path, "wb") as raw, gzip.GzipFile(fileobj=raw, mode="wb", mtime=0, filename="") as gz:
        gz.write(("\n".join(lines) + "\n").encode("ascii"))
    return path


def write_sample_dataset(
    out_dir: str | Path,
    n_floats: int = 3,
    n_profiles: int = 20,
    n_sites: int = 2,
    n_sequences: int = 10,
    seed: int = 0,
    with_index: bool = True,
) -> dict[str, list[Path]]:
    """Write the demo data set: a GDAC-like Argo tree and HYPERNETS water L2A files.

    Layout: ``argo/dac/coriolis/<wmo>/<wmo>_Sprof.nc``; with ``with_index`` also the single-cycle
    files ``argo/dac/coriolis/<wmo>/profiles/{R,SR}<wmo>_<ccc>.nc`` and the GDAC index files
    ``argo/ar_index_global_prof.txt.gz`` and ``argo/argo_synthetic-profile_index.txt.gz`` listing
    them (so ``argo/`` can be served as a GDAC mirror); ``hypernets/<SITE>/<file>.nc``.

    Returns:
        ``{"argo_sprof": [...], "argo_profiles": [...], "argo_index": [...], "hypernets": [...]}``.

    """
    out = Path(out_dir)
    files: dict[str, list[Path]] = {"argo_sprof": [], "argo_profiles": [], "argo_index": [], "hypernets": []}
    core_rows, s_rows = [], []
    start = datetime(2024, 3, 1, tzinfo=UTC)
    for i in range(n_floats):
        wmo = f"{6990001 + i}"
        lat0, lon0 = _FLOATS[i % len(_FLOATS)]
        float_dir = out / "argo" / "dac" / "coriolis" / wmo
        float_dir.mkdir(parents=True, exist_ok=True)
        files["argo_sprof"].append(write_argo_sprof(float_dir, wmo, n_profiles, start, lat0, lon0, seed))
        if not with_index:
            continue
        (float_dir / "profiles").mkdir(exist_ok=True)
        for cycle, t, lat, lon in _track(wmo, n_profiles, start, lat0, lon0, seed):
            date = t.strftime("%Y%m%d%H%M%S")
            for kind, rows in (("core", core_rows), ("bgc-s", s_rows)):
                modes = _modes(cycle, n_profiles, kind)
                p = write_argo_profile(float_dir / "profiles", wmo, cycle, t, lat, lon, seed, kind, modes)
                files["argo_profiles"].append(p)
                row = [
                    f"coriolis/{wmo}/profiles/{p.name}",
                    date,
                    f"{lat:.3f}",
                    f"{lon:.3f}",
                    _ocean(lat, lon),
                    "836",
                    "IF",
                ]
                if kind == "bgc-s":
                    row += [" ".join(BGC_PARAMS), "".join(modes[k] for k in BGC_PARAMS)]
                rows.append(",".join([*row, _CREATED]))
    if with_index:
        core = _index_header(
            "Profile directory file of the Argo Global Data Assembly Center",
            "The directory file describes all individual profile files of the argo GDAC ftp site.",
            "2.0",
        )
        core.append("file,date,latitude,longitude,ocean,profiler_type,institution,date_update")
        synth = _index_header(
            "Synthetic-Profile directory file of the Argo Global Data Assembly Center",
            "The directory file describes all individual synthetic-profile files of the argo GDAC ftp site.",
            "2.2",
        )
        synth.append(
            "file,date,latitude,longitude,ocean,profiler_type,institution,parameters,"
            "parameter_data_mode,date_update"
        )
        files["argo_index"] = [
            _write_gz(out / "argo" / "ar_index_global_prof.txt.gz", core + core_rows),
            _write_gz(out / "argo" / "argo_synthetic-profile_index.txt.gz", synth + s_rows),
        ]
    for j in range(n_sites):
        site, lat, lon = _SITES[j % len(_SITES)]
        site_dir = out / "hypernets" / site
        site_dir.mkdir(parents=True, exist_ok=True)
        for k in range(n_sequences):
            t = datetime(2024, 5, 1, 9, 30 + j, tzinfo=UTC) + timedelta(days=k // 4, hours=2 * (k % 4))
            files["hypernets"].append(write_hypernets_l2a(site_dir, site, t, lat, lon, seed + 97 * j + k))
    return files


def write_bad_files(out_dir: str | Path) -> dict[str, Path]:
    """Write one file per bad-input case (for the tests and the demo's quarantine).

    Returns:
        Case name -> path: ``truncated_netcdf``, ``text_as_nc``, ``sprof_missing_latitude``,
        ``sprof_all_fill_profile`` (profile 2 of 3 all fill), ``sprof_bad_juld`` (JULD 999999. in
        profile 2), ``sprof_bad_latitude`` (latitude 999. in profile 2), ``hypernets_land``,
        ``hypernets_truncated``, ``hypernets_no_reflectance``.

    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    start = datetime(2024, 3, 1, tzinfo=UTC)

    def profiles(wmo: str) -> list[ArgoProfile]:
        return [
            make_profile(wmo, c, t, la, lo, 1, "bgc-s", _modes(c, 3, "bgc-s"))
            for c, t, la, lo in _track(wmo, 3, start, 34.0, 20.0, 1)
        ]

    cases: dict[str, Path] = {}
    good = write_argo_file(out / "6990901_Sprof.nc", profiles("6990901"), fmt="NETCDF4_CLASSIC")
    data = good.read_bytes()
    good.write_bytes(data[: len(data) * 2 // 5])
    cases["truncated_netcdf"] = good
    cases["text_as_nc"] = out / "R6990902_001.nc"
    cases["text_as_nc"].write_text("This is not a NetCDF file, just text with a .nc suffix.\n")
    cases["sprof_missing_latitude"] = write_argo_file(
        out / "6990903_Sprof.nc", profiles("6990903"), fmt="NETCDF4_CLASSIC", drop=("LATITUDE",)
    )
    profs = profiles("6990904")
    for v in profs[1].values.values():
        for key in ("raw", "adj", "err"):
            v[key][:] = np.nan
        v["qc"][:], v["adj_qc"][:] = b" ", b" "
    cases["sprof_all_fill_profile"] = write_argo_file(out / "6990904_Sprof.nc", profs, fmt="NETCDF4_CLASSIC")
    profs = profiles("6990905")
    profs[1].juld = JULD_FILL
    cases["sprof_bad_juld"] = write_argo_file(out / "6990905_Sprof.nc", profs, fmt="NETCDF4_CLASSIC")
    profs = profiles("6990906")
    profs[1].latitude = 999.0
    cases["sprof_bad_latitude"] = write_argo_file(out / "6990906_Sprof.nc", profs, fmt="NETCDF4_CLASSIC")
    t = datetime(2024, 5, 1, 10, 0, tzinfo=UTC)
    cases["hypernets_land"] = write_hypernets_l2a(out, "GHNA", t, -23.6, 15.1, 3, network="L")
    trunc = write_hypernets_l2a(out, "TRNC", t, 45.0, 12.0, 4)
    trunc.write_bytes(trunc.read_bytes()[:2000])
    cases["hypernets_truncated"] = trunc
    cases["hypernets_no_reflectance"] = write_hypernets_l2a(
        out, "NORF", t, 45.0, 12.0, 5, drop=("reflectance",)
    )
    return cases
