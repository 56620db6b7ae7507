"""Reader for Argo float meta-data files (``<wmo>_meta.nc``): one ``argo_floats`` row per file."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pyarrow as pa

from tasks.errors import InvalidFile
from tasks.readers.base import ReadResult
from tasks.readers.common import (
    char_scalar,
    chars_to_str,
    fill_to_nan,
    open_dataset,
    parse_argo_datetime,
    read_data_type,
    schema,
)

READER = "argo-meta"
DATA_TYPE = "Argo meta-data"
NAME_PATTERN = re.compile(r"^\d{5,9}_meta\.nc$")
REQUIRED = ("PLATFORM_NUMBER",)


def can_open(path: str | Path) -> bool:
    """Tell whether ``path`` is an Argo meta file (``<wmo>_meta.nc`` name or DATA_TYPE ``Argo meta-data``)."""
    return bool(NAME_PATTERN.match(Path(path).name)) or read_data_type(path) == DATA_TYPE


def _text(ds, name: str) -> str | None:
    return char_scalar(ds[name][:]) if name in ds.variables else None


def _names(ds, name: str) -> list[str]:
    if name not in ds.variables:
        return []
    return [s for s in chars_to_str(ds[name][:]).ravel() if s is not None]


def _number(ds, name: str) -> float | None:
    if name not in ds.variables:
        return None
    value = float(fill_to_nan(np.atleast_1d(ds[name][:]), getattr(ds[name], "_FillValue", None))[0])
    return None if np.isnan(value) else value


def open_argo_meta(path: str | Path) -> ReadResult:
    """Read an Argo meta-data file into one ``argo_floats`` row.

    Args:
        path: local path of ``<wmo>_meta.nc``.

    Returns:
        ``ReadResult(reader="argo-meta")`` with table ``argo_floats`` (platform_number,
        platform_type, data_centre, launch_date (UTC), launch_latitude (degree_north),
        launch_longitude (degree_east, wrapped to [-180, 180]), sensors, parameters).

    Raises:
        SourceNotFound: the file does not exist.
        InvalidFile: not NetCDF / truncated, or DATA_TYPE is not ``Argo meta-data``.
        MissingVariable: PLATFORM_NUMBER is missing.

    """
    path = str(path)
    ds = open_dataset(path, REQUIRED)
    try:
        data_type = _text(ds, "DATA_TYPE")
        if data_type not in (None, DATA_TYPE):
            raise InvalidFile(
                f"{path}: DATA_TYPE {data_type!r} is not {DATA_TYPE!r}; not an Argo meta-data file"
            )
        launch = parse_argo_datetime(_text(ds, "LAUNCH_DATE"))
        lon = _number(ds, "LAUNCH_LONGITUDE")
        row = {
            "platform_number": _text(ds, "PLATFORM_NUMBER"),
            "platform_type": _text(ds, "PLATFORM_TYPE"),
            "data_centre": _text(ds, "DATA_CENTRE"),
            "launch_date": None if np.isnat(launch) else launch,
            "launch_latitude": _number(ds, "LAUNCH_LATITUDE"),
            "launch_longitude": lon - 360 if lon is not None and lon > 180 else lon,
            "sensors": _names(ds, "SENSOR"),
            "parameters": _names(ds, "PARAMETER"),
        }
    except (OSError, RuntimeError, IndexError) as exc:
        raise InvalidFile(f"{path}: cannot read the data ({exc}); the file is corrupt or truncated") from exc
    finally:
        ds.close()
    if row["platform_number"] is None:
        raise InvalidFile(f"{path}: PLATFORM_NUMBER is empty; cannot identify the float")
    return ReadResult(
        reader=READER, tables={"argo_floats": pa.Table.from_pylist([row], schema=schema("argo_floats"))}
    )
