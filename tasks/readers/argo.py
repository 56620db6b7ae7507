"""Reader for Argo profile files: core (R/D, ``_prof``), BGC B (BR/BD, ``_Bprof``) and S (SR/SD, ``_Sprof``).

``open_argo`` returns one ``argo_profiles`` row per profile and the long-form ``argo_measurements``
(one row per profile, level and parameter where the raw or the adjusted value is not fill).

Decisions:

* Every STATION_PARAMETERS entry is a parameter except PRES, which is the vertical coordinate
  (``pres`` column). Parameters with an extra dimension (e.g. UV_INTENSITY_NITRATE with
  N_VALUES41) and parameters listed without a variable in the file give no row (logged).
* Data mode per parameter: PARAMETER_DATA_MODE when present (B/S files, blank -> DATA_MODE or R),
  else the profile DATA_MODE. ``value``/``qc`` are the ADJUSTED pair in A/D mode, the raw pair in
  R mode. ``pres`` is PRES_ADJUSTED when PRES is in A/D mode and the variable exists (B files
  have none), else PRES.
* Profile ``data_mode``: core DATA_MODE; B/S files the least processed mode of the parameters
  other than PRES (R < A < D). ``parameters`` keeps PRES.
* ``profile_index`` is the rank of the profile among all profiles of the file with the same cycle
  and direction (N_PROF order), so it does not change when another profile is rejected.
* A profile with a fill PLATFORM_NUMBER, CYCLE_NUMBER or DIRECTION, a fill or undecodable JULD,
  a fill/NaN or impossible position, or no non-fill measurement (e.g. a B-file profile that only
  carries PRES) is not emitted but listed in ``rejected``. Longitudes in (180, 360] are wrapped.
* ``chla_surface*`` come from :func:`tasks.chla_surface.surface_chla` fed with the selected
  CHLA and DOWN_IRRADIANCE490 of the same profile (B files keep them in different profiles, so
  their CHLA profiles use the top-10-dbar rule).
"""

from __future__ import annotations

import logging
import re
from pathlib import Path

import netCDF4
import numpy as np
import pyarrow as pa

from tasks.chla_surface import surface_chla
from tasks.errors import InvalidFile
from tasks.readers.base import ReadResult
from tasks.readers.common import (
    char_scalar,
    chars_to_str,
    decode_juld,
    dict_strings,
    fill_mask,
    fill_to_nan,
    nullable_float64,
    open_dataset,
    qc_to_arrow,
    qc_to_str,
    read_data_type,
    schema,
)

log = logging.getLogger(__name__)

READER = "argo-profile"
REQUIRED = ("PLATFORM_NUMBER", "CYCLE_NUMBER", "JULD", "LATITUDE", "LONGITUDE", "STATION_PARAMETERS")
FILE_KINDS = {"Argo profile": "core", "B-Argo profile": "bgc-b", "Argo synthetic profile": "bgc-s"}
NAME_PATTERN = re.compile(r"^(?:[RD]|B[RD]|S[RD])\d{5,9}_\d{3,4}D?\.nc$|^\d{5,9}_[SB]?prof\.nc$")
_MODE_RANK = {"R": 0, "A": 1, "D": 2}


def can_open(path: str | Path) -> bool:
    """Tell whether ``path`` is an Argo profile file (by name, else by its NetCDF DATA_TYPE)."""
    if NAME_PATTERN.match(Path(path).name):
        return True
    return read_data_type(path) in FILE_KINDS


def _var(ds: netCDF4.Dataset, name: str) -> np.ndarray | None:
    return ds[name][:] if name in ds.variables else None


def _fill(ds: netCDF4.Dataset, name: str) -> float | None:
    return getattr(ds[name], "_FillValue", None)


def _file_kind(ds: netCDF4.Dataset, path: str) -> str:
    data_type = char_scalar(ds["DATA_TYPE"][:]) if "DATA_TYPE" in ds.variables else None
    if data_type in FILE_KINDS:
        return FILE_KINDS[data_type]
    name = Path(path).name
    if data_type is None and NAME_PATTERN.match(name):
        return (
            "bgc-s"
            if name.startswith("S") or "_Sprof" in name
            else "bgc-b"
            if name.startswith("B") or "_Bprof" in name
            else "core"
        )
    raise InvalidFile(
        f"{path}: DATA_TYPE {data_type!r} is not one of {sorted(FILE_KINDS)}; not an Argo profile file"
    )


def _modes(ds: netCDF4.Dataset, params: np.ndarray) -> np.ndarray:
    """Return the data mode ('R'/'A'/'D') per (profile, station parameter)."""
    n_prof, n_param = params.shape
    dm = qc_to_str(ds["DATA_MODE"][:]) if "DATA_MODE" in ds.variables else np.full(n_prof, None, object)
    dm = np.where(dm == None, "R", dm)  # noqa: E711 - element-wise
    if "PARAMETER_DATA_MODE" not in ds.variables:
        return np.repeat(dm[:, None], n_param, axis=1)
    pdm = qc_to_str(ds["PARAMETER_DATA_MODE"][:]).reshape(n_prof, n_param)
    return np.where(pdm == None, dm[:, None], pdm)  # noqa: E711


def _profile_index(cycles: np.ndarray, directions: np.ndarray) -> np.ndarray:
    seen: dict[tuple, int] = {}
    out = np.zeros(len(cycles), dtype=np.int16)
    for i, key in enumerate(zip(cycles.tolist(), directions.tolist(), strict=True)):
        out[i] = seen.get(key, 0)
        seen[key] = out[i] + 1
    return out


def _pres(ds: netCDF4.Dataset, params: np.ndarray, modes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Return the selected pressure (dbar, NaN for fill) and its QC codes, per (profile, level)."""
    is_pres = params == "PRES"
    pres_mode = np.where(is_pres.any(axis=1), modes[np.arange(len(params)), is_pres.argmax(axis=1)], "R")
    has_adj = "PRES_ADJUSTED" in ds.variables
    use = np.isin(pres_mode, ["A", "D"])[:, None] & has_adj
    raw = _nan(ds, "PRES")
    pres = np.where(use, _nan(ds, "PRES_ADJUSTED"), raw) if has_adj else raw
    blank = np.full(raw.shape, b" ", dtype="S1")
    raw_qc = _var(ds, "PRES_QC") if "PRES_QC" in ds.variables else blank
    adj_qc = _var(ds, "PRES_ADJUSTED_QC") if "PRES_ADJUSTED_QC" in ds.variables else blank
    return pres, np.where(use, adj_qc, raw_qc)


def _parameter(ds: netCDF4.Dataset, name: str, has: np.ndarray, mode: np.ndarray) -> dict | None:
    """Raw/adjusted arrays of one parameter, or None when it cannot give rows."""
    if name not in ds.variables or ds[name].ndim != 2:
        log.info("%s: parameter %s skipped (no 2-D N_PROF x N_LEVELS variable)", ds.filepath(), name)
        return None
    raw = _nan(ds, name)
    adj = _nan(ds, f"{name}_ADJUSTED") if f"{name}_ADJUSTED" in ds.variables else None
    blank = np.full(raw.shape, b" ", dtype="S1")
    p = {
        "raw": raw,
        "adj": np.full(raw.shape, np.nan, raw.dtype) if adj is None else adj,
        "qc_raw": _var(ds, f"{name}_QC") if f"{name}_QC" in ds.variables else blank,
        "qc_adj": _var(ds, f"{name}_ADJUSTED_QC") if f"{name}_ADJUSTED_QC" in ds.variables else blank,
        "use_adj": np.isin(mode, ["A", "D"]),
        "units": getattr(ds[name], "units", None),
    }
    err = f"{name}_ADJUSTED_ERROR"
    p["err"] = _nan(ds, err) if err in ds.variables else np.full(raw.shape, np.nan, raw.dtype)
    p["rows"] = has[:, None] & ~(np.isnan(p["raw"]) & np.isnan(p["adj"]))
    p["mode"] = mode
    return p


def _nan(ds: netCDF4.Dataset, name: str) -> np.ndarray:
    """Variable ``name`` in its own float dtype with fill values as NaN (widened later, per row)."""
    values = ds[name][:]
    out = values if values.dtype.kind == "f" else values.astype(np.float64)
    return np.where(fill_mask(values, _fill(ds, name)), np.nan, out)


def _measurements(
    head: dict, params: dict[str, dict], keep: np.ndarray, pres: np.ndarray, pres_qc: np.ndarray
) -> pa.Table:
    """Long-form measurements, vectorised per parameter (no loop over levels)."""
    parts: dict[str, list[np.ndarray]] = {
        k: [] for k in ("pi", "li", "j", "raw", "adj", "err", "qr", "qa", "use", "mode")
    }
    names = list(params)
    for j, name in enumerate(names):
        p = params[name]
        pi, li = np.nonzero(p["rows"] & keep[:, None])
        for key, arr in (
            ("raw", p["raw"]),
            ("adj", p["adj"]),
            ("err", p["err"]),
            ("qr", p["qc_raw"]),
            ("qa", p["qc_adj"]),
        ):
            parts[key].append(arr[pi, li])
        parts["pi"].append(pi)
        parts["li"].append(li)
        parts["j"].append(np.full(pi.size, j, dtype=np.int32))
        parts["use"].append(p["use_adj"][pi])
        parts["mode"].append(p["mode"].astype("S1")[pi])
    empty = {
        "raw": np.float32,
        "adj": np.float32,
        "err": np.float32,
        "qr": "S1",
        "qa": "S1",
        "mode": "S1",
        "use": bool,
    }
    c = {k: np.concatenate(v) if v else np.empty(0, dtype=empty.get(k, np.intp)) for k, v in parts.items()}
    pi = c["pi"]
    value = np.where(c["use"], c["adj"], c["raw"])
    qc = np.where(c["use"], c["qa"], c["qr"])
    columns = {
        "platform_number": dict_strings(pi, list(head["platform"])),
        "cycle_number": pa.array(head["cycle"][pi], pa.int32()),
        "direction": dict_strings(pi, list(head["direction"])),
        "profile_index": pa.array(head["profile_index"][pi], pa.int16()),
        "file_kind": dict_strings(np.zeros(pi.size, np.int32), [head["file_kind"]]),
        "level": pa.array(c["li"], pa.int32()),
        "pres": nullable_float64(pres[pi, c["li"]]),
        "pres_qc": qc_to_arrow(pres_qc[pi, c["li"]]),
        "parameter": dict_strings(c["j"], names),
        "value_raw": nullable_float64(c["raw"]),
        "qc_raw": qc_to_arrow(c["qr"]),
        "value_adjusted": nullable_float64(c["adj"]),
        "qc_adjusted": qc_to_arrow(c["qa"]),
        "error_adjusted": nullable_float64(c["err"]),
        "data_mode": qc_to_arrow(c["mode"]),
        "value": nullable_float64(value),
        "qc": qc_to_arrow(qc),
        "units": dict_strings(c["j"], [params[n]["units"] for n in names]),
    }
    out = schema("argo_measurements")
    return pa.Table.from_arrays([columns[f.name] for f in out], schema=out)


def _problems(head: dict, n_rows: np.ndarray) -> list[str | None]:
    """Why each profile cannot be ingested (None when it can)."""
    lat, lon = head["latitude"], head["longitude"]
    checks = [
        (head["platform"] == None, "a fill PLATFORM_NUMBER"),  # noqa: E711
        (head["cycle_fill"], "a fill CYCLE_NUMBER"),
        (head["direction"] == None, "a fill DIRECTION"),  # noqa: E711
        (np.isnat(head["time"]), "a fill or undecodable JULD"),
        (np.isnan(lat) | np.isnan(lon), "a fill or NaN position (LATITUDE/LONGITUDE)"),
        (
            (np.abs(lat) > 90) | (lon < -180) | (lon > 360),
            "an impossible position (LATITUDE outside [-90, 90] or LONGITUDE outside [-180, 360])",
        ),
        (n_rows == 0, "no non-fill measurement (all-fill profile, or only PRES)"),
    ]
    out: list[str | None] = [None] * len(lat)
    for mask, text in checks:
        for i in np.nonzero(mask)[0]:
            out[i] = text if out[i] is None else f"{out[i]} and {text}"
    return out


def _header(ds: netCDF4.Dataset, path: str) -> dict:
    """Per-profile metadata arrays (length N_PROF)."""
    n_prof = len(ds["CYCLE_NUMBER"][:])

    def text(name: str) -> np.ndarray:
        return (
            chars_to_str(ds[name][:]).reshape(n_prof)
            if name in ds.variables
            else np.full(n_prof, None, object)
        )

    def flag(name: str) -> np.ndarray:
        return (
            qc_to_str(ds[name][:]).reshape(n_prof) if name in ds.variables else np.full(n_prof, None, object)
        )

    cycle = ds["CYCLE_NUMBER"][:]
    reference = char_scalar(ds["REFERENCE_DATE_TIME"][:]) if "REFERENCE_DATE_TIME" in ds.variables else None
    lat = fill_to_nan(ds["LATITUDE"][:], _fill(ds, "LATITUDE"))
    lon = fill_to_nan(ds["LONGITUDE"][:], _fill(ds, "LONGITUDE"))
    direction = flag("DIRECTION")
    head = {
        "file_kind": _file_kind(ds, path),
        "platform": text("PLATFORM_NUMBER"),
        "cycle_fill": fill_mask(cycle, _fill(ds, "CYCLE_NUMBER")),
        "cycle": cycle.astype(np.int32),
        "direction": direction,
        "data_centre": text("DATA_CENTRE"),
        "vss": text("VERTICAL_SAMPLING_SCHEME"),
        "time": decode_juld(ds["JULD"][:], reference, _fill(ds, "JULD")),
        "time_qc": flag("JULD_QC"),
        "time_location": decode_juld(_var(ds, "JULD_LOCATION"), reference, _fill(ds, "JULD_LOCATION"))
        if "JULD_LOCATION" in ds.variables
        else np.full(n_prof, np.datetime64("NaT", "us")),
        "latitude": lat,
        "longitude": np.where(lon > 180, lon - 360, lon),
        "position_qc": flag("POSITION_QC"),
        "positioning_system": text("POSITIONING_SYSTEM"),
    }
    head["profile_index"] = _profile_index(head["cycle"], direction)
    return head


def _surface(params: dict[str, dict], pres: np.ndarray, i: int):
    """Surface CHLA of profile i from the selected value/QC pairs."""

    def pair(name: str):
        p = params.get(name)
        if p is None or not p["rows"][i].any():
            return None, None
        use = p["use_adj"][i]
        return (p["adj"] if use else p["raw"])[i], qc_to_str((p["qc_adj"] if use else p["qc_raw"])[i])

    chla, chla_qc = pair("CHLA")
    ed, ed_qc = pair("DOWN_IRRADIANCE490")
    return surface_chla(pres[i], chla, chla_qc, ed, ed_qc)


def _profiles(
    head: dict,
    station: np.ndarray,
    modes: np.ndarray,
    params: dict,
    pres: np.ndarray,
    keep: np.ndarray,
    n_levels: np.ndarray,
) -> pa.Table:
    rows = []
    for i in np.nonzero(keep)[0]:
        names = [p for p in station[i] if p is not None]
        pmodes = [m for p, m in zip(station[i], modes[i], strict=True) if p is not None]
        measured = [m for p, m in zip(names, pmodes, strict=True) if p != "PRES"] or pmodes
        mode = (
            min(measured, key=lambda m: _MODE_RANK.get(m, 0)) if head["file_kind"] != "core" else modes[i][0]
        )
        s = _surface(params, pres, i)
        rows.append(
            {
                "platform_number": head["platform"][i],
                "cycle_number": int(head["cycle"][i]),
                "direction": head["direction"][i],
                "profile_index": int(head["profile_index"][i]),
                "file_kind": head["file_kind"],
                "data_centre": head["data_centre"][i],
                "vertical_sampling_scheme": head["vss"][i],
                "time": head["time"][i],
                "time_qc": head["time_qc"][i],
                "time_location": None if np.isnat(head["time_location"][i]) else head["time_location"][i],
                "latitude": float(head["latitude"][i]),
                "longitude": float(head["longitude"][i]),
                "position_qc": head["position_qc"][i],
                "positioning_system": head["positioning_system"][i],
                "parameters": names,
                "parameter_data_modes": list(zip(names, pmodes, strict=True)),
                "data_mode": mode,
                "n_levels": int(n_levels[i]),
                "chla_surface": s.value,
                "chla_surface_rule": s.rule,
                "chla_surface_n": s.n,
                "first_optical_depth": s.first_optical_depth,
            }
        )
    return pa.Table.from_pylist(rows, schema=schema("argo_profiles"))


def open_argo(path: str | Path) -> ReadResult:
    """Read an Argo core, B or S profile file (single-cycle or multi-profile) into lake tables.

    Args:
        path: local path of the NetCDF file.

    Returns:
        ``ReadResult(reader="argo-profile")`` with ``argo_profiles`` and ``argo_measurements``
        (lake columns without lineage) and the rejected profiles with their reasons.

    Raises:
        SourceNotFound: the file does not exist.
        InvalidFile: not NetCDF, truncated, or DATA_TYPE is not an Argo profile type.
        MissingVariable: one of PLATFORM_NUMBER, CYCLE_NUMBER, JULD, LATITUDE, LONGITUDE,
            STATION_PARAMETERS or PRES is missing.

    """
    path = str(path)
    ds = open_dataset(path, (*REQUIRED, "PRES"))
    try:
        return _read(ds, path)
    except (OSError, RuntimeError, IndexError) as exc:
        raise InvalidFile(f"{path}: cannot read the data ({exc}); the file is corrupt or truncated") from exc
    finally:
        ds.close()


def _read(ds: netCDF4.Dataset, path: str) -> ReadResult:
    head = _header(ds, path)
    n_prof = len(head["cycle"])
    station = chars_to_str(ds["STATION_PARAMETERS"][:]).reshape(n_prof, -1)
    modes = _modes(ds, station)
    pres, pres_qc = _pres(ds, station, modes)
    params = {}
    for name in dict.fromkeys(p for p in station.ravel() if p is not None and p != "PRES"):
        has = station == name
        mode = modes[np.arange(n_prof), has.argmax(axis=1)]
        p = _parameter(ds, name, has.any(axis=1), mode)
        if p is not None:
            params[name] = p
    any_level = np.zeros(pres.shape, dtype=bool)
    for p in params.values():
        any_level |= p["rows"]
    n_levels = any_level.sum(axis=1)
    problems = _problems(head, n_levels)
    keep = np.array([p is None for p in problems], dtype=bool)
    what = {i: f"profile {i} (cycle {head['cycle'][i]} {head['direction'][i]})" for i in np.nonzero(~keep)[0]}
    rejected = [(f"{path}#{w}", f"{path}: {w} has {problems[i]}; not ingested") for i, w in what.items()]
    return ReadResult(
        reader=READER,
        tables={
            "argo_profiles": _profiles(head, station, modes, params, pres, keep, n_levels),
            "argo_measurements": _measurements(head, params, keep, pres, pres_qc),
        },
        rejected=rejected,
    )
