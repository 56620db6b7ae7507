"""In situ ingestion: discover → fetch → checksum → read → quality gate → one commit per chunk.

Never dies on one bad file: every rejected file or object goes to ``quarantine`` with a reason,
the rest is published. Files whose checksum is already in ``ingested_files`` are skipped, so
re-running a source ingests nothing twice.
"""

from __future__ import annotations

import ctypes
import gc
import logging
import uuid
from collections import defaultdict
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

import lake_schema
from tasks import quality
from tasks.config import Settings
from tasks.errors import OceanlakeError
from tasks.lake import Lake, conform, is_transient, utc_now
from tasks.readers.base import ReadResult
from tasks.readers.registry import open_file, source_kind
from tasks.sources import IndexFilter, discover, local_copy, sha256_file, size_bytes

log = logging.getLogger(__name__)

#: A chunk is flushed to the lake before it would exceed this many rows (bounds memory) or files.
CHUNK_ROWS = 400_000
CHUNK_FILES = 64


@dataclass
class IngestSummary:
    """Counts of one ingestion run (printed by the CLI, returned by the flow)."""

    run_id: str
    kind: str
    files_found: int = 0
    files_skipped: int = 0
    files_ingested: int = 0
    files_quarantined: int = 0
    objects_quarantined: int = 0
    rows_written: dict[str, int] = field(default_factory=dict)
    snapshot_id: int | None = None

    def as_dict(self) -> dict[str, Any]:
        """Plain dict (JSON-serialisable)."""
        return asdict(self)


@dataclass
class _ReadFile:
    url: str
    checksum: str
    size: int
    result: ReadResult


@dataclass
class _Chunk:
    files: list[_ReadFile] = field(default_factory=list)
    quarantine: list[dict[str, Any]] = field(default_factory=list)

    @property
    def n_rows(self) -> int:
        return sum(f.result.n_rows for f in self.files)


def ingest_insitu(
    kind: str,
    sources: list[str],
    settings: Settings,
    *,
    run_id: str | None = None,
    gdac: IndexFilter | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> IngestSummary:
    """Ingest in situ files of ``kind`` (``argo`` or ``hypernets``) from SOURCE arguments.

    Args:
        kind: in situ source kind id (see ``tasks.readers.registry.INSITU_KINDS``).
        sources: files, folders, globs, ``s3://`` prefixes or an Argo GDAC mirror URL.
        settings: lake settings.
        run_id: identifier stored with every row (a new UUID by default).
        gdac: index selection when a SOURCE is a GDAC mirror.
        progress: called as ``progress(files_done, files_total)`` after each file.

    Returns:
        The run summary. Raises only for problems of the whole run (lake unreachable, SOURCE
        matching nothing); per-file problems are quarantined and counted.
    """
    spec = source_kind(kind)
    summary = IngestSummary(run_id=run_id or uuid.uuid4().hex, kind=kind)
    urls = discover(sources, spec.patterns, settings, gdac)
    summary.files_found = len(urls)
    seen_this_run: set[str] = set()
    with Lake(settings) as lake:
        chunk = _Chunk()
        for done, url in enumerate(urls, start=1):
            read, entries = _read_one(lake, spec, url, settings, summary, seen_this_run)
            too_big = read is not None and chunk.n_rows + read.result.n_rows > CHUNK_ROWS
            if chunk.files and (too_big or len(chunk.files) >= CHUNK_FILES):
                _flush(lake, chunk, summary)  # flush BEFORE growing past the budget: memory stays flat
                chunk = _Chunk()
                release_memory()
            if read is not None:
                chunk.files.append(read)
            chunk.quarantine.extend(entries)
            if progress:
                progress(done, len(urls))
        _flush(lake, chunk, summary)
        summary.snapshot_id = lake.snapshot_id()
        _sanity_check(lake, summary)
    log.info("ingest %s: %s", kind, summary.as_dict())
    return summary


def decode_insitu(kind: str, urls: list[str], settings: Settings, *, run_id: str) -> dict[str, pa.Table]:
    """The rows ingesting ``urls`` (in this order) writes, without touching the lake.

    Used to reproduce a recorded run (``oceanlake reproduce``): the files are read, conformed and
    gated in the same chunks as :func:`ingest_insitu` forms when it ingests exactly these files,
    and rows that a later file of the list replaces (same natural key) are dropped as the upsert
    drops them.

    Args:
        kind: in situ source kind id.
        urls: the files (paths or URLs), in discovery (sorted) order.
        settings: lake settings (S3 credentials).
        run_id: the run id written in the rows.

    Returns:
        Table name -> rows (lake schema), as the run would have written them.

    Raises:
        OceanlakeError: (or the reader's error) when a file cannot be read.
    """
    spec = source_kind(kind)
    summary = IngestSummary(run_id=run_id, kind=kind)
    written: dict[str, pa.Table] = {}
    chunk = _Chunk()
    for url in urls:
        with local_copy(url, settings) as path:
            read = _ReadFile(url=url, checksum=sha256_file(path), size=size_bytes(path), result=open_file(spec, path))
        if chunk.files and (chunk.n_rows + read.result.n_rows > CHUNK_ROWS or len(chunk.files) >= CHUNK_FILES):
            _replace_rows(written, _gated_tables(chunk, summary, utc_now()))
            chunk = _Chunk()
        chunk.files.append(read)
    if chunk.files:
        _replace_rows(written, _gated_tables(chunk, summary, utc_now()))
    return written


def _replace_rows(written: dict[str, pa.Table], tables: dict[str, pa.Table]) -> None:
    """Add a chunk's tables to ``written``, dropping earlier rows with the same natural key (as :meth:`Lake.upsert`)."""
    for name, rows in tables.items():
        key = list(lake_schema.table(name).key)
        earlier = written.get(name)
        if earlier is not None and key and rows.num_rows:
            earlier = earlier.join(rows.select(key), keys=key, join_type="left anti").select(rows.column_names)
        written[name] = rows if earlier is None else pa.concat_tables([earlier, rows])


def quarantine_entry(obj: str, stage: str, reason: str, checksum: str | None, summary: IngestSummary) -> dict:
    """A quarantine row for a rejected file or object of this run."""
    return {"object": obj, "stage": stage, "reason": reason, "source_checksum": checksum,
            "source_kind": summary.kind, "run_id": summary.run_id}


def _read_one(lake: Lake, spec, url: str, settings: Settings, summary: IngestSummary,
              seen: set[str]) -> tuple[_ReadFile | None, list[dict[str, Any]]]:
    """Fetch, checksum and read one file: the file's rows (None if skipped or refused) and its quarantine rows."""
    checksum = None
    try:
        with local_copy(url, settings) as path:
            checksum = sha256_file(path)
            if checksum in seen or lake.known_checksums([checksum]):
                summary.files_skipped += 1
                return None, []
            seen.add(checksum)
            size = size_bytes(path)
            result = open_file(spec, path)
    except Exception as exc:  # noqa: BLE001 - any failure of one file must not stop the batch
        if is_transient(exc):  # the store or the catalog is unreachable: the file is fine, retry the run later
            raise
        stage = "read" if checksum else "fetch"
        reason = str(exc) if isinstance(exc, OceanlakeError) else f"{url}: {type(exc).__name__}: {exc}"
        log.warning("quarantined %s at %s: %s", url, stage, reason)
        summary.files_quarantined += 1
        return None, [quarantine_entry(url, stage, reason, checksum, summary)]
    entries = [quarantine_entry(obj, "read", reason, checksum, summary) for obj, reason in result.rejected]
    return _ReadFile(url=url, checksum=checksum, size=size, result=result), entries


def _gated_tables(chunk: _Chunk, summary: IngestSummary, now) -> dict[str, pa.Table]:
    """Conform, concatenate and gate the chunk's tables; rejections go to ``chunk.quarantine``."""
    by_table: dict[str, list[pa.Table]] = defaultdict(list)
    for f in chunk.files:
        for name, rows in f.result.tables.items():
            by_table[name].append(conform(name, rows, source_file=f.url, source_checksum=f.checksum,
                                          ingested_at=now, run_id=summary.run_id))
    url_of = {f.checksum: f.url for f in chunk.files}
    gated: dict[str, pa.Table] = {}
    rejected_keys: dict[tuple[str, ...], list[pa.Table]] = defaultdict(list)
    for name, parts in by_table.items():
        rows = pa.concat_tables(parts)
        key = lake_schema.table(name).key
        for earlier in rejected_keys.get(key, []):  # children of a rejected object go with it
            rows = rows.join(earlier, keys=list(key), join_type="left anti").select(rows.column_names)
        result = quality.gate(name, rows)
        for rej in result.rejected:
            checksum = rows.column("source_checksum")[rej["row"]].as_py()
            chunk.quarantine.append(quarantine_entry(f"{url_of[checksum]}#{rej['label']}", "validate",
                                                      rej["reason"], checksum, summary))
        if result.failed is not None and key:
            rejected_keys[key].append(result.failed.select(list(key)))
        gated[name] = result.passed
    return gated


def _file_rows(f: _ReadFile, tables: dict[str, pa.Table], chunk: _Chunk, summary: IngestSummary, now) -> dict:
    n_rows = sum(int(pc.sum(pc.equal(t.column("source_checksum"), f.checksum)).as_py() or 0) for t in tables.values())
    n_bad = sum(1 for q in chunk.quarantine if q["source_checksum"] == f.checksum)
    return {"source_file": f.url, "source_checksum": f.checksum, "size_bytes": f.size, "source_kind": summary.kind,
            "reader": f.result.reader, "n_rows": n_rows, "n_quarantined": n_bad, "ingested_at": now,
            "run_id": summary.run_id}


def _flush(lake: Lake, chunk: _Chunk, summary: IngestSummary) -> None:
    """Gate and commit one chunk atomically; isolate a failing file by committing file by file."""
    if not chunk.files and not chunk.quarantine:
        return
    now = utc_now()
    tables = _gated_tables(chunk, summary, now) if chunk.files else {}
    files = pa.Table.from_pylist([_file_rows(f, tables, chunk, summary, now) for f in chunk.files],
                                 schema=lake_schema.table("ingested_files").arrow_schema())

    def body(con) -> dict[str, int]:
        written = lake.upsert(con, tables)
        lake.upsert(con, {"ingested_files": files})
        lake.quarantine(chunk.quarantine, con=con)
        return written

    try:
        written = lake.transaction(body)
    except Exception as exc:  # noqa: BLE001 - isolate the culprit by committing file by file
        if is_transient(exc):  # the store is unreachable (retries exhausted): fail the run for a later retry
            raise
        if len(chunk.files) > 1:
            log.warning("chunk commit failed (%s); retrying file by file", exc)
            for f in chunk.files:
                own = [q for q in chunk.quarantine if q["source_checksum"] == f.checksum]
                _flush(lake, _Chunk(files=[f], quarantine=own), summary)
            ours = {f.checksum for f in chunk.files}
            commit_quarantine(lake, [q for q in chunk.quarantine if q["source_checksum"] not in ours], summary)
            return
        entries = list(chunk.quarantine)
        for f in chunk.files:
            summary.files_quarantined += 1
            entries.append(quarantine_entry(f.url, "write", f"{f.url}: could not be written to the lake: {exc}",
                                             f.checksum, summary))
        commit_quarantine(lake, entries, summary)
        return
    summary.files_ingested += len(chunk.files)
    summary.objects_quarantined += _n_objects(chunk.quarantine)
    for name, n in written.items():
        summary.rows_written[name] = summary.rows_written.get(name, 0) + n


def _n_objects(entries: list[dict[str, Any]]) -> int:
    """Quarantined objects inside files (``file#object``), as opposed to whole files."""
    return sum(1 for q in entries if "#" in q["object"])


def commit_quarantine(lake: Lake, entries: list[dict[str, Any]], summary: IngestSummary) -> None:
    """Record quarantine rows in their own commit and count the objects among them."""
    lake.quarantine(entries)
    summary.objects_quarantined += _n_objects(entries)


def release_memory() -> None:
    """Return the memory freed by a flushed chunk to the OS, so RSS stays flat over many chunks.

    Arrow, DuckDB and numpy free their buffers when a chunk is dropped (reference counting), but
    glibc keeps the pages in the heap; ``malloc_trim`` hands them back (no-op elsewhere). The
    quality gate's great-expectations objects form reference cycles that hold the chunk's
    dataframe: a collection frees them.
    """
    gc.collect()
    try:
        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):
        pass


def _sanity_check(lake: Lake, summary: IngestSummary) -> None:
    """Every file this run believes it ingested must be recorded in ``ingested_files``.

    Counted per run id and kind: a pipeline run ingests several kinds under one run id, and a
    retried run (same id) also finds the files its failed attempt had already committed.
    """
    recorded = lake.con.execute(
        "SELECT count(*) FROM ingested_files WHERE run_id = ? AND source_kind = ?",
        [summary.run_id, summary.kind]).fetchone()[0]
    if recorded < summary.files_ingested:
        raise OceanlakeError(f"run {summary.run_id}: {summary.files_ingested} files ingested but "
                             f"{recorded} recorded in ingested_files; the lake may be inconsistent")
