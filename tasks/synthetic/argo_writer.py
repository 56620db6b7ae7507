"""Writer of Argo profile files (core ``R/D`` single-cycle, synthetic ``S`` single-cycle and ``Sprof``)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import netCDF4
import numpy as np

from .argo_header import write_header
from .argo_vars import ERROR_LONG_NAME, PARAM_ATTRS, chars_var, float_var, params_of, qc_var

if TYPE_CHECKING:
    from .argo import ArgoProfile


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
    params = params_of(kind)
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
        write_header(ds, profiles, kind, params, sw, drop)
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


def _write_param(ds, p: str, kind: str, v: dict[str, np.ndarray]) -> None:
    dims = ("N_PROF", "N_LEVELS")
    attrs = PARAM_ATTRS[p]
    float_var(ds, p, dims, v["raw"], attrs)
    qc_var(ds, f"{p}_QC", dims, v["qc"], "2")
    if kind != "core" and p != "PRES":
        dpres = np.where(np.isnan(v["raw"]), np.nan, 0.0)
        float_var(
            ds,
            f"{p}_dPRES",
            dims,
            dpres,
            {"long_name": f"{p} pressure displacement from original sampled value", "units": "decibar"},
        )
    float_var(ds, f"{p}_ADJUSTED", dims, v["adj"], attrs)
    qc_var(ds, f"{p}_ADJUSTED_QC", dims, v["adj_qc"], "2")
    err_attrs = {
        "long_name": ERROR_LONG_NAME,
        "units": attrs["units"],
        **{k: attrs[k] for k in ("C_format", "FORTRAN_format", "resolution")},
    }
    float_var(ds, f"{p}_ADJUSTED_ERROR", dims, v["err"], err_attrs)


def _write_calib(ds, profiles, params, sw) -> None:
    dims = ("N_PROF", "N_CALIB", "N_PARAM")
    n = len(profiles)
    chars_var(
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
        text = [[["CHLA_ADJUSTED=CHLA/2" if name.endswith("EQUATION") and p == "CHLA" else "" for p in params]]] * n
        chars_var(ds, name, (*dims, "STRING256"), text, {"long_name": long})
    chars_var(
        ds,
        "SCIENTIFIC_CALIB_DATE",
        (*dims, "DATE_TIME"),
        [[[""] * len(params)]] * n,
        {"long_name": "Date of calibration", "conventions": "YYYYMMDDHHMISS"},
    )
