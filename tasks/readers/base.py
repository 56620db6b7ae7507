"""What every reader returns, and the lineage columns the ingest stage adds."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import pyarrow as pa

#: Columns the ingest stage fills (readers may omit them).
LINEAGE_COLUMNS = ("source_file", "source_checksum", "ingested_at", "run_id")


@dataclass
class ReadResult:
    """Rows read from one file, ready for the lake.

    Attributes:
        reader: reader family id, e.g. ``argo-profile``.
        tables: lake table name -> Arrow table whose columns are that table's columns in
            ``lake_schema/tables.yaml`` (lineage columns optional; extra columns are an error).
        rejected: objects of the file refused at read time, as ``(object, reason)`` where object
            is ``"<path>#<what>"`` (e.g. ``"x.nc#profile 3 (cycle 12 A)"``); they go to quarantine
            while the rest of the file is ingested.
    """

    reader: str
    tables: dict[str, pa.Table]
    rejected: list[tuple[str, str]] = field(default_factory=list)

    @property
    def n_rows(self) -> int:
        """Total number of rows over all tables."""
        return sum(t.num_rows for t in self.tables.values())


@dataclass
class Granule:
    """One satellite granule read into canonical form (``lake_schema/cubes.yaml`` conventions).

    Attributes:
        product: product id of its definition.
        granule_id: file or SAFE folder name without extension.
        granule_key: version-independent identity (from the definition's template).
        dataset: lazy ``xarray.Dataset`` with canonical variable names and units. Grid products:
            dims ``(time, lat, lon[, wavelength])`` with 1-D ``lat``/``lon`` (degrees, lat
            descending or ascending as in the file, lon in [-180, 180)). Swath products: dims
            ``(y, x[, wavelength])`` with 2-D ``latitude``/``longitude`` coordinates. Binned:
            dims ``(bin[, wavelength])`` with 1-D ``latitude``/``longitude`` of bin centres.
            Spectral variables have a ``wavelength`` coordinate in nm. A ``flags`` variable keeps
            the raw flags with CF ``flag_masks``/``flag_meanings`` attributes; optional angle
            variables ``solar_zenith_angle``/``viewing_zenith_angle`` (degree).
        time_start: sensing start, naive UTC.
        time_end: sensing end, naive UTC.
        processing_version: processing version / baseline, if known.
        footprint: footprint polygon, WKT lon/lat.
        bbox: ``(lon_min, lat_min, lon_max, lat_max)`` in degrees.
        name_fields: groups of the definition's ``name_regex`` (for templates).
        attrs: source metadata worth keeping (stored as cube attributes).
    """

    product: str
    granule_id: str
    granule_key: str
    dataset: Any
    time_start: datetime
    time_end: datetime
    processing_version: str | None
    footprint: str
    bbox: tuple[float, float, float, float]
    name_fields: dict[str, str] = field(default_factory=dict)
    attrs: dict[str, Any] = field(default_factory=dict)
