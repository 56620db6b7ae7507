"""Collect a flow run's provenance from its result and the lake, and write its crate (the flows' one-call hook).

What each step records (see docs/provenance.md):

* in situ / satellite ingestion: the files ingested (``ingested_files`` rows of the run) and the
  files it quarantined, with their SHA-256; the DuckLake snapshot after the run; the content hash
  of the rows of its files in each table it writes; for satellite products the Icechunk snapshots
  of each cube before and after its commits and the product definition's hash;
* match-ups: the protocol's config hash, the DuckLake snapshot the observations and granules were
  read at and the Icechunk snapshot of each cube read, the snapshot after publishing and the
  content hash of the period's rows;
* the daily pipeline: those steps, the quality gate's snapshot, the statistics (JSON and CSV in
  the crate folder, and their content hash) and the report file.
"""

from __future__ import annotations

import csv
import hashlib
import inspect
import io
import json
import logging
import math
import platform
from collections.abc import Callable
from dataclasses import asdict
from datetime import UTC, date, datetime
from importlib import metadata
from typing import Any

import duckdb

import lake_schema
from tasks.config import Settings, load_settings
from tasks.matchup.engine import note_snapshot
from tasks.provenance.crate import METADATA, redact_catalog, write_crate
from tasks.provenance.hashing import file_sha256, lake_rows_sha256, records_sha256
from tasks.provenance.model import SOFTWARE, FileRef, Output, RunRecord, SnapshotRef, Step
from tasks.provenance.snapshots import commits_span, connect_at, cube_ancestry, snapshot_at
from tasks.readers.registry import INSITU_KINDS

log = logging.getLogger(__name__)

#: Whole files this run quarantined (not objects inside files, not files a retry ingested since).
_QUARANTINED = """
    SELECT object, any_value(source_checksum), string_agg(DISTINCT stage || ': ' || reason, '; ')
    FROM quarantine
    WHERE run_id = $run AND source_kind = $kind AND NOT contains(object, '#')
      AND object NOT IN (SELECT source_file FROM ingested_files WHERE run_id = $run AND source_kind = $kind)
    GROUP BY object ORDER BY object
"""
_OF_FILES = "source_checksum IN (SELECT unnest($checksums::VARCHAR[]))"


def software_versions() -> dict[str, str]:
    """Versions of Python and of the distributions in :data:`~tasks.provenance.model.SOFTWARE` that are installed."""
    out = {"python": platform.python_version()}
    for name in SOFTWARE:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    return out


def definition_hash(definition: Any) -> str:
    """SHA-256 (first 16 hex digits) of a definition dataclass (product), like a protocol's ``config_hash``."""
    text = json.dumps(asdict(definition), sort_keys=True, default=list)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def _time(value: Any) -> datetime | None:
    if value is None or isinstance(value, datetime):
        return value
    return datetime.fromisoformat(str(value))


# -- steps ------------------------------------------------------------------------------------------------


def ingest_step(settings: Settings, summary: dict[str, Any], satellite: bool) -> Step:
    """The step of one ingestion (an :class:`~tasks.ingest.IngestSummary` as a dict)."""
    kind, run_id, after = summary["kind"], summary["run_id"], summary.get("snapshot_id")
    step = Step(kind="ingest-satellite" if satellite else "ingest-insitu", label=f"ingest {kind}",
                parameters={"product" if satellite else "kind": kind, "run_id": run_id})
    if satellite:
        step.parameters["product_definition_hash"] = definition_hash(lake_schema.product(kind, settings.product_dirs))
    if after is None:  # no file for the day: nothing read, nothing written
        step.status = "skipped"
        return step
    step.snapshots.append(SnapshotRef("ducklake", "after", str(after)))
    con = connect_at(settings, int(after))
    try:
        params = {"run": run_id, "kind": kind}
        ingested = con.execute("SELECT source_file, source_checksum, size_bytes FROM ingested_files WHERE "
                               "run_id = $run AND source_kind = $kind ORDER BY source_file", params).fetchall()
        step.inputs = [FileRef(url, sha, size, "ingested") for url, sha, size in ingested]
        step.inputs += [FileRef(obj, sha, None, "quarantined", reason)
                        for obj, sha, reason in con.execute(_QUARANTINED, params).fetchall()]
        checksums = [sha for _, sha, _ in ingested]
        for table in lake_schema.provenance()["outputs"]["satellite" if satellite else kind]:
            digest, n = lake_rows_sha256(con, table, _OF_FILES, {"checksums": checksums})
            step.outputs.append(Output(table, digest, n, f"{table} rows of the {len(checksums)} files ingested by "
                                                         f"run {run_id}, at DuckLake snapshot {after}"))
        if satellite:
            step.snapshots += _cubes_written(con, settings, checksums)
    finally:
        con.close()
    return step


def _cubes_written(con: duckdb.DuckDBPyConnection, settings: Settings, checksums: list[str]) -> list[SnapshotRef]:
    """Icechunk snapshots of each cube before and after the commits of these files' granules."""
    out = []
    for cube, written in con.execute(f"SELECT cube, list(DISTINCT cube_snapshot_id) FROM granule_versions WHERE "
                                     f"{_OF_FILES} AND cube_snapshot_id IS NOT NULL GROUP BY cube ORDER BY cube",
                                     {"checksums": checksums}).fetchall():
        before, after = commits_span(cube_ancestry(settings, cube), set(written))
        out += [SnapshotRef("icechunk", role, snap, cube) for role, snap in (("before", before), ("after", after))
                if snap is not None]
    return out


def matchup_step(settings: Settings, summary: dict[str, Any]) -> Step:
    """The step of one match-up run (a :class:`~tasks.matchup.engine.MatchupSummary` as a dict).

    A step that kept the existing rows (daily pipeline, inputs unchanged) records the versions the
    rows were computed from (their ``insitu_snapshot_id`` and ``sat_snapshot_id``).
    """
    from tasks.matchup.engine import period_rows

    insitu, product, protocol = summary["insitu_source"], summary["product"], summary["protocol"]
    start, end = _time(summary.get("period_start")), _time(summary.get("period_end"))
    period = f" [{start or '...'}, {end or '...'})" if start or end else ""
    step = Step(kind="matchups", label=f"matchups {insitu} x {product} ({protocol}){period}",
                parameters={"insitu_source": insitu, "product": product, "protocol": protocol,
                            "protocol_hash": summary["protocol_hash"], "period_start": summary.get("period_start"),
                            "period_end": summary.get("period_end"), "run_id": summary["run_id"]},
                status="skipped" if summary.get("skipped") else "completed")
    after = int(summary["snapshot_id"])
    where, params = period_rows(insitu, product, protocol, start, end)
    con = connect_at(settings, after)
    try:
        digest, n = lake_rows_sha256(con, "matchups", where, params)
        read, cubes = summary.get("insitu_snapshot_id"), dict(summary.get("cube_snapshots") or {})
        if summary.get("skipped") or read is None:
            read, cubes = _versions_of_rows(con, where, params)
    finally:
        con.close()
    if read is not None:
        step.snapshots.append(SnapshotRef("ducklake", "read", str(read)))
    step.snapshots.append(SnapshotRef("ducklake", "after", str(after)))
    step.snapshots += [SnapshotRef("icechunk", "read", snap, cube) for cube, snap in sorted(cubes.items())]
    step.outputs.append(Output("matchups", digest, n, f"matchups rows of {insitu} x {product} ({protocol}), in "
                                                      f"situ time in{period or ' any period'}, at DuckLake snapshot "
                                                      f"{after}"))
    return step


def _versions_of_rows(con: duckdb.DuckDBPyConnection, where: str,
                      params: dict[str, Any]) -> tuple[int | None, dict[str, str]]:
    """(DuckLake snapshot, {cube or cube/group: Icechunk snapshot}) the rows were computed from."""
    read = con.execute(f"SELECT min(insitu_snapshot_id) FROM matchups WHERE {where}", params).fetchone()[0]
    rows = con.execute(f"SELECT g.cube, g.cube_group, m.sat_snapshot_id FROM (SELECT DISTINCT product, granule_id, "
                       f"sat_snapshot_id FROM matchups WHERE {where}) AS m JOIN granule_versions AS g "
                       "USING (product, granule_id) ORDER BY ALL", params).fetchall()
    cubes: dict[str, str] = {}
    for cube, group, snap in rows:
        note_snapshot(cubes, cube, group, snap)
    return (None if read is None else int(read)), cubes


def gate_step(gate: dict[str, Any], day: str) -> Step:
    """The quality gate of a day: the DuckLake snapshot it checked (and the statistics were computed on)."""
    step = Step(kind="quality-gate", label=f"quality gate {day}", parameters={"day": day})
    if gate.get("snapshot_id") is not None:
        step.snapshots.append(SnapshotRef("ducklake", "read", str(gate["snapshot_id"])))
    return step


def statistics_step(rows: list[dict[str, Any]], day: str, matchups: list[dict[str, Any]],
                    snapshot: int | None) -> tuple[Step, dict[str, bytes]]:
    """The statistics of a day and the files holding them (``statistics-DAY.json`` and ``.csv``)."""
    from tasks.pipeline import period

    start, end = period(date.fromisoformat(day))
    combos = ";".join(dict.fromkeys(f"{m['insitu_source']}/{m['product']}/{m['protocol']}" for m in matchups))
    step = Step(kind="statistics", label=f"statistics {day}",
                parameters={"day": day, "combinations": combos, "period_start": start.isoformat(),
                            "period_end": end.isoformat()})
    if snapshot is not None:
        step.snapshots.append(SnapshotRef("ducklake", "read", str(snapshot)))
    digest, n = records_sha256(rows)
    step.outputs.append(Output("statistics", digest, n, f"validation statistics of {day} (primary passed match-ups "
                                                        "per combination, variable and band)"))
    files = {f"statistics-{day}.json": json.dumps(_plain(rows), indent=1, default=str).encode(),
             f"statistics-{day}.csv": _csv(rows)}
    step.files = [FileRef(name, None, None, "output", "validation statistics") for name in files]
    return step, files


def _plain(value: Any) -> Any:
    """``value`` with non-finite floats as None (standard JSON)."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value


def _csv(rows: list[dict[str, Any]]) -> bytes:
    buffer = io.StringIO()
    columns = list(dict.fromkeys(k for row in rows for k in row))
    writer = csv.DictWriter(buffer, fieldnames=columns)
    writer.writeheader()
    writer.writerows(rows)
    return buffer.getvalue().encode()


def report_step(settings: Settings, report: str | None, day: str) -> Step:
    """The report of a day: its HTML file (with its SHA-256), or skipped when reports are off."""
    step = Step(kind="report", label=f"report {day}", parameters={"day": day})
    if not report:
        step.status = "skipped"
        return step
    digest, size = file_sha256(report, settings)
    step.files.append(FileRef(report, digest, size, "output", "validation report (self-contained HTML)"))
    return step


def day_steps(settings: Settings, summary: dict[str, Any]) -> tuple[list[Step], dict[str, bytes]]:
    """The steps of one day of the daily pipeline (a :class:`~tasks.pipeline.DaySummary` as a dict)."""
    day = summary["day"]
    steps = [ingest_step(settings, s, satellite=s["kind"] not in INSITU_KINDS) for s in summary["ingest"]]
    steps += [matchup_step(settings, m) for m in summary["matchups"]]
    steps.append(gate_step(summary.get("gate") or {}, day))
    stats, files = statistics_step(summary.get("statistics") or [], day, summary["matchups"],
                                   (summary.get("gate") or {}).get("snapshot_id"))
    steps += [stats, report_step(settings, summary.get("report"), day)]
    for step in steps:
        step.label = step.label if step.label.endswith(day) else f"{step.label} ({day})"
    return steps, files


# -- flows ------------------------------------------------------------------------------------------------

Collected = tuple[list[Step], dict[str, bytes], str]


def _ingest_insitu(settings: Settings, result: dict[str, Any]) -> Collected:
    return [ingest_step(settings, result, satellite=False)], {}, ""


def _ingest_satellite(settings: Settings, result: dict[str, Any]) -> Collected:
    return [ingest_step(settings, result, satellite=True)], {}, ""


def _matchup(settings: Settings, result: dict[str, Any]) -> Collected:
    return [matchup_step(settings, result)], {}, ""


def _daily(settings: Settings, result: dict[str, Any]) -> Collected:
    steps, files = day_steps(settings, result)
    return steps, files, f"daily pipeline of {result['day']}"


def _backfill(settings: Settings, result: dict[str, Any]) -> Collected:
    steps: list[Step] = []
    files: dict[str, bytes] = {}
    for day in result["days"]:
        if "failed" in day:
            continue
        day_steps_, day_files = day_steps(settings, day)
        steps += day_steps_
        files.update(day_files)
    failed = result.get("failed") or []
    note = f"; failed days (not recorded): {', '.join(failed)}" if failed else ""
    return steps, files, f"backfill {result['start']} to {result['end']}{note}"


#: Flow name -> how its result becomes steps, files for the crate folder and a description.
FLOWS: dict[str, Callable[[Settings, dict[str, Any]], Collected]] = {
    "ingest_insitu": _ingest_insitu, "ingest_satellite": _ingest_satellite, "matchup": _matchup,
    "daily": _daily, "backfill": _backfill,
}


def _parameters(parameters: dict[str, Any]) -> dict[str, Any]:
    out = {}
    for name, value in parameters.items():
        if isinstance(value, str) and name == "catalog":
            value = redact_catalog(value)
        out[name] = value if value is None or isinstance(value, str | int | float | bool) else \
            json.loads(json.dumps(value, default=str))
    return out


def collect(flow: str, run_id: str, start_time: datetime, parameters: dict[str, Any], result: dict[str, Any],
            settings: Settings, flow_source: str | None = None) -> RunRecord:
    """The provenance record of one flow run.

    Args:
        flow: flow name (``ingest_insitu``, ``ingest_satellite``, ``matchup``, ``daily``, ``backfill``).
        run_id: the flow run id.
        start_time: when the run started (timezone-aware).
        parameters: the flow's parameters.
        result: what the flow returns (its summary as a dict).
        settings: the lake settings of the run.
        flow_source: path of the flow's module.

    Raises:
        KeyError: for a flow without a provenance recipe in :data:`FLOWS`.
    """
    steps, files, description = FLOWS[flow](settings, result)
    end_time = datetime.now(UTC)
    con = connect_at(settings)
    try:
        before = snapshot_at(con, start_time)
        after = int(con.execute("SELECT id FROM lake.current_snapshot()").fetchone()[0])
    finally:
        con.close()
    snapshots = [SnapshotRef("ducklake", "after", str(after))]
    if before is not None:
        snapshots.insert(0, SnapshotRef("ducklake", "before", str(before)))
    failed = flow == "backfill" and bool(result.get("failed"))
    return RunRecord(flow=flow, run_id=run_id, start_time=start_time, end_time=end_time, lake=settings.lake,
                     catalog=settings.catalog, parameters=_parameters(parameters),
                     status="failed" if failed else "completed", software=software_versions(), steps=steps,
                     flow_source=flow_source, description=description, snapshots=snapshots, attachments=files)


def record_flow_run(result: dict[str, Any], *, lake: str | None = None, catalog: str | None = None) -> str | None:
    """Write the Workflow Run RO-Crate of the calling Prefect flow run; returns the crate folder.

    The flows call it once, at their end, with their result. It never raises: the run's data are
    committed already, so a crate that cannot be written is logged as a warning (and None returned).
    Outside a Prefect flow run (a flow's ``.fn`` called directly) nothing is written.

    Args:
        result: the flow's result (its summary as a dict).
        lake: the flow's lake argument (None: OCEANLAKE_LAKE or ./lake).
        catalog: the flow's catalog argument.
    """
    from prefect import get_run_logger
    from prefect.context import FlowRunContext

    context = FlowRunContext.get()
    if context is None or context.flow_run is None or context.flow is None:
        log.info("provenance: not in a Prefect flow run, no crate written")
        return None
    logger = get_run_logger()
    try:
        settings = load_settings(lake=lake, catalog=catalog)
        start = datetime.fromtimestamp(context.start_time.timestamp(), UTC)
        record = collect(context.flow.name, str(context.flow_run.id), start, dict(context.parameters or {}), result,
                         settings, flow_source=inspect.getsourcefile(context.flow.fn))
        location = write_crate(record, settings)
    except Exception as exc:  # noqa: BLE001 - the run's data are committed; a missing crate is reported, not fatal
        logger.warning("provenance: the run's RO-Crate could not be written: %s: %s", type(exc).__name__, exc)
        log.debug("provenance failure", exc_info=True)
        return None
    logger.info("provenance: %s/%s", location, METADATA)
    return location
