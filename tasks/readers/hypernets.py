"""Reader for WATERHYPERNET L2A water reflectance files (HYPSTAR ``hypernets_processor`` and PANTHYR).

Two real layouts are read with one code path:

* ``hypernets_processor`` v2 (``HYPERNETS_W_<SITE>_L2A_REF_<yyyymmddThhmm>_..._v2.x.nc``): dims
  ``wavelength x series``, float32 ``reflectance`` (rho_w), ``u_rel_random_reflectance`` and
  ``u_rel_systematic_reflectance`` in %, ``std_reflectance``, per-series scaled uint16 angles,
  ``acquisition_time`` (uint32 s since 1970), uint32 ``quality_flag`` with CF ``flag_masks`` and
  ``flag_meanings``, position in the ``site_latitude``/``site_longitude`` attributes.
* PANTHYR (``PANTHYR_W_<SITE>_L2A_REF_<yyyymmddThhmmss>_<AZ>_..._QA.nc``): dims ``wavelength x
  sequence x time``, float64 ``reflectance`` and ``reflectance_std``, scalar ``acquisition_time``,
  uint8 ``quality_flag`` whose ``_FillValue`` 0 is also "no flag set", position in the
  ``latitude_average``/``longitude_average`` attributes.

Land-network files (``_L_``) are refused: they hold surface (not water-leaving) reflectance.
"""

from __future__ import annotations

import re
from pathlib import Path, PurePosixPath

import netCDF4
import numpy as np
import pyarrow as pa

import lake_schema
from tasks.errors import InvalidFile, MissingVariable, RefusedFile
from tasks.readers.base import LINEAGE_COLUMNS, ReadResult
from tasks.readers.common import decode_cf_flags

READER = "hypernets-l2a"
FILENAME_RE = re.compile(
    r"^(?P<system>HYPERNETS|PANTHYR)_(?P<network>[WL])_(?P<site>[A-Za-z0-9]+)_(?P<level>L2[AB])_REF_"
    r"(?P<start>\d{8}T\d{4}(?:\d{2})?)_.*\.nc$"
)
_STD_NAMES = ("std_reflectance", "reflectance_std")
_UNC_NAMES = ("u_rel_random_reflectance", "u_rel_systematic_reflectance")
_ANGLES = ("viewing_zenith_angle", "viewing_azimuth_angle", "solar_zenith_angle", "solar_azimuth_angle")


def can_open(path: str | Path) -> bool:
    """Tell whether the file name is a HYPERNETS/PANTHYR L2A reflectance name (water or land network)."""
    return FILENAME_RE.match(PurePosixPath(str(path)).name) is not None


def _schema(table: str) -> pa.Schema:
    schema = lake_schema.table(table).arrow_schema()
    return pa.schema([f for f in schema if f.name not in LINEAGE_COLUMNS])


def _floats(var: netCDF4.Variable) -> np.ndarray:
    """Values of a variable as float64 with fill/masked/non-finite values as NaN (scale applied)."""
    data = np.ma.masked_invalid(np.ma.asarray(var[...], dtype=np.float64))
    return np.ma.filled(data, np.nan)


def _series_values(ds: netCDF4.Dataset, name: str, series_dims: tuple[str, ...]) -> np.ndarray | None:
    """Return a per-series variable broadcast over the series dimensions and flattened (None if absent)."""
    if name not in ds.variables:
        return None
    var = ds.variables[name]
    if not set(var.dimensions) <= set(series_dims):
        return None
    values = _floats(var)
    order = [var.dimensions.index(d) for d in series_dims if d in var.dimensions]
    values = np.transpose(values, order) if values.ndim else values
    shape = [len(ds.dimensions[d]) if d in var.dimensions else 1 for d in series_dims]
    full = tuple(len(ds.dimensions[d]) for d in series_dims)
    return np.broadcast_to(values.reshape(shape), full).ravel()


def _spectra(ds: netCDF4.Dataset, name: str, series_dims: tuple[str, ...]) -> np.ndarray:
    """Return a ``wavelength x series...`` variable as a float64 ``(n_series, n_wavelength)`` array."""
    var = ds.variables[name]
    values = np.transpose(_floats(var), [var.dimensions.index(d) for d in ("wavelength", *series_dims)])
    return values.reshape(values.shape[0], -1).T


def _uncertainty(ds: netCDF4.Dataset, rho: np.ndarray, series_dims: tuple[str, ...]) -> np.ndarray:
    """Absolute 1-sigma uncertainty of rho_w: combined relative components, else the scan std."""
    combined = np.full(rho.shape, np.nan)
    comps = [n for n in _UNC_NAMES if n in ds.variables]
    if comps:
        squares = np.zeros(rho.shape)
        for name in comps:
            units = str(getattr(ds.variables[name], "units", "%")).strip()
            squares += (_spectra(ds, name, series_dims) / (100.0 if units == "%" else 1.0)) ** 2
        combined = np.abs(rho) * np.sqrt(squares)
    std_name = next((n for n in _STD_NAMES if n in ds.variables), None)
    if std_name is not None:
        combined = np.where(np.isnan(combined), _spectra(ds, std_name, series_dims), combined)
    return combined


def _quality_flags(ds: netCDF4.Dataset, n: int, series_dims: tuple[str, ...]) -> tuple[np.ndarray, list]:
    """Raw quality bitmask per series (0 when fill or absent) and the decoded flag names."""
    if "quality_flag" not in ds.variables:
        return np.zeros(n, np.int64), [[] for _ in range(n)]
    var = ds.variables["quality_flag"]
    var.set_auto_maskandscale(False)
    raw = np.asarray(var[...]).astype(np.int64)
    fill = getattr(var, "_FillValue", netCDF4.default_fillvals.get(var.dtype.str[1:]))
    if fill is not None:
        raw = np.where(raw == int(fill), 0, raw)
    shape = [len(ds.dimensions[d]) if d in var.dimensions else 1 for d in series_dims]
    full = tuple(len(ds.dimensions[d]) for d in series_dims)
    raw = np.broadcast_to(raw.reshape(shape), full).ravel()
    masks, meanings = getattr(var, "flag_masks", None), getattr(var, "flag_meanings", None)
    names = decode_cf_flags(raw, masks, meanings) if masks is not None and meanings else [[]] * n
    return raw, names


def _times(ds: netCDF4.Dataset, start: np.datetime64, n: int, series_dims: tuple[str, ...]) -> np.ndarray:
    """Acquisition time per series (``datetime64[us]``); the file-name start time where missing."""
    seconds = _series_values(ds, "acquisition_time", series_dims)
    if seconds is None:
        return np.full(n, start)
    units = str(getattr(ds.variables["acquisition_time"], "units", "s"))
    if "since" in units:
        stamps = netCDF4.num2date(np.nan_to_num(seconds), units, only_use_cftime_datetimes=False)
        out = np.array([np.datetime64(t.isoformat(), "us") for t in np.atleast_1d(stamps)])
    else:
        out = (np.rint(np.nan_to_num(seconds) * 1e6).astype(np.int64)).astype("datetime64[us]")
    return np.where(np.isnan(seconds) | (seconds <= 0), start, out)


def _position(ds: netCDF4.Dataset, axis: str, n: int, series_dims: tuple[str, ...]) -> np.ndarray:
    """Latitude or longitude per series: a variable if present, else the site/average attribute."""
    limit = 90.0 if axis == "lat" else 180.0
    names = ("lat", "latitude") if axis == "lat" else ("lon", "longitude")
    values = next((v for v in (_series_values(ds, k, series_dims) for k in names) if v is not None), None)
    if values is None:
        attrs = (f"site_{names[1]}", f"{names[1]}_average")
        value = next((getattr(ds, a) for a in attrs if a in ds.ncattrs()), np.nan)
        try:
            values = np.full(n, float(value))
        except (TypeError, ValueError):
            values = np.full(n, np.nan)
    return np.where(np.abs(values) <= limit, values, np.nan)


def _sequence_stamp(ds: netCDF4.Dataset, name_start: str) -> str:
    """``yyyymmddThhmmss`` start of the sequence: the SEQ attribute, else the file-name time."""
    match = re.fullmatch(r"SEQ(\d{8}T\d{6})", str(getattr(ds, "sequence_id", "")).strip())
    if match:
        return match.group(1)
    return name_start if len(name_start) == 15 else f"{name_start}00"


def _farray(values: np.ndarray) -> pa.Array:
    values = np.asarray(values, dtype=np.float64)
    return pa.array(values, mask=np.isnan(values), type=pa.float64())


def open_hypernets(path: str | Path) -> ReadResult:
    """Read a water-network HYPERNETS/PANTHYR L2A reflectance file into lake rows.

    Args:
        path: local path of the NetCDF file (its name must follow the L2A file-name pattern).

    Returns:
        ReadResult with ``hypernets_sequences`` (one row per series: time UTC, position in degrees,
        angles in degrees, quality bits) and ``hypernets_reflectance`` (one row per series and
        wavelength: wavelength and bandwidth in nm, rho_w and its uncertainty dimensionless, rrs
        and its uncertainty in sr-1). Series whose spectrum is all fill are listed in ``rejected``.

    Raises:
        RefusedFile: for a land-network (``_L_``) file.
        InvalidFile: when the name does not parse or the file is not readable NetCDF.
        MissingVariable: when ``reflectance`` or ``wavelength`` is absent.

    """
    path = Path(path)
    match = FILENAME_RE.match(path.name)
    if match is None:
        raise InvalidFile(
            f"{path}: file name does not follow <SYSTEM>_<W|L>_<SITE>_L2A_REF_<yyyymmddThhmm[ss]>_..nc; "
            "rename it or use the reader of its family"
        )
    if match["network"] == "L":
        raise RefusedFile(
            f"{path} is a LANDHYPERNET (land network) file; oceanlake ingests water-network (_W_) "
            "L2A files only - remove it from the source"
        )
    try:
        ds = netCDF4.Dataset(path)
    except OSError as exc:
        raise InvalidFile(
            f"{path}: cannot be read as NetCDF ({exc}); it is truncated, corrupt or not NetCDF - "
            "fetch it again"
        ) from exc
    try:
        return _read(ds, path, match)
    finally:
        ds.close()


def _read(ds: netCDF4.Dataset, path: Path, match: re.Match) -> ReadResult:
    for required in ("reflectance", "wavelength"):
        if required not in ds.variables:
            raise MissingVariable(f"{path}: no '{required}' variable; not a water L2A reflectance file")
    dims = ds.variables["reflectance"].dimensions
    if "wavelength" not in dims:
        raise InvalidFile(f"{path}: 'reflectance' has dims {dims}, expected a 'wavelength' dimension")
    series_dims = tuple(d for d in dims if d != "wavelength")
    site, stamp = match["site"], _sequence_stamp(ds, match["start"])
    sequence_id = f"{site}_{stamp}"
    start = np.datetime64(
        f"{stamp[:4]}-{stamp[4:6]}-{stamp[6:8]}T{stamp[9:11]}:{stamp[11:13]}:{stamp[13:]}", "us"
    )

    wavelength = _floats(ds.variables["wavelength"])
    bandwidth = (
        _floats(ds.variables["bandwidth"])
        if "bandwidth" in ds.variables
        else np.full_like(wavelength, np.nan)
    )
    good_wl = ~np.isnan(wavelength)
    rho = _spectra(ds, "reflectance", series_dims)
    unc = _uncertainty(ds, rho, series_dims)
    rho, unc, wavelength, bandwidth = (
        rho[:, good_wl],
        unc[:, good_wl],
        wavelength[good_wl],
        bandwidth[good_wl],
    )
    n_series, n_wl = rho.shape

    angles = {a: _series_values(ds, a, series_dims) for a in _ANGLES}
    angles = {a: (v if v is not None else np.full(n_series, np.nan)) for a, v in angles.items()}
    keep = ~np.all(np.isnan(rho), axis=1)
    rejected = []
    for k in np.flatnonzero(~keep):
        where = "" if n_series == 1 else f" (viewing azimuth {angles['viewing_azimuth_angle'][k]:g} deg)"
        rejected.append(
            (
                f"{path}#sequence {sequence_id}{where}",
                f"{path}: sequence {sequence_id}{where} has no valid reflectance "
                f"(all {n_wl} wavelengths are fill)",
            )
        )
    flag_values, flag_names = _quality_flags(ds, n_series, series_dims)
    seq_cols = {
        "sequence_id": pa.array([sequence_id] * int(keep.sum()), pa.string()),
        "site": pa.array([site] * int(keep.sum()), pa.string()),
        "network": pa.array([match["network"]] * int(keep.sum()), pa.string()),
        "system": pa.array([match["system"]] * int(keep.sum()), pa.string()),
        "time": pa.array(_times(ds, start, n_series, series_dims)[keep], pa.timestamp("us")),
        "latitude": _farray(_position(ds, "lat", n_series, series_dims)[keep]),
        "longitude": _farray(_position(ds, "lon", n_series, series_dims)[keep]),
        **{a: _farray(v[keep]) for a, v in angles.items()},
        "quality_flag": pa.array(flag_values[keep], pa.int64()),
        "quality_flags": pa.array([flag_names[k] for k in np.flatnonzero(keep)], pa.list_(pa.string())),
        "processor_version": pa.array([str(getattr(ds, "processor_version", "")) or None] * int(keep.sum())),
        "n_wavelengths": pa.array([n_wl] * int(keep.sum()), pa.int32()),
    }
    n_keep = int(keep.sum())
    rho, unc = rho[keep].ravel(), unc[keep].ravel()
    refl_cols = {
        "sequence_id": pa.array([sequence_id] * (n_keep * n_wl), pa.string()),
        "site": pa.array([site] * (n_keep * n_wl), pa.string()),
        "viewing_azimuth_angle": _farray(np.repeat(angles["viewing_azimuth_angle"][keep], n_wl)),
        "wavelength": _farray(np.tile(wavelength, n_keep)),
        "bandwidth": _farray(np.tile(bandwidth, n_keep)),
        "rho_w": _farray(rho),
        "rho_w_uncertainty": _farray(unc),
        "rrs": _farray(rho / np.pi),
        "rrs_uncertainty": _farray(unc / np.pi),
    }
    tables = {
        "hypernets_sequences": pa.table(seq_cols, schema=_schema("hypernets_sequences")),
        "hypernets_reflectance": pa.table(refl_cols, schema=_schema("hypernets_reflectance")),
    }
    return ReadResult(reader=READER, tables=tables, rejected=rejected)
