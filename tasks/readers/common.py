"""Decoding shared by the in situ readers: char arrays, Argo QC flags, fill values, JULD, CF flags.

Everything here is vectorised numpy (or pyarrow compute) so that readers never loop over levels.
Validity (e.g. a JULD in 1901) is judged by the quality gate, not here: decoding only turns fill
and unrepresentable values into missing values (``None`` / ``NaN`` / ``NaT``).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path

import netCDF4
import numpy as np
import pyarrow as pa

from lake_schema import table
from tasks.errors import InvalidFile, MissingVariable, SourceNotFound
from tasks.readers.base import LINEAGE_COLUMNS

#: Argo fill value of float variables (Argo user manual, section 2.2.4).
ARGO_FILL = 99999.0
#: Default Argo reference date of JULD (REFERENCE_DATE_TIME), YYYYMMDDHHMISS.
ARGO_REFERENCE = "19500101000000"
_NC_DEFAULT_FILL = 9.969209968386869e36
_MAX_ABS_DAYS = 1.0e7  # ~27 000 years: beyond this datetime64[us] arithmetic is not meaningful
_NC_MAGIC = (b"CDF\x01", b"CDF\x02", b"CDF\x05", b"\x89HDF")
_QC_DICTIONARY = pa.array([chr(i) for i in range(256)], pa.string())


def chars_to_str(chars: np.ndarray) -> np.ndarray:
    """Decode a NetCDF char array (``S1`` with a trailing STRINGn dimension) to strings.

    Args:
        chars: ``S1`` array whose last axis is the string length (e.g. ``(N_PROF, STRING8)``).

    Returns:
        Object array with the leading shape; each element a stripped ``str``, or ``None`` when
        the string is empty (all fill ``' '`` or NUL).

    """
    chars = np.ascontiguousarray(chars)
    if chars.dtype.kind != "S":
        raise TypeError(f"expected a char (S1) array, got {chars.dtype}")
    if chars.ndim == 0:
        chars = chars.reshape(1)
    fixed = chars.view(f"S{chars.shape[-1] * chars.dtype.itemsize}")[..., 0]
    text = np.char.strip(np.char.decode(fixed, "latin-1"))
    out = text.astype(object)
    out[text == ""] = None
    return out


def char_scalar(chars: np.ndarray) -> str | None:
    """Decode a 1-D char array (e.g. ``DATA_TYPE``) to one stripped string, ``None`` when empty."""
    return chars_to_str(np.asarray(chars).reshape(1, -1))[0]


def qc_to_str(flags: np.ndarray) -> np.ndarray:
    """Decode Argo QC flags (``S1`` characters "0".."9") to an object array of ``str``/``None``.

    Args:
        flags: ``S1`` array of any shape; ``' '`` (the fill value) and NUL decode to ``None``.

    """
    codes = np.ascontiguousarray(flags, dtype="S1").view(np.uint8)
    table = np.array([chr(i) for i in range(256)], dtype=object)
    table[[0, 32]] = None
    return table[codes]


def qc_to_arrow(flags: np.ndarray) -> pa.StringArray:
    """Decode QC flags like :func:`qc_to_str` but straight to a 1-D Arrow string array."""
    codes = np.ascontiguousarray(flags, dtype="S1").view(np.uint8).ravel()
    indices = pa.array(codes.astype(np.int32), mask=(codes == 32) | (codes == 0))
    return pa.DictionaryArray.from_arrays(indices, _QC_DICTIONARY).cast(pa.string())


def fill_mask(values: np.ndarray, fill_value: float | None = None) -> np.ndarray:
    """Boolean mask of missing values: ``_FillValue``, Argo 99999., NetCDF default fill or NaN.

    The comparison is done in the variable's own dtype so float32 fills match exactly.
    """
    values = np.asarray(values)
    mask = values == values.dtype.type(ARGO_FILL) if values.dtype.kind == "f" else values == ARGO_FILL
    if fill_value is not None:
        mask |= values == values.dtype.type(fill_value)
    if values.dtype.kind == "f":
        mask |= ~np.isfinite(values)
        if values.dtype.itemsize == 8:
            mask |= values == _NC_DEFAULT_FILL
    return mask


def fill_to_nan(values: np.ndarray, fill_value: float | None = None) -> np.ndarray:
    """Float64 copy of ``values`` with fill values (see :func:`fill_mask`) replaced by NaN."""
    out = float32_to_float64(values)
    out[fill_mask(values, fill_value)] = np.nan
    return out


def float32_to_float64(values: np.ndarray) -> np.ndarray:
    """Widen float32 to the float64 nearest to its shortest decimal form (``-0.08``, not ``-0.0799999982``).

    Vectorised: each value is rounded to 7, then 8, then 9 significant digits, keeping the first
    rounding that maps back to the same float32, so ``result.astype(float32) == values`` always.
    Other dtypes are just cast to float64.
    """
    values = np.asarray(values)
    if values.dtype != np.float32:
        return values.astype(np.float64)
    wide = values.astype(np.float64)
    out = wide.copy()
    todo = np.isfinite(wide) & (wide != 0)
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        magnitude = np.floor(np.log10(np.abs(np.where(todo, wide, 1.0))))
        for digits in (9, 8, 7):  # the last successful (shortest) rounding wins
            scale = 10.0 ** (digits - 1 - magnitude)
            rounded = np.round(wide * scale) / scale
            ok = todo & (rounded.astype(np.float32) == values)
            out[ok] = rounded[ok]
    return out


def parse_argo_datetime(text: str | None) -> np.datetime64:
    """Parse an Argo ``YYYYMMDDHHMISS`` string (e.g. LAUNCH_DATE) to ``datetime64[us]``; NaT if invalid."""
    if not text or not re.fullmatch(r"\d{14}", text.strip()):
        return np.datetime64("NaT", "us")
    t = text.strip()
    try:
        return np.datetime64(f"{t[:4]}-{t[4:6]}-{t[6:8]}T{t[8:10]}:{t[10:12]}:{t[12:14]}", "us")
    except ValueError:
        return np.datetime64("NaT", "us")


def decode_juld(
    juld: np.ndarray, reference: str | None = ARGO_REFERENCE, fill_value: float | None = 999999.0
) -> np.ndarray:
    """Decode Argo JULD (decimal days since REFERENCE_DATE_TIME, UTC) to ``datetime64[us]``.

    Times are rounded to the millisecond: a float64 day count near 25 000 days carries ~10 us of
    representation noise (``12:21:39.99998`` is really ``12:21:40``).

    Args:
        juld: day counts (any shape, float).
        reference: REFERENCE_DATE_TIME as ``YYYYMMDDHHMISS``; blank/invalid means 1950-01-01.
        fill_value: the variable's ``_FillValue`` (Argo: 999999.).

    Returns:
        ``datetime64[us]`` array of the same shape; NaT for fill, NaN and values too far from the
        reference to be represented. No plausibility check is done here.

    """
    days = np.asarray(juld, dtype=np.float64)
    ref = parse_argo_datetime(reference)
    if np.isnat(ref):
        ref = parse_argo_datetime(ARGO_REFERENCE)
    bad = ~np.isfinite(days) | (np.abs(days) >= _MAX_ABS_DAYS)
    if fill_value is not None:
        bad |= days == fill_value
    ms = np.rint(np.where(bad, 0.0, days) * 86_400_000.0).astype(np.int64)
    out = ref + (ms * 1000).astype("timedelta64[us]")
    out[bad] = np.datetime64("NaT", "us")
    return out


def _parse_masks(flag_masks: Sequence[int] | np.ndarray | str) -> np.ndarray:
    if isinstance(flag_masks, bytes):
        flag_masks = flag_masks.decode("ascii")
    if isinstance(flag_masks, str):
        parts = [p for p in re.split(r"[,\s]+", flag_masks.strip()) if p]
        return np.array([int(float(p)) for p in parts], dtype=np.int64)
    return np.atleast_1d(np.asarray(flag_masks)).astype(np.int64)


def decode_cf_flags(
    value_array: np.ndarray | Sequence[int] | int,
    flag_masks: Sequence[int] | np.ndarray | str,
    flag_meanings: str | Sequence[str],
) -> list[list[str]]:
    """Decode CF bit-mask flags to the names of the bits that are set.

    Args:
        value_array: flag values (any shape; flattened in C order). Negative/fill values and NaN
            decode to an empty list.
        flag_masks: the ``flag_masks`` attribute - an integer array, or a comma and/or space
            separated string such as ``"1, 2, 4, 8"``.
        flag_meanings: the ``flag_meanings`` attribute (space separated names) or a list of names.

    Returns:
        One list of set flag names per value, in ``flag_masks`` order.

    Raises:
        ValueError: if the number of masks and meanings differ.

    """
    masks = _parse_masks(flag_masks)
    meanings = flag_meanings.split() if isinstance(flag_meanings, str) else list(flag_meanings)
    if len(masks) != len(meanings):
        raise ValueError(
            f"CF flags: {len(masks)} flag_masks but {len(meanings)} flag_meanings; fix the attributes"
        )
    raw = np.atleast_1d(np.asarray(value_array)).ravel()
    valid = np.isfinite(raw) if raw.dtype.kind == "f" else np.ones(raw.shape, bool)
    values = np.where(valid, raw, 0).astype(np.int64)
    valid &= values >= 0
    bits = (values[:, None] & masks[None, :]) == masks[None, :]
    bits &= valid[:, None] & (masks[None, :] != 0)
    names = np.array(meanings, dtype=object)
    return [list(names[row]) for row in bits]


def schema(name: str) -> pa.Schema:
    """Return the Arrow schema of lake table ``name`` without the lineage columns the ingest stage adds."""
    full = table(name).arrow_schema()
    return pa.schema([f for f in full if f.name not in LINEAGE_COLUMNS])


def has_netcdf_magic(path: str | Path) -> bool:
    """True when the file starts with a NetCDF-3 (``CDF``) or NetCDF-4/HDF5 signature."""
    try:
        with open(path, "rb") as fh:
            return fh.read(4) in _NC_MAGIC
    except OSError:
        return False


def read_data_type(path: str | Path) -> str | None:
    """Return the DATA_TYPE of a NetCDF file (stripped), or ``None`` if it is not NetCDF or has none."""
    if not has_netcdf_magic(path):
        return None
    try:
        with netCDF4.Dataset(path) as ds:
            ds.set_auto_mask(False)
            return char_scalar(ds["DATA_TYPE"][:]) if "DATA_TYPE" in ds.variables else None
    except (OSError, RuntimeError, TypeError):
        return None


def open_dataset(path: str | Path, required: tuple[str, ...]) -> netCDF4.Dataset:
    """Open a NetCDF file with auto-masking off; raise oceanlake errors naming the file."""
    if not Path(path).exists():
        raise SourceNotFound(f"{path}: no such file; check the path")
    try:
        ds = netCDF4.Dataset(path)
    except (OSError, RuntimeError) as exc:
        raise InvalidFile(
            f"{path}: not a readable NetCDF file ({exc}); the file is corrupt or truncated"
        ) from exc
    ds.set_auto_mask(False)
    missing = [v for v in required if v not in ds.variables]
    if missing:
        ds.close()
        raise MissingVariable(
            f"{path}: required variable(s) {', '.join(missing)} missing; not a valid Argo file"
        )
    return ds


def dict_strings(indices: np.ndarray, values: list) -> pa.Array:
    """Arrow strings ``values[indices]`` built in C++ (dictionary decode), for repeated labels."""
    return pa.DictionaryArray.from_arrays(pa.array(indices, pa.int32()), pa.array(values, pa.string())).cast(
        pa.string()
    )


def nullable_float64(values: np.ndarray) -> pa.Array:
    """Float64 Arrow array (float32 widened by :func:`float32_to_float64`), NaN -> null."""
    return pa.array(float32_to_float64(values), pa.float64(), mask=np.isnan(values))
