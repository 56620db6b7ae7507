"""What a run's provenance records: steps with their parameters, input files, lake snapshots and outputs.

:mod:`tasks.provenance.record` fills these from a flow's result and the lake; :mod:`tasks.provenance.crate`
writes them as a Workflow Run RO-Crate and reads them back; :mod:`tasks.provenance.reproduce` re-runs them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

#: Step kinds and the library function each one runs (the step's tool in the crate).
TOOLS: dict[str, str] = {
    "ingest-insitu": "tasks.ingest.ingest_insitu",
    "ingest-satellite": "tasks.ingest_satellite.ingest_satellite",
    "matchups": "tasks.matchup.engine.run_matchups",
    "quality-gate": "tasks.pipeline.check_day",
    "statistics": "tasks.validation.stats.lake_stats",
    "report": "tasks.validation.report.write_report",
}

#: Python distributions whose versions are recorded (the software a run depends on).
SOFTWARE = ("oceanlake", "prefect", "duckdb", "duckdb-extension-ducklake", "icechunk", "zarr", "xarray", "pyarrow",
            "numpy", "pandas", "great-expectations", "netCDF4", "h5netcdf", "fsspec", "s3fs", "rocrate")

Scalar = str | int | float | bool | None


@dataclass(frozen=True)
class FileRef:
    """A file (or product folder) read or written.

    Attributes:
        url: location as the lake records it (absolute path or ``s3://``/``https://`` URL), or a
            name relative to the crate folder for files written into the crate.
        sha256: SHA-256 of the bytes (of the file names and checksums for a folder); None when unknown.
        size: bytes; None when unknown.
        role: ``ingested`` (its rows are in the lake), ``quarantined`` (refused, with the reason in
            ``description``) or ``output``.
        description: what it is (e.g. why it was quarantined).
    """

    url: str
    sha256: str | None
    size: int | None = None
    role: str = "ingested"
    description: str | None = None


@dataclass(frozen=True)
class SnapshotRef:
    """A lake version read or written: a DuckLake snapshot, or an Icechunk snapshot of one cube.

    Attributes:
        system: ``ducklake`` or ``icechunk``.
        role: ``read`` (the version the step computed from), ``before`` or ``after`` (around its writes).
        value: the snapshot id (DuckLake: an integer as text; Icechunk: the 20-character id).
        cube: the cube (Icechunk), optionally ``cube/group`` when a group was read at another snapshot.
    """

    system: str
    role: str
    value: str
    cube: str | None = None


@dataclass(frozen=True)
class Output:
    """Rows a step wrote (or results it computed), identified by their content hash.

    Attributes:
        name: the lake table (``matchups``, ``argo_profiles``...) or ``statistics``.
        sha256: content hash (:mod:`tasks.provenance.hashing`).
        rows: number of rows.
        description: which rows (table, filter, snapshot).
    """

    name: str
    sha256: str
    rows: int
    description: str = ""


@dataclass
class Step:
    """One step of a run (one Prefect task): its tool, parameters, inputs, lake versions and outputs."""

    kind: str
    label: str
    parameters: dict[str, Scalar] = field(default_factory=dict)
    status: str = "completed"  # completed | skipped (nothing to do / inputs unchanged) | failed
    inputs: list[FileRef] = field(default_factory=list)
    snapshots: list[SnapshotRef] = field(default_factory=list)
    outputs: list[Output] = field(default_factory=list)
    files: list[FileRef] = field(default_factory=list)  # files written (statistics, report)

    def snapshot(self, system: str, role: str, cube: str | None = None) -> str | None:
        """The id of the snapshot of ``system`` (and ``cube``) with ``role``; None when not recorded."""
        return next((s.value for s in self.snapshots if (s.system, s.role, s.cube) == (system, role, cube)), None)

    def cube_snapshots(self, role: str = "read") -> dict[str, str]:
        """Cube (or ``cube/group``) -> Icechunk snapshot id, for ``role``."""
        return {s.cube: s.value for s in self.snapshots if s.system == "icechunk" and s.role == role and s.cube}


@dataclass
class RunRecord:
    """One flow run: what ran, when, on which lake, with which software, and its steps."""

    flow: str
    run_id: str
    start_time: datetime
    end_time: datetime
    lake: str
    catalog: str
    parameters: dict[str, Any] = field(default_factory=dict)
    status: str = "completed"  # completed | failed
    snapshots: list[SnapshotRef] = field(default_factory=list)  # DuckLake before/after the run
    software: dict[str, str] = field(default_factory=dict)
    steps: list[Step] = field(default_factory=list)
    flow_source: str | None = None  # path of the flow's Python module (copied into the crate)
    description: str = ""
    attachments: dict[str, bytes] = field(default_factory=dict)  # crate-relative name -> content
