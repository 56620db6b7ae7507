"""The daily pipeline as plain functions: a day's files -> ingest -> match-ups -> quality gate -> statistics -> report.

What to ingest and which (in situ source x product x protocol) to match come from a pipeline
configuration file (:func:`load_pipeline_config`; documented example
``deployments/pipeline.example.yaml``). SOURCE templates name a day's files with ``{date:...}``
placeholders (``str.format`` with the run day as a :class:`datetime.date`), so one file serves
every day.

Every step calls the existing task functions (:func:`tasks.ingest.ingest_insitu`,
:func:`tasks.ingest_satellite.ingest_satellite`, :func:`tasks.matchup.engine.run_matchups`,
:func:`tasks.validation.stats.lake_stats`, :func:`tasks.validation.report.write_report`);
:func:`run_day` chains them without Prefect (the flows in ``flows/daily.py`` run the same step
functions as Prefect tasks). A day is idempotent:

* files whose checksum is in ``ingested_files`` are skipped, so re-ingesting reads nothing twice;
* the match-ups of a (source, product, protocol, day) are recomputed only when an input table
  changed since they were computed (DuckLake change feed) or the protocol changed; otherwise the
  existing rows stand, so a re-run makes no new lake snapshot;
* the report folder of the day is rewritten.

Two runs of the same step on the same machine (two runs of one day, or overlapping backfills)
take an advisory file lock per step, so the second one waits and then finds the work done.
Transient failures (object store unreachable, catalog locked) raise :class:`TransientError` for
the orchestrator to retry; files quarantined because of a transient failure make the step fail
too, and their quarantine rows are removed once a retry has ingested them.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import logging
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Iterator
from dataclasses import asdict, dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import yaml

import lake_schema
from tasks import remote
from tasks.config import Settings
from tasks.errors import ConfigError, QualityGateFailed, SourceNotFound, TransientError
from tasks.ingest import IngestSummary
from tasks.lake import Lake, looks_transient
from tasks.readers.registry import source_kind
from tasks.sources import IndexFilter, discover

log = logging.getLogger(__name__)

#: ``progress(label, done, total)``, the signature of :func:`tasks.progress.report`.
Progress = Callable[[str, int, int], None]

#: Default report folder of a day (``{lake}`` is the lake root).
DEFAULT_REPORT_FOLDER = "{lake}/reports/{date:%Y-%m-%d}"
#: A step waiting for another run holding its lock gives up after this long (seconds).
LOCK_TIMEOUT_S = 4 * 3600.0
#: Tables whose changes do not invalidate match-ups (outputs and bookkeeping).
_NOT_MATCHUP_INPUTS = {"matchups", "quarantine", "ingested_files"}
#: Tables whose natural key is unique per row and that carry ``run_id``: checked for duplicates.
_UNIQUE_KEY_TABLES = ("argo_profiles", "argo_floats", "hypernets_sequences", "ingested_files", "granule_versions")
_CONFIG_KEYS = {"insitu", "satellite", "matchups", "report", "missing_sources"}


# -- configuration ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class InsituConfig:
    """The SOURCE templates of one in situ kind, and the GDAC selection used for mirror URLs."""

    kind: str
    sources: tuple[str, ...]
    gdac_index: str = "synthetic"
    wmo: tuple[str, ...] = ()
    bbox: tuple[float, float, float, float] | None = None  # lon_min, lat_min, lon_max, lat_max
    lookback_days: int = 0  # GDAC mirrors: also profiles dated up to this many days before the run day


@dataclass(frozen=True)
class SatelliteConfig:
    """The SOURCE templates of one satellite product."""

    product: str
    sources: tuple[str, ...]


@dataclass(frozen=True)
class Combination:
    """One match-up run per day: (in situ source, product, protocol)."""

    insitu: str
    product: str
    protocol: str

    @property
    def label(self) -> str:
        """``argo x occi-l3 (bgc-argo-chl)``."""
        return f"{self.insitu} x {self.product} ({self.protocol})"


@dataclass(frozen=True)
class ReportConfig:
    """Whether and where the day's report is written (``{lake}`` and ``{date:...}`` placeholders)."""

    enabled: bool = True
    folder: str = DEFAULT_REPORT_FOLDER


@dataclass(frozen=True)
class PipelineConfig:
    """What the daily pipeline ingests and matches. Build with :func:`load_pipeline_config`."""

    insitu: tuple[InsituConfig, ...] = ()
    satellite: tuple[SatelliteConfig, ...] = ()
    matchups: tuple[Combination, ...] = ()
    report: ReportConfig = field(default_factory=ReportConfig)
    missing_sources: str = "warn"  # a SOURCE with no file for the day: "warn" (normal) or "fail"
    origin: str = "<dict>"  # where the configuration was read from, for messages

    def insitu_kind(self, kind: str) -> InsituConfig:
        """The configuration of in situ kind ``kind``; KeyError listing the configured kinds."""
        for spec in self.insitu:
            if spec.kind == kind:
                return spec
        raise KeyError(f"{self.origin}: in situ kind {kind!r} is not configured; configured: "
                       f"{', '.join(s.kind for s in self.insitu) or 'none'}")

    def satellite_product(self, product: str) -> SatelliteConfig:
        """The configuration of satellite product ``product``; KeyError listing the configured products."""
        for spec in self.satellite:
            if spec.product == product:
                return spec
        raise KeyError(f"{self.origin}: product {product!r} is not configured; configured: "
                       f"{', '.join(s.product for s in self.satellite) or 'none'}")

    def validate(self, settings: Settings) -> None:
        """Check every kind, product, protocol and in situ source exists (errors list the valid ids).

        Raises:
            ConfigError: naming the configuration file and the unknown id.
        """
        try:
            for spec in self.insitu:
                source_kind(spec.kind)
            for sat in self.satellite:
                lake_schema.product(sat.product, settings.product_dirs)
            for combo in self.matchups:
                lake_schema.insitu_source(combo.insitu)
                lake_schema.product(combo.product, settings.product_dirs)
                lake_schema.protocol(combo.protocol, settings.protocol_dirs)
        except KeyError as exc:
            raise ConfigError(f"{self.origin}: {exc.args[0] if exc.args else exc}") from None


def _string_list(value: Any, where: str) -> tuple[str, ...]:
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
        raise ConfigError(f"{where}: expected a SOURCE or a list of SOURCE strings, got {value!r}")
    return tuple(value)


def _insitu(kind: str, spec: Any, where: str) -> InsituConfig:
    if not isinstance(spec, dict):
        return InsituConfig(kind, _string_list(spec, where))
    unknown = set(spec) - {"sources", "gdac"}
    gdac = spec.get("gdac") or {}
    unknown |= {f"gdac.{k}" for k in set(gdac) - {"index", "wmo", "bbox", "lookback_days"}}
    if unknown or "sources" not in spec:
        raise ConfigError(f"{where}: keys are sources (required) and gdac (index, wmo, bbox, lookback_days); "
                          f"got {sorted(spec)}{' with unknown ' + str(sorted(unknown)) if unknown else ''}")
    bbox = gdac.get("bbox")
    if bbox is not None and (not isinstance(bbox, list) or len(bbox) != 4):
        raise ConfigError(f"{where}.gdac.bbox: four numbers lon_min, lat_min, lon_max, lat_max")
    return InsituConfig(kind, _string_list(spec["sources"], f"{where}.sources"),
                        gdac_index=str(gdac.get("index", "synthetic")),
                        wmo=tuple(str(w) for w in gdac.get("wmo") or ()),
                        bbox=tuple(float(v) for v in bbox) if bbox else None,
                        lookback_days=int(gdac.get("lookback_days", 0)))


def _combination(item: Any, where: str) -> Combination:
    if not isinstance(item, dict) or set(item) != {"insitu", "product", "protocol"}:
        raise ConfigError(f"{where}: each match-up is {{insitu: ..., product: ..., protocol: ...}}, got {item!r}")
    return Combination(str(item["insitu"]), str(item["product"]), str(item["protocol"]))


def _report(spec: Any, where: str) -> ReportConfig:
    if spec is None:
        return ReportConfig()
    if not isinstance(spec, dict) or set(spec) - {"enabled", "folder"}:
        raise ConfigError(f"{where}: keys are enabled (true/false) and folder (template), got {spec!r}")
    return ReportConfig(enabled=bool(spec.get("enabled", True)),
                        folder=str(spec.get("folder") or DEFAULT_REPORT_FOLDER))


def pipeline_config_from_dict(data: dict[str, Any], origin: str = "<dict>") -> PipelineConfig:
    """Validate the structure of a pipeline configuration (the YAML file's content).

    Raises:
        ConfigError: naming ``origin`` and the offending key.
    """
    if not isinstance(data, dict):
        raise ConfigError(f"{origin}: the pipeline configuration must be a mapping with keys {sorted(_CONFIG_KEYS)}")
    unknown = set(data) - _CONFIG_KEYS
    if unknown:
        raise ConfigError(f"{origin}: unknown keys {sorted(unknown)}; valid keys: {sorted(_CONFIG_KEYS)}")
    insitu, satellite = data.get("insitu") or {}, data.get("satellite") or {}
    if not isinstance(insitu, dict) or not isinstance(satellite, dict):
        raise ConfigError(f"{origin}: insitu and satellite map a kind / product id to its SOURCE list")
    matchups = data.get("matchups") or []
    if not isinstance(matchups, list):
        raise ConfigError(f"{origin}: matchups is a list of {{insitu, product, protocol}}")
    missing = str(data.get("missing_sources", "warn"))
    if missing not in {"warn", "fail"}:
        raise ConfigError(f"{origin}: missing_sources is warn or fail, got {missing!r}")
    config = PipelineConfig(
        insitu=tuple(_insitu(str(k), v, f"{origin}: insitu.{k}") for k, v in insitu.items()),
        satellite=tuple(SatelliteConfig(str(k), _string_list(v, f"{origin}: satellite.{k}"))
                        for k, v in satellite.items()),
        matchups=tuple(_combination(m, f"{origin}: matchups[{i}]") for i, m in enumerate(matchups)),
        report=_report(data.get("report"), f"{origin}: report"), missing_sources=missing, origin=origin)
    if not (config.insitu or config.satellite or config.matchups):
        raise ConfigError(f"{origin}: nothing to do (no insitu, satellite or matchups entry)")
    return config


def load_pipeline_config(path: str | Path) -> PipelineConfig:
    """Read and validate a pipeline configuration YAML file (see ``deployments/pipeline.example.yaml``).

    Raises:
        ConfigError: when the file is missing, not YAML, or not a valid configuration.
    """
    path = Path(path).expanduser()
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"pipeline configuration {path} not found (--config or OCEANLAKE_PIPELINE_CONFIG; "
                          "example: deployments/pipeline.example.yaml)") from None
    except yaml.YAMLError as exc:
        raise ConfigError(f"pipeline configuration {path}: not valid YAML: {exc}") from None
    return pipeline_config_from_dict(data, origin=str(path))


# -- days and templates ------------------------------------------------------------------------------------


def resolve_day(value: str | date | datetime | None) -> date:
    """The run day: ``YYYY-MM-DD`` (or a date/datetime); None means yesterday (UTC).

    Raises:
        ConfigError: when ``value`` is not a date.
    """
    if value is None or value == "":
        return datetime.now(UTC).date() - timedelta(days=1)
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    try:
        return date.fromisoformat(str(value).strip()[:10])
    except ValueError:
        raise ConfigError(f"{value!r} is not a day (YYYY-MM-DD)") from None


def days_between(start: str | date, end: str | date) -> list[date]:
    """Days from ``start`` to ``end``, both included.

    Raises:
        ConfigError: when ``end`` is before ``start``.
    """
    first, last = resolve_day(start), resolve_day(end)
    if last < first:
        raise ConfigError(f"backfill end {last} is before its start {first}")
    return [first + timedelta(days=k) for k in range((last - first).days + 1)]


def period(day: date) -> tuple[datetime, datetime]:
    """The in situ time period of a day's match-ups: [day 00:00, next day 00:00) UTC, naive."""
    start = datetime(day.year, day.month, day.day)
    return start, start + timedelta(days=1)


def format_template(template: str, day: date, **values: str) -> str:
    """Fill ``{date:%Y%m%d}``-style placeholders with the run day (and ``values``, e.g. ``lake``).

    Raises:
        ConfigError: for an unknown placeholder or a bad format.
    """
    try:
        return template.format(date=day, **values)
    except (KeyError, IndexError, ValueError) as exc:
        raise ConfigError(f"SOURCE template {template!r}: {exc!r}; placeholders are {{date:FORMAT}}"
                          + "".join(f", {{{k}}}" for k in values) + " (double {{ }} for literal braces)") from None


# -- locks and helpers ------------------------------------------------------------------------------------


def _lock_dir(settings: Settings) -> Path:
    """Locks live beside a file catalog (so every process using it sees them), else in the cache."""
    kind, target = settings.catalog.split(":", 1)
    folder = Path(target).parent / ".oceanlake-locks" if kind in {"sqlite", "duckdb"} else \
        settings.cache_dir / "locks" / hashlib.sha1(settings.catalog.encode()).hexdigest()[:12]
    folder.mkdir(parents=True, exist_ok=True)
    return folder


_writer_locks: dict[str, threading.Lock] = {}
_writer_locks_guard = threading.Lock()


@contextlib.contextmanager
def _process_writer_lock(settings: Settings) -> Iterator[None]:
    """One lake-writing step at a time per catalog in this process.

    Writers in one process (days of a thread-runner backfill) are serialised: two writers that
    both hold a read lock on a SQLite catalog can wait for each other until their retries run
    out, and the quality gate's great-expectations context is not thread-safe. Writers in other
    processes (Dask workers, other runs) are not affected.
    """
    with _writer_locks_guard:
        lock = _writer_locks.setdefault(settings.catalog, threading.Lock())
    with lock:
        yield


@contextlib.contextmanager
def step_lock(settings: Settings, step: str, parts: Iterable[str], timeout_s: float = LOCK_TIMEOUT_S,
              writes_lake: bool = True) -> Iterator[None]:
    """Hold an advisory lock on (step, parts) for this lake's catalog; wait if another run holds it.

    With ``writes_lake`` the step also takes this process's writer lock (see :func:`_process_writer_lock`).

    Raises:
        TransientError: when the lock is still held after ``timeout_s`` seconds.
    """
    with _process_writer_lock(settings) if writes_lake else contextlib.nullcontext():
        with _file_lock(settings, step, parts, timeout_s):
            yield


@contextlib.contextmanager
def _file_lock(settings: Settings, step: str, parts: Iterable[str], timeout_s: float) -> Iterator[None]:
    digest = hashlib.sha1("\0".join([settings.catalog, step, *parts]).encode()).hexdigest()[:16]
    path = _lock_dir(settings) / f"{step}-{digest}.lock"
    deadline, waiting = time.monotonic() + timeout_s, False
    with open(path, "a+b") as handle:
        while True:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if not waiting:
                    log.info("%s: another run holds %s; waiting for it", step, path.name)
                    waiting = True
                if time.monotonic() > deadline:
                    raise TransientError(f"{step}: lock {path} still held after {timeout_s:.0f} s") from None
                time.sleep(0.5)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _labelled(progress: Progress | None, label: str) -> Callable[[int, int], None] | None:
    return (lambda done, total: progress(label, done, total)) if progress else None


def _present_sources(sources: list[str], patterns: tuple[str, ...], settings: Settings, gdac: IndexFilter | None,
                     config: PipelineConfig, label: str) -> tuple[list[str], list[str]]:
    """Split the day's SOURCEs into those with files and those matching nothing (a normal day without data).

    GDAC mirrors and catalogue searches are passed through (their selection is by date already).
    """
    present, missing = [], []
    for source in sources:
        if source.startswith(("http://", "https://")) or remote.is_remote_source(source):
            present.append(source)
            continue
        try:
            discover([source], patterns, settings, gdac)
            present.append(source)
        except SourceNotFound:
            missing.append(source)
    if missing and config.missing_sources == "fail":
        raise SourceNotFound(f"{label}: no file for the day in {', '.join(missing)} (missing_sources: fail)")
    for source in missing:
        log.warning("%s: no file for the day in %s", label, source)
    return present, missing


def _transient_rejections(settings: Settings, run_id: str, kind: str) -> list[dict]:
    """This run's quarantine rows of ``kind`` that a transient failure caused and no retry has fixed yet."""
    from tasks.query import connect_readonly

    con = connect_readonly(settings)
    try:
        rows = con.execute(
            "SELECT object, stage, reason FROM quarantine WHERE run_id = $run AND source_kind = $kind "
            "AND stage IN ('fetch', 'write') AND object NOT IN (SELECT source_file FROM ingested_files)",
            {"run": run_id, "kind": kind}).fetchall()
    finally:
        con.close()
    return [{"object": o, "stage": s, "reason": r} for o, s, r in rows if looks_transient(r)]


#: This run's fetch/write quarantine rows of a kind whose files were ingested since (by a retry).
_RESOLVED = ("run_id = $run AND source_kind = $kind AND stage IN ('fetch', 'write') "
             "AND object IN (SELECT source_file FROM ingested_files)")


def _run_state(settings: Settings, summary: IngestSummary) -> tuple[int, int]:
    """(files of this run and kind in ``ingested_files``, quarantine rows of this run a retry has resolved)."""
    from tasks.query import connect_readonly

    con = connect_readonly(settings)
    try:
        params = {"run": summary.run_id, "kind": summary.kind}
        recorded = con.execute("SELECT count(*) FROM ingested_files WHERE run_id = $run AND source_kind = $kind",
                               params).fetchone()[0]
        resolved = con.execute(f"SELECT count(*) FROM quarantine WHERE {_RESOLVED}", params).fetchone()[0]
    finally:
        con.close()
    return int(recorded), int(resolved)


def _resolve_transient(settings: Settings, summary: IngestSummary) -> int:
    """Delete this run's fetch/write quarantine rows of files a retry has ingested since; returns the count."""
    params = {"run": summary.run_id, "kind": summary.kind}

    def body(con) -> int:
        n = con.execute(f"SELECT count(*) FROM quarantine WHERE {_RESOLVED}", params).fetchone()[0]
        con.execute(f"DELETE FROM quarantine WHERE {_RESOLVED}", params)
        return int(n)

    with Lake(settings) as lake:
        resolved = lake.transaction(body)
    log.info("%s: %d quarantine rows of transient failures removed (the files were ingested on a retry)",
             summary.kind, resolved)
    return resolved


def _after_ingest(summary: IngestSummary, settings: Settings, missing: list[str]) -> dict[str, Any]:
    """Fail the step when files were refused for transient reasons (to be retried); else tidy and summarise.

    After a retry, the counts cover the whole run: files committed by a failed attempt count as
    ingested (not as skipped), and the quarantine rows of its transient failures are removed.
    """
    if summary.files_quarantined:
        transient = _transient_rejections(settings, summary.run_id, summary.kind)
        if transient:
            raise TransientError(
                f"{summary.kind}: {len(transient)} files failed with transient errors (first: "
                f"{transient[0]['object']}: {transient[0]['reason']}); the step is retried, files already "
                "ingested are skipped")
    if summary.files_skipped or summary.files_ingested:
        recorded, resolvable = _run_state(settings, summary)
        earlier = max(recorded - summary.files_ingested, 0)
        summary.files_ingested += earlier
        summary.files_skipped -= min(earlier, summary.files_skipped)
        if resolvable:  # rows of the failed attempt (this attempt's own quarantines are in the summary)
            _resolve_transient(settings, summary)
    out = summary.as_dict()
    out["sources_without_files"] = missing
    return out


def _no_files(kind: str, run_id: str, missing: list[str]) -> dict[str, Any]:
    out = IngestSummary(run_id=run_id, kind=kind).as_dict()
    out["sources_without_files"] = missing
    return out


# -- steps ---------------------------------------------------------------------------------------------------


def ingest_insitu_day(config: PipelineConfig, kind: str, day: date, settings: Settings, *, run_id: str,
                      progress: Progress | None = None) -> dict[str, Any]:
    """Ingest the day's in situ files of ``kind``; returns the ingestion summary (dict) plus ``sources_without_files``.

    Raises:
        TransientError: when files could not be fetched or written for a transient reason (retry the step).
    """
    from tasks.ingest import ingest_insitu

    spec = config.insitu_kind(kind)
    sources = [format_template(s, day) for s in spec.sources]
    first = day - timedelta(days=spec.lookback_days)
    gdac = IndexFilter(wmo=spec.wmo, start=first.isoformat(), end=(day + timedelta(days=1)).isoformat(),
                       bbox=spec.bbox, index=spec.gdac_index)
    present, missing = _present_sources(sources, source_kind(kind).patterns, settings, gdac, config, f"ingest {kind}")
    if not present:
        return _no_files(kind, run_id, missing)
    with step_lock(settings, f"ingest-{kind}", present):
        summary = ingest_insitu(kind, present, settings, run_id=run_id, gdac=gdac,
                                progress=_labelled(progress, f"ingest {kind}"))
        return _after_ingest(summary, settings, missing)


def ingest_satellite_day(config: PipelineConfig, product: str, day: date, settings: Settings, *, run_id: str,
                         progress: Progress | None = None) -> dict[str, Any]:
    """Ingest the day's granules of ``product``; returns the ingestion summary (dict) plus ``sources_without_files``.

    Raises:
        TransientError: when granules could not be fetched or written for a transient reason (retry the step).
    """
    from tasks.ingest_satellite import ingest_satellite

    spec = config.satellite_product(product)
    sources = [format_template(s, day) for s in spec.sources]
    patterns = lake_schema.product(product, settings.product_dirs).file_patterns
    present, missing = _present_sources(sources, tuple(patterns), settings, None, config, f"ingest {product}")
    if not present:
        return _no_files(product, run_id, missing)
    with step_lock(settings, f"ingest-{product}", present):
        summary = ingest_satellite(product, present, settings, run_id=run_id,
                                   progress=_labelled(progress, f"ingest {product}"))
        return _after_ingest(summary, settings, missing)


def _input_tables_changed(con, since: int) -> bool:
    """Whether a table the match-ups read (anything but match-ups and bookkeeping) changed after snapshot ``since``."""
    names = dict(con.execute("SELECT table_id, table_name FROM lake.table_info()").fetchall())
    outputs = {str(i) for i, n in names.items() if n in _NOT_MATCHUP_INPUTS} | _NOT_MATCHUP_INPUTS
    for (changes,) in con.execute("SELECT changes FROM lake.snapshots() WHERE snapshot_id > $since",
                                  {"since": since}).fetchall():
        for key, values in (changes or {}).items():
            if key.startswith("views") or key.startswith("tables_dropped"):
                return True
            if key.startswith("tables_") and key != "tables_created" and any(
                    str(v).rsplit(".", 1)[-1] not in outputs for v in values or ()):
                return True
    return False


def _current_matchups(settings: Settings, combo: Combination, day: date) -> dict[str, Any] | None:
    """The summary of the day's existing match-ups when no input changed since they were computed, else None."""
    from tasks.matchup.engine import MatchupSummary
    from tasks.query import connect_readonly

    protocol_hash = lake_schema.protocol(combo.protocol, settings.protocol_dirs).config_hash
    start, end = period(day)
    con = connect_readonly(settings)
    try:
        rows, passed, primary, since, hashes, run_id = con.execute(
            "SELECT count(*), count(*) FILTER (passed), count(*) FILTER (passed AND is_primary), "
            "min(insitu_snapshot_id), list(DISTINCT protocol_hash), any_value(run_id) FROM matchups "
            "WHERE insitu_source = $s AND product = $p AND protocol = $r AND time_insitu >= $start "
            "AND time_insitu < $end",
            {"s": combo.insitu, "p": combo.product, "r": combo.protocol, "start": start, "end": end}).fetchone()
        if not rows or hashes != [protocol_hash] or since is None or _input_tables_changed(con, int(since)):
            return None
        snapshot = int(con.execute("SELECT id FROM lake.current_snapshot()").fetchone()[0])
    finally:
        con.close()
    summary = MatchupSummary(run_id=run_id, insitu_source=combo.insitu, product=combo.product,
                             protocol=combo.protocol, protocol_hash=protocol_hash, period_start=start,
                             period_end=end, rows=int(rows), rows_passed=int(passed), primary_passed=int(primary),
                             snapshot_id=snapshot)
    return {**summary.as_dict(), "skipped": True}


def matchups_day(combo: Combination, day: date, settings: Settings, *, run_id: str,
                 progress: Progress | None = None) -> dict[str, Any]:
    """Match-ups of the day's observations for one combination (skipped when their inputs did not change).

    Returns:
        The match-up summary (dict) with ``skipped`` True when the existing rows were kept.
    """
    from tasks.matchup.engine import run_matchups

    start, end = period(day)
    with step_lock(settings, "matchups", [combo.insitu, combo.product, combo.protocol, day.isoformat()]):
        current = _current_matchups(settings, combo, day)
        if current is not None:
            log.info("%s %s: inputs unchanged since the match-ups were computed; %d rows kept",
                     combo.label, day, current["rows"])
            return current
        summary = run_matchups(combo.insitu, combo.product, combo.protocol, settings, start=start, end=end,
                               run_id=run_id, progress=_labelled(progress, f"match-ups {combo.product}"))
    return {**summary.as_dict(), "skipped": False}


def _duplicates(con, table: str, key: tuple[str, ...], where: str, params: dict) -> int:
    cols = ", ".join(f'"{c}"' for c in key)
    return int(con.execute(
        f"SELECT count(*) FROM (SELECT {cols} FROM {table} AS t SEMI JOIN (SELECT DISTINCT {cols} FROM {table} "
        f"WHERE {where}) AS k USING ({cols}) GROUP BY ALL HAVING count(*) > 1)", params).fetchone()[0])


def check_day(config: PipelineConfig, day: date, settings: Settings, *, run_id: str) -> dict[str, Any]:
    """Quality gate of the day: no natural key written by this run, and no match-up of the day, is duplicated.

    Returns:
        ``{"duplicates": {table: n}, "snapshot_id": s, "lake_version": "s@snapshot time", "passed": True}``
        (the lake version identifies the lake state the statistics are computed on).

    Raises:
        QualityGateFailed: naming the tables with duplicated keys.
    """
    from tasks.query import connect_readonly

    start, end = period(day)
    con = connect_readonly(settings)
    try:
        duplicates = {name: _duplicates(con, name, lake_schema.table(name).key, "run_id = $run", {"run": run_id})
                      for name in _UNIQUE_KEY_TABLES}
        duplicates["matchups"] = _duplicates(con, "matchups", lake_schema.table("matchups").key,
                                             "time_insitu >= $start AND time_insitu < $end",
                                             {"start": start, "end": end})
        snapshot, when = con.execute("SELECT snapshot_id, snapshot_time FROM lake.snapshots() "
                                     "ORDER BY snapshot_id DESC LIMIT 1").fetchone()
    finally:
        con.close()
    bad = {name: n for name, n in duplicates.items() if n}
    if bad:
        raise QualityGateFailed(f"day {day}: duplicated natural keys in {bad} (run {run_id}); the lake needs "
                                "attention before the day's statistics and report are published")
    return {"duplicates": duplicates, "snapshot_id": int(snapshot), "lake_version": f"{snapshot}@{when.isoformat()}",
            "passed": True}


def statistics_day(config: PipelineConfig, day: date, settings: Settings) -> list[dict[str, Any]]:
    """Validation statistics of the day's primary passed match-ups, per combination, variable and band."""
    from tasks.query import connect_readonly
    from tasks.validation.stats import lake_stats

    start, end = period(day)
    rows: list[dict[str, Any]] = []
    con = connect_readonly(settings)
    try:
        for combo in config.matchups:
            table = lake_stats(settings, {"insitu": combo.insitu, "product": combo.product,
                                          "protocol": combo.protocol, "start": start, "end": end}, con=con)
            rows += [{"insitu_source": combo.insitu, **row} for row in table.to_pylist()]
    finally:
        con.close()
    return rows


def report_location(config: PipelineConfig, day: date, settings: Settings) -> str:
    """Folder (path or ``s3://`` URL) of the day's report."""
    return format_template(config.report.folder, day, lake=settings.lake.rstrip("/")).rstrip("/")


def report_day(config: PipelineConfig, day: date, settings: Settings) -> str | None:
    """Write the day's validation report (all configured combinations); returns its ``report.html`` location.

    On an ``s3://`` lake the report is written to a temporary folder and uploaded.
    """
    from tasks.validation.report import write_report

    if not config.report.enabled:
        return None
    start, end = period(day)
    target = report_location(config, day, settings)
    with step_lock(settings, "report", [target], writes_lake=False):
        if "://" not in target:
            return str(write_report(settings, target, start=start, end=end))
        import fsspec

        with tempfile.TemporaryDirectory(prefix="oceanlake-report-") as tmp:
            html = write_report(settings, tmp, start=start, end=end)
            fs = fsspec.filesystem(target.split("://", 1)[0], **settings.s3.storage_options())
            fs.put(f"{tmp}/", f"{target}/", recursive=True)
            return f"{target}/{Path(html).name}"


# -- the day ---------------------------------------------------------------------------------------------------


@dataclass
class DaySummary:
    """What a day's run did. ``matched``/``rejected``: match-up rows passing / failing the protocol."""

    day: str
    run_id: str
    ingested: int = 0
    skipped: int = 0
    quarantined: int = 0
    matched: int = 0
    rejected: int = 0
    primary_matched: int = 0
    ingest: list[dict[str, Any]] = field(default_factory=list)
    matchups: list[dict[str, Any]] = field(default_factory=list)
    gate: dict[str, Any] = field(default_factory=dict)
    statistics: list[dict[str, Any]] = field(default_factory=list)
    report: str | None = None
    warnings: list[str] = field(default_factory=list)
    elapsed_s: float = 0.0

    def as_dict(self) -> dict[str, Any]:
        """Plain dict (JSON-serialisable)."""
        return asdict(self)

    def line(self) -> str:
        """One line for logs: the counts of the day."""
        return (f"{self.day}: {self.ingested} files ingested, {self.skipped} already in the lake, {self.quarantined} "
                f"quarantined; match-up rows {self.matched} passed, {self.rejected} rejected "
                f"({self.primary_matched} primary passed) in {self.elapsed_s:.1f} s")


def summarise(day: date, run_id: str, ingests: list[dict], matchups: list[dict], gate: dict,
              statistics: list[dict], report: str | None, elapsed_s: float) -> DaySummary:
    """The day's summary from its steps' results."""
    summary = DaySummary(day=day.isoformat(), run_id=run_id, ingest=ingests, matchups=matchups, gate=gate,
                         statistics=statistics, report=report, elapsed_s=round(elapsed_s, 3))
    for step in ingests:
        summary.ingested += step["files_ingested"]
        summary.skipped += step["files_skipped"]
        summary.quarantined += step["files_quarantined"] + step["objects_quarantined"]
        summary.warnings += [f"{step['kind']}: no file for the day in {source}"
                             for source in step.get("sources_without_files", [])]
    for step in matchups:
        summary.matched += step["rows_passed"]
        summary.rejected += step["rows"] - step["rows_passed"]
        summary.primary_matched += step["primary_passed"]
        summary.quarantined += step["rows_quarantined"] + step["invalid_positions"]
    return summary


def ingest_day(config: PipelineConfig, day: date, settings: Settings, *, run_id: str,
               progress: Progress | None = None) -> list[dict[str, Any]]:
    """Ingest the day's files of every configured in situ kind and satellite product (in that order)."""
    results = [ingest_insitu_day(config, spec.kind, day, settings, run_id=run_id, progress=progress)
               for spec in config.insitu]
    results += [ingest_satellite_day(config, spec.product, day, settings, run_id=run_id, progress=progress)
                for spec in config.satellite]
    return results


def analyse_day(config: PipelineConfig, day: date, settings: Settings, *, run_id: str, ingests: list[dict],
                progress: Progress | None = None, started: float | None = None) -> DaySummary:
    """Match-ups of every combination, the quality gate, statistics and report of a day already ingested."""
    started = time.perf_counter() if started is None else started
    matchups = [matchups_day(combo, day, settings, run_id=run_id, progress=progress) for combo in config.matchups]
    gate = check_day(config, day, settings, run_id=run_id)
    statistics = statistics_day(config, day, settings)
    report = report_day(config, day, settings)
    return summarise(day, run_id, ingests, matchups, gate, statistics, report, time.perf_counter() - started)


def run_day(config: PipelineConfig, day: str | date, settings: Settings, *, run_id: str | None = None,
            progress: Progress | None = None) -> DaySummary:
    """The whole day without an orchestrator: ingest, match-ups, quality gate, statistics, report.

    Args:
        config: the pipeline configuration.
        day: the UTC day (``YYYY-MM-DD`` or a date).
        settings: lake settings.
        run_id: stored with every row written (a new UUID by default).
        progress: ``progress(label, done, total)`` for progress bars.

    Returns:
        The day's summary.
    """
    started = time.perf_counter()
    day = resolve_day(day)
    config.validate(settings)
    run_id = run_id or uuid.uuid4().hex
    ingests = ingest_day(config, day, settings, run_id=run_id, progress=progress)
    summary = analyse_day(config, day, settings, run_id=run_id, ingests=ingests, progress=progress, started=started)
    log.info("daily %s", summary.line())
    return summary

