"""Reader for the Argo GDAC profile index files (core, synthetic and bio), with pyarrow.csv.

Files: ``ar_index_global_prof.txt[.gz]``, ``argo_synthetic-profile_index.txt[.gz]`` and
``argo_bio-profile_index.txt[.gz]``. Lines starting with ``#`` are comments; the header is
``file,date,latitude,longitude,ocean,profiler_type,institution,[parameters,parameter_data_mode,]
date_update``. Dates are ``YYYYMMDDHHMISS`` UTC.
"""

from __future__ import annotations

import gzip
import io
from collections.abc import Iterable
from datetime import datetime
from pathlib import Path
from typing import BinaryIO

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv

from tasks.errors import InvalidFile, SourceNotFound

INDEX_NAMES = ("ar_index_global_prof.txt", "argo_synthetic-profile_index.txt", "argo_bio-profile_index.txt")
_TIMESTAMP = pa.timestamp("us")
_TYPES = {
    "file": pa.string(),
    "date": _TIMESTAMP,
    "latitude": pa.float64(),
    "longitude": pa.float64(),
    "ocean": pa.string(),
    "profiler_type": pa.int32(),
    "institution": pa.string(),
    "parameters": pa.string(),
    "parameter_data_mode": pa.string(),
    "date_update": _TIMESTAMP,
}
_FILE_RE = r"(?P<prefix>[A-Z]*)(?P<platform_number>\d+)_(?P<cycle>\d+)(?P<descending>D?)\.nc$"


def can_open(path: str | Path) -> bool:
    """Tell whether ``path`` is one of the three GDAC profile index file names (optionally ``.gz``)."""
    name = Path(path).name.removesuffix(".gz")
    return name in INDEX_NAMES


def _read_bytes(source: str | Path | BinaryIO) -> bytes:
    if isinstance(source, (str, Path)):
        if not Path(source).exists():
            raise SourceNotFound(f"{source}: no such index file; check the path")
        data = Path(source).read_bytes()
    else:
        data = source.read()
    if data[:2] == b"\x1f\x8b":
        try:
            data = gzip.decompress(data)
        except (OSError, EOFError) as exc:
            raise InvalidFile(
                f"{source}: corrupt or truncated gzip index ({exc}); download it again"
            ) from exc
    return data


def _comment_lines(data: bytes) -> int:
    n, pos = 0, 0
    while data.startswith(b"#", pos):
        pos = data.find(b"\n", pos) + 1
        n += 1
        if pos == 0:
            break
    return n


def read_gdac_index(source: str | Path | BinaryIO) -> pa.Table:
    """Read a GDAC profile index into an Arrow table.

    Args:
        source: path (plain or gzip) or binary file object of an index file.

    Returns:
        Table with the index columns (``date``/``date_update`` as timestamp[us] UTC, latitude in
        degree_north, longitude in degree_east, ``profiler_type`` int32, ``parameters`` as
        list<string> when present, ``parameter_data_mode`` as the raw string such as ``"RRRD"``)
        plus ``platform_number`` (str), ``cycle_number`` (int32) and ``direction`` ("A"/"D")
        derived from the file name. Empty fields are nulls.

    Raises:
        InvalidFile: the content is not a GDAC profile index (no ``file,date,...`` header).

    """
    data = _read_bytes(source)
    skip = _comment_lines(data)
    lines = data.split(b"\n", skip + 1)
    header = lines[skip] if len(lines) > skip else b""
    if not header.startswith(b"file,date,"):
        raise InvalidFile(
            f"{source}: no 'file,date,...' header after {skip} comment lines; not a GDAC profile index"
        )
    names = header.decode("ascii").strip().split(",")
    table = pacsv.read_csv(
        io.BytesIO(data),
        read_options=pacsv.ReadOptions(skip_rows=skip),
        convert_options=pacsv.ConvertOptions(
            column_types={n: _TYPES[n] for n in names if n in _TYPES},
            timestamp_parsers=["%Y%m%d%H%M%S"],
            strings_can_be_null=True,
        ),
    )
    if "parameters" in names:
        i = table.schema.get_field_index("parameters")
        table = table.set_column(i, "parameters", pc.split_pattern(table["parameters"], " "))
    parts = pc.extract_regex(table["file"], _FILE_RE)
    platform = pc.struct_field(parts, "platform_number")
    cycle = pc.cast(pc.struct_field(parts, "cycle"), pa.int32())
    direction = pc.if_else(pc.equal(pc.struct_field(parts, "descending"), "D"), "D", "A")
    return (
        table.append_column("platform_number", platform)
        .append_column("cycle_number", cycle)
        .append_column("direction", direction)
    )


def _as_timestamp(value: datetime | np.datetime64 | str) -> pa.Scalar:
    return pa.scalar(np.datetime64(value, "us"), _TIMESTAMP)


def filter_index(
    table: pa.Table,
    wmo: int | str | Iterable[int | str] | None = None,
    start: datetime | np.datetime64 | str | None = None,
    end: datetime | np.datetime64 | str | None = None,
    bbox: tuple[float, float, float, float] | None = None,
) -> pa.Table:
    """Rows of an index table matching all the given criteria (argopy ``box`` convention).

    Args:
        table: a table from :func:`read_gdac_index`.
        wmo: one or several float WMO numbers.
        start: keep profiles with ``date >= start`` (UTC).
        end: keep profiles with ``date < end`` (UTC).
        bbox: ``(lon_min, lon_max, lat_min, lat_max)`` in degrees, bounds included;
            ``lon_min > lon_max`` selects a box crossing the antimeridian.

    Returns:
        The filtered table (rows with a null date or position are dropped by the matching filter).

    """
    mask = pa.array(np.ones(table.num_rows, dtype=bool))
    if wmo is not None:
        wmos = [wmo] if isinstance(wmo, (int, str)) else list(wmo)
        mask = pc.and_(mask, pc.is_in(table["platform_number"], pa.array([str(w) for w in wmos])))
    if start is not None:
        mask = pc.and_kleene(mask, pc.greater_equal(table["date"], _as_timestamp(start)))
    if end is not None:
        mask = pc.and_kleene(mask, pc.less(table["date"], _as_timestamp(end)))
    if bbox is not None:
        lon_min, lon_max, lat_min, lat_max = bbox
        lon, lat = table["longitude"], table["latitude"]
        east, west = pc.greater_equal(lon, lon_min), pc.less_equal(lon, lon_max)
        in_lon = pc.and_kleene(east, west) if lon_min <= lon_max else pc.or_kleene(east, west)
        in_lat = pc.and_kleene(pc.greater_equal(lat, lat_min), pc.less_equal(lat, lat_max))
        mask = pc.and_kleene(mask, pc.and_kleene(in_lon, in_lat))
    return table.filter(pc.fill_null(mask, False))
