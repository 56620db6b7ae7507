"""Re-run a recorded run from its crate against the recorded lake snapshots, and compare the outputs.

Nothing is written to the lake. First every precondition is checked, and the reproduction is
refused (:class:`ReproductionRefused`, naming each problem) when an input file is gone or its
SHA-256 changed, a product or protocol definition changed, or a recorded DuckLake or Icechunk
snapshot no longer exists (expired). Then each step is recomputed:

* ingestion: the recorded files are decoded again with the same reader / product definition and
  gated; the content hash of the rows that would be written is compared with the recorded one,
  and the rows in the lake at the recorded snapshot are hashed again too;
* match-ups: the engine reads the observations and granules at the recorded DuckLake snapshot and
  each cube at its recorded Icechunk snapshot, into memory;
* statistics: recomputed on the lake at the recorded snapshot;
* the report is not re-run (its HTML records when it was generated).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

import lake_schema
from tasks.config import Settings, load_settings
from tasks.errors import OceanlakeError
from tasks.provenance.crate import parse_crate, read_document
from tasks.provenance.hashing import file_sha256, lake_rows_sha256, records_sha256, table_sha256
from tasks.provenance.model import RunRecord, Step
from tasks.provenance.record import definition_hash
from tasks.provenance.snapshots import connect_at, cube_ancestry, ducklake_snapshots

IDENTICAL, DIFFERENT, NOT_RUN = "identical", "different", "not re-run"


class ReproductionRefused(OceanlakeError, ValueError):
    """Raised when a recorded run cannot be reproduced: an input changed or is gone, or a lake snapshot expired."""


@dataclass(frozen=True)
class Comparison:
    """One output of one step: recorded and reproduced content hashes, and the verdict."""

    step: str
    output: str
    recorded: str | None
    reproduced: str | None
    rows: int | None = None
    status: str = IDENTICAL  # identical | different | not re-run
    note: str = ""


def load_record(location: str, settings: Settings | None = None) -> RunRecord:
    """The run recorded in the crate at ``location`` (folder or ``ro-crate-metadata.json``, local or ``s3://``)."""
    return parse_crate(read_document(location, settings or load_settings()))


def settings_for(record: RunRecord, lake: str | None = None, catalog: str | None = None) -> Settings:
    """Settings of the recorded lake (``lake``/``catalog`` override the recorded ones, e.g. a moved lake)."""
    recorded_catalog = record.catalog if record.catalog and "***" not in record.catalog else None
    return load_settings(lake=lake or record.lake or None, catalog=catalog or (None if lake else recorded_catalog))


# -- checks -----------------------------------------------------------------------------------------------


def _input_problems(record: RunRecord, settings: Settings) -> list[str]:
    problems, seen = [], set()
    for step in record.steps:
        for ref in step.inputs:
            if ref.sha256 is None or ref.url in seen:
                continue
            seen.add(ref.url)
            try:
                actual, _ = file_sha256(ref.url, settings)
            except (FileNotFoundError, OSError) as exc:
                problems.append(f"input {ref.url} is gone ({type(exc).__name__}); expected sha256 {ref.sha256}")
                continue
            if actual != ref.sha256:
                problems.append(f"input {ref.url} changed: expected sha256 {ref.sha256}, actual {actual}")
    return problems


def _definition_problems(record: RunRecord, settings: Settings) -> list[str]:
    problems = []
    for step in record.steps:
        recorded = step.parameters.get("protocol_hash")
        if step.kind == "matchups" and recorded:
            current = lake_schema.protocol(str(step.parameters["protocol"]), settings.protocol_dirs).config_hash
            if current != recorded:
                problems.append(f"protocol {step.parameters['protocol']} changed: recorded config hash {recorded}, "
                                f"now {current}")
        recorded = step.parameters.get("product_definition_hash")
        if step.kind == "ingest-satellite" and recorded:
            current = definition_hash(lake_schema.product(str(step.parameters["product"]), settings.product_dirs))
            if current != recorded:
                problems.append(f"product definition {step.parameters['product']} changed: recorded hash "
                                f"{recorded}, now {current}")
    return problems


def _snapshot_problems(record: RunRecord, settings: Settings) -> list[str]:
    problems = []
    existing = ducklake_snapshots(settings)
    ancestry: dict[str, set[str]] = {}
    for step in record.steps:
        for snap in step.snapshots:
            if snap.system == "ducklake" and int(snap.value) not in existing:
                problems.append(f"DuckLake snapshot {snap.value} ({snap.role} by step '{step.label}') no longer "
                                f"exists (expired); the lake holds snapshots {_span(existing)}")
            elif snap.system == "icechunk" and snap.role in ("read", "after"):
                cube = str(snap.cube).split("/", 1)[0]
                if cube not in ancestry:
                    ancestry[cube] = set(cube_ancestry(settings, cube))
                if snap.value not in ancestry[cube]:
                    problems.append(f"Icechunk snapshot {snap.value} of cube {cube} ({snap.role} by step "
                                    f"'{step.label}') is not in the cube's history any more (expired or gone)")
    return problems


def _span(ids: set[int]) -> str:
    return f"{min(ids)}..{max(ids)}" if ids else "none"


def check(record: RunRecord, settings: Settings) -> None:
    """Refuse the reproduction when an input, a definition or a lake snapshot is not as recorded.

    Raises:
        ReproductionRefused: listing every problem (each file with its expected and actual SHA-256,
            each missing snapshot with the step that needs it).
    """
    problems = _input_problems(record, settings) + _definition_problems(record, settings) + \
        _snapshot_problems(record, settings)
    if problems:
        raise ReproductionRefused(f"cannot reproduce {record.flow} run {record.run_id}: {len(problems)} problem(s):\n"
                                  + "\n".join(f"  - {p}" for p in problems))


# -- steps ------------------------------------------------------------------------------------------------


def _ingested(step: Step) -> list[str]:
    return sorted(f.url for f in step.inputs if f.role == "ingested")


def _compare(step: Step, name: str, recorded: str, reproduced: str, rows: int, note: str = "") -> Comparison:
    return Comparison(step.label, name, recorded, reproduced, rows, IDENTICAL if recorded == reproduced else DIFFERENT,
                      note)


def _lake_check(step: Step, settings: Settings, tables: list[str]) -> list[Comparison]:
    """The rows of the step's files in the lake at its recorded snapshot, hashed again."""
    checksums = [f.sha256 for f in step.inputs if f.role == "ingested"]
    after = step.snapshot("ducklake", "after")
    out = []
    con = connect_at(settings, int(after))
    try:
        for output in step.outputs:
            if output.name in tables:
                digest, n = lake_rows_sha256(con, output.name, "source_checksum IN (SELECT unnest($c::VARCHAR[]))",
                                             {"c": checksums})
                out.append(_compare(step, f"{output.name} (lake at snapshot {after})", output.sha256, digest, n))
    finally:
        con.close()
    return out


def _ingest_insitu(step: Step, settings: Settings) -> list[Comparison]:
    from tasks.ingest import decode_insitu

    tables = decode_insitu(str(step.parameters["kind"]), _ingested(step), settings,
                           run_id=str(step.parameters.get("run_id") or "reproduce"))
    out = [_compare(step, o.name, o.sha256, *table_sha256(o.name, tables.get(o.name))) for o in step.outputs]
    return out + _lake_check(step, settings, [o.name for o in step.outputs])


def _ingest_satellite(step: Step, settings: Settings) -> list[Comparison]:
    from tasks.ingest_satellite import decode_granules

    rows = decode_granules(str(step.parameters["product"]), _ingested(step), settings,
                           run_id=str(step.parameters.get("run_id") or "reproduce"))
    out = [_compare(step, o.name, o.sha256, *table_sha256(o.name, rows)) for o in step.outputs]
    return out + _lake_check(step, settings, [o.name for o in step.outputs])


def _matchups(step: Step, settings: Settings) -> list[Comparison]:
    from tasks.matchup.engine import compute_matchups

    read = step.snapshot("ducklake", "read")
    p = step.parameters
    con = connect_at(settings, int(read))
    try:
        _, table = compute_matchups(str(p["insitu_source"]), str(p["product"]), str(p["protocol"]), settings, con,
                                    snapshot_id=int(read), cube_snapshots=step.cube_snapshots("read"),
                                    start=_time(p.get("period_start")), end=_time(p.get("period_end")),
                                    run_id=str(p.get("run_id") or "reproduce"))
    finally:
        con.close()
    return [_compare(step, o.name, o.sha256, *table_sha256("matchups", table)) for o in step.outputs]


def _statistics(step: Step, settings: Settings) -> list[Comparison]:
    from tasks.validation.stats import lake_stats

    read = step.snapshot("ducklake", "read")
    p = step.parameters
    rows: list[dict[str, Any]] = []
    con = connect_at(settings, int(read) if read is not None else None)
    try:
        for combo in filter(None, str(p.get("combinations") or "").split(";")):
            insitu, product, protocol = combo.split("/")
            table = lake_stats(settings, {"insitu": insitu, "product": product, "protocol": protocol,
                                          "start": _time(p["period_start"]), "end": _time(p["period_end"])}, con=con)
            rows += [{"insitu_source": insitu, **row} for row in table.to_pylist()]
    finally:
        con.close()
    return [_compare(step, o.name, o.sha256, *records_sha256(rows), note="floats to 12 significant digits")
            for o in step.outputs]


def _time(value: Any) -> datetime | None:
    return None if value in (None, "") else datetime.fromisoformat(str(value))


_REPRODUCERS = {"ingest-insitu": _ingest_insitu, "ingest-satellite": _ingest_satellite, "matchups": _matchups,
                "statistics": _statistics}


def reproduce_step(step: Step, settings: Settings) -> list[Comparison]:
    """Recompute one step's outputs (nothing written); steps without comparable outputs are reported as not re-run."""
    if step.kind == "report" and step.files:
        return [Comparison(step.label, f.url, f.sha256, None, None, NOT_RUN,
                           "the report HTML records when it was generated; its statistics are compared")
                for f in step.files]
    if step.kind not in _REPRODUCERS or not step.outputs:
        return []
    return _REPRODUCERS[step.kind](step, settings)


def reproduce(record: RunRecord, settings: Settings) -> list[Comparison]:
    """Check the preconditions, then recompute every step of ``record``.

    Raises:
        ReproductionRefused: when an input or a snapshot is not as recorded (see :func:`check`).
    """
    check(record, settings)
    out: list[Comparison] = []
    for step in record.steps:
        out += reproduce_step(step, settings)
    return out


def reproduce_crate(location: str, lake: str | None = None,
                    catalog: str | None = None) -> tuple[RunRecord, list[Comparison]]:
    """Read the crate at ``location`` and reproduce its run (see :func:`reproduce`)."""
    record = load_record(location, load_settings(lake=lake, catalog=catalog) if lake else None)
    settings = settings_for(record, lake, catalog)
    return replace(record, lake=settings.lake), reproduce(record, settings)
