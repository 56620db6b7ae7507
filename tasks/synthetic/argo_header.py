"""Header, time and position variables of an Argo profile file (core ``R/D`` or synthetic ``S`` layout)."""

from __future__ import annotations

import netCDF4
import numpy as np

from ._common import CREATED
from .argo_vars import ARGO_FILL, JULD_FILL, chars_var, qc_var


def write_header(
    ds: netCDF4.Dataset, profiles: list, kind: str, params: tuple[str, ...], sw: int, drop: tuple[str, ...]
) -> None:
    """Write the per-file and per-profile metadata variables, in the order of the real GDAC files.

    Args:
        ds: open dataset with the Argo dimensions already created.
        profiles: the :class:`~tasks.synthetic.argo.ArgoProfile` list (N_PROF).
        kind: ``"core"`` or ``"bgc-s"``.
        params: parameter names (N_PARAM).
        sw: width of the parameter-name strings (16 core, 64 S).
        drop: variable names not to write.

    """
    n = len(profiles)
    bgc = kind != "core"
    chars_var(
        ds,
        "DATA_TYPE",
        ("STRING32",) if bgc else ("STRING16",),
        "Argo synthetic profile" if bgc else "Argo profile",
        {"long_name": "Data type", "conventions": "Argo reference table 1"},
    )
    chars_var(ds, "FORMAT_VERSION", ("STRING4",), "1.0" if bgc else "3.1", {"long_name": "File format version"})
    chars_var(ds, "HANDBOOK_VERSION", ("STRING4",), "1.2", {"long_name": "Data handbook version"})
    for name, text, long in [
        ("REFERENCE_DATE_TIME", "19500101000000", "Date of reference for Julian days"),
        ("DATE_CREATION", CREATED, "Date of file creation"),
        ("DATE_UPDATE", CREATED, "Date of update of this file"),
    ]:
        chars_var(ds, name, ("DATE_TIME",), text, {"long_name": long, "conventions": "YYYYMMDDHHMISS"})
    chars_var(
        ds,
        "PLATFORM_NUMBER",
        ("N_PROF", "STRING8"),
        [p.wmo for p in profiles],
        {"long_name": "Float unique identifier", "conventions": "WMO float identifier : A9IIIII"},
    )
    chars_var(
        ds,
        "PROJECT_NAME",
        ("N_PROF", "STRING64"),
        ["oceanlake synthetic"] * n,
        {"long_name": "Name of the project"},
    )
    chars_var(
        ds,
        "PI_NAME",
        ("N_PROF", "STRING64"),
        ["Nobody"] * n,
        {"long_name": "Name of the principal investigator"},
    )
    chars_var(
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
    qc_var(ds, "DIRECTION", ("N_PROF",), np.array([p.direction for p in profiles], "S1"), "")
    ds["DIRECTION"].setncatts(
        {
            "long_name": "Direction of the station profiles",
            "conventions": "A: ascending profiles, D: descending profiles",
        }
    )
    chars_var(
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
        chars_var(
            ds,
            "PARAMETER_DATA_MODE",
            ("N_PROF", "N_PARAM"),
            ["".join(p.modes.get(k, "R") for k in params) for p in profiles],
            {"long_name": "Delayed mode or real time data", "conventions": mode_conv},
        )
    else:
        chars_var(
            ds,
            "DC_REFERENCE",
            ("N_PROF", "STRING32"),
            [f"{p.wmo}{p.cycle:04d}" for p in profiles],
            {
                "long_name": "Station unique identifier in data centre",
                "conventions": "Data centre convention",
            },
        )
        chars_var(
            ds,
            "DATA_STATE_INDICATOR",
            ("N_PROF", "STRING4"),
            ["2B"] * n,
            {
                "long_name": "Degree of processing the data have passed through",
                "conventions": "Argo reference table 6",
            },
        )
        qc_var(ds, "DATA_MODE", ("N_PROF",), np.array([p.modes.get("TEMP", "R") for p in profiles], "S1"), "")
        ds["DATA_MODE"].setncatts({"long_name": "Delayed mode or real time data", "conventions": mode_conv})
    chars_var(
        ds,
        "PLATFORM_TYPE",
        ("N_PROF", "STRING32"),
        ["PROVOR_III"] * n,
        {"long_name": "Type of float", "conventions": "Argo reference table 23"},
    )
    chars_var(
        ds,
        "FLOAT_SERIAL_NO",
        ("N_PROF", "STRING32"),
        [f"SYN-{p.wmo}" for p in profiles],
        {"long_name": "Serial number of the float"},
    )
    chars_var(
        ds,
        "FIRMWARE_VERSION",
        ("N_PROF", "STRING32"),
        ["3"] * n,
        {"long_name": "Instrument firmware version"},
    )
    chars_var(
        ds,
        "WMO_INST_TYPE",
        ("N_PROF", "STRING4"),
        ["836"] * n,
        {"long_name": "Coded instrument type", "conventions": "Argo reference table 8"},
    )
    _write_time_position(ds, profiles, drop, bgc)
    for p in params:
        qc_var(ds, f"PROFILE_{p}_QC", ("N_PROF",), np.array(["A"] * n, "S1"), "2a")
        ds[f"PROFILE_{p}_QC"].long_name = f"Global quality flag of {p} profile"
    if not bgc:
        chars_var(
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
    qc_var(ds, "JULD_QC", ("N_PROF",), np.array(["1"] * len(profiles), "S1"), "2")
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
    qc_var(ds, "POSITION_QC", ("N_PROF",), np.array(["1"] * len(profiles), "S1"), "2")
    ds["POSITION_QC"].long_name = "Quality on position (latitude and longitude)"
    chars_var(
        ds,
        "POSITIONING_SYSTEM",
        ("N_PROF", "STRING8"),
        ["GPS"] * len(profiles),
        {"long_name": "Positioning system"},
    )
