"""What every reader returns, and the lineage columns the ingest stage adds."""

from __future__ import annotations

from dataclasses import dataclass, field

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
