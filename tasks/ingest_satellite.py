"""Satellite ingestion: discover → checksum → read (product definition) → gate → cube commit → catalog row.

Each granule is one Icechunk commit (grid products append or overwrite their time slice; swath
and binned granules replace their own Zarr group); the written granules are then recorded in
``granule_versions`` by one DuckLake commit per :data:`BATCH_GRANULES` granules. A crash between
the two leaves cube commits without catalog rows; the next run re-ingests those files and
rewrites the same slices or groups, so nothing is duplicated. Bad files go to ``quarantine`` and
the run continues.

Granules flow through a pipeline in discovery order: a hasher thread fetches and checksums the
next files, a reader thread decodes the next granule(s) and computes their catalog rows while the
calling thread gates and writes the current one (HDF5 decompression, hashing, Blosc compression,
Icechunk and DuckDB release the GIL). All lake access stays on the calling thread: it looks the
checksums up in the catalog (one query for the files hashed ahead) before they are decoded, runs
one quality-gate call for the current granule and those already decoded after it (rows are judged
independently), and looks up their current versions together. Memory holds the granule being
written plus at most :data:`READ_AHEAD_BYTES` (at least one granule) decoded ahead, whatever the
number of files. Swath and binned variables stored packed (scaled integers) are packed while they
are decoded (see :func:`_load`).
"""

from __future__ import annotations

import contextlib
import ctypes
import logging
import re
import shutil
import sys
import uuid
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import dask
import numpy as np
import pyarrow as pa
import xarray as xr

import lake_schema
from lake_schema.definitions import ProductDef
from tasks import quality
from tasks.config import Settings
from tasks.cubes import default_chunks, encode_zarr_variable, write_cube
from tasks.errors import InvalidFile, OceanlakeError
from tasks.ingest import IngestSummary, commit_quarantine, quarantine_entry
from tasks.lake import Lake, conform, utc_now
from tasks.readers.base import Granule
from tasks.readers.registry import open_granule
from tasks.readers.satellite_common import PACKED_SOURCE, decode_packed, invalid_mask, is_cf_packed, packed_source
from tasks.sources import discover, fetch, sha256_file, size_bytes

log = logging.getLogger(__name__)

try:
    _LIBC = ctypes.CDLL("libc.so.6") if sys.platform.startswith("linux") else None
    _LIBC.malloc_trim  # noqa: B018 - glibc only (not musl)
except (OSError, AttributeError):  # pragma: no cover
    _LIBC = None

#: Written granules are recorded in the catalog by one DuckLake commit per this many granules.
BATCH_GRANULES = 8
#: Decoded data read ahead of the granule being written: as many granules as fit (at least one,
#: at most MAX_READ_AHEAD), so memory stays within one granule plus this, whatever the file count.
#: Small granules (a 26 MB L3m day) get several: the gate and the catalog look-ups then serve
#: several granules per call.
READ_AHEAD_BYTES = 128 * 2**20
MAX_READ_AHEAD = 4
#: Granules per quality-gate call and current-version look-up, at least, when granules are small
#: enough to read that many ahead: a great-expectations run costs 40-70 ms and a catalog query
#: 15-30 ms whatever the number of rows, as much as half of decoding a 26 MB L3m day, and both hold
#: the GIL the reader's netCDF4 decoding also holds, so the caller waits for the next granules to be
#: decoded and handles them with one call each (10 L3m days: 2.8 s with 4, 3.0-3.1 s with 2).
GATE_GROUP = 4
#: Files checksummed ahead of the reader (their catalog look-ups are one query); downloads of
#: remote files are fewer, they take disk space.
HASH_AHEAD = 8
FETCH_AHEAD = 2
#: Granules decoded while the lake opens, before their catalog look-up (wasted work only when they
#: turn out to be in the lake already).
SPECULATIVE_READS = 2
#: Granules up to this size are decoded once into memory (coverage and cube write share the read).
EAGER_BYTES = 256 * 2**20
#: Dask scheduler of those decodes, on the reader thread. xarray's netCDF4/HDF5 backend reads under
#: one global lock, so dask's thread pool cannot decode chunks in parallel: it only added task
#: hand-offs (swath: +30 % CPU and +15 % wall time per granule, measured) and competed with the
#: calling thread's Blosc compression for the cores.
_DECODE_SCHEDULER = "synchronous"


@dataclass
class _Fetched:
    url: str
    path: Path
    tmp_dir: Path | None
    checksum: str


@dataclass
class _Pending:
    url: str
    checksum: str
    size: int
    granule: Granule
    row: pa.Table
    tmp_dir: Path | None
    nbytes: int = 0  # decoded bytes held in memory
    gated: bool = False
    refusal: str | None = None  # the gate's reason when it refused the granule


@dataclass
class _Refused:
    url: str
    stage: str
    reason: str
    checksum: str | None


_Result = _Pending | _Refused | None


def ingest_satellite(
    product_id: str,
    sources: list[str],
    settings: Settings,
    *,
    run_id: str | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> IngestSummary:
    """Ingest granules of one product from files, folders, globs or ``s3://`` prefixes.

    Args:
        product_id: id of a definition in ``lake_schema/products`` (or a user products folder).
        sources: SOURCE arguments.
        settings: lake settings.
        run_id: identifier stored with every row (a new UUID by default).
        progress: called as ``progress(granules_done, granules_total)``.

    Returns:
        The run summary (``kind`` is the product id).
    """
    product = lake_schema.product(product_id, settings.product_dirs)
    summary = IngestSummary(run_id=run_id or uuid.uuid4().hex, kind=product.id)
    urls = discover(sources, product.file_patterns, settings)
    summary.files_found = len(urls)
    with _Pipeline(product, urls, settings, summary.run_id) as pipeline, Lake(settings) as lake:
        run = _Run(lake, product, summary)
        for index in range(len(urls)):
            result = pipeline.get(index, lake)
            # gate a granule together with the next one (one call, one catalog look-up for both) when
            # the reader has a further granule to decode meanwhile (small granules), and not near the
            # end of the run where waiting for the next one would delay the last writes
            pair = isinstance(result, _Pending) and not result.gated and index + GATE_GROUP < len(urls) \
                and pipeline.reading_after(index) >= GATE_GROUP
            run.take(result, pipeline.decoded_after(index, wait=GATE_GROUP - 1 if pair else 0))
            if progress:
                progress(index + 1, len(urls))
        run.record()
        summary.snapshot_id = lake.snapshot_id()
    log.info("ingest %s: %s", product.id, summary.as_dict())
    return summary


def decode_granules(product_id: str, urls: list[str], settings: Settings, *, run_id: str) -> pa.Table:
    """The ``granule_versions`` rows ingesting ``urls`` records, without writing the lake or a cube.

    Used to reproduce a recorded run (``oceanlake reproduce``): each granule is fetched, decoded
    with the product definition, summarised and gated as :func:`ingest_satellite` does. The columns
    set at write time (``cube_snapshot_id``, and ``is_current``/``replaced_by`` when another version
    is current) keep their defaults.

    Args:
        product_id: product definition id.
        urls: the files or SAFE folders.
        settings: lake settings (product folders, S3 credentials).
        run_id: the run id written in the rows.

    Returns:
        One row per granule the gate accepts (refused or unreadable granules are left out).
    """
    product = lake_schema.product(product_id, settings.product_dirs)
    rows = []
    for url in urls:
        result = _fetch(url, settings)
        if isinstance(result, _Fetched):
            result = _read(product, result, run_id)
        if isinstance(result, _Pending):
            _gate([result])
            if result.refusal is None:
                rows.append(result.row)
            _cleanup(result)
    return pa.concat_tables(rows) if rows else lake_schema.table("granule_versions").arrow_schema().empty_table()


class _Pipeline:
    """Fetch + checksum and open + decode granules ahead of the caller, on two worker threads.

    Results come back in discovery order. Only the calling thread touches the lake: it asks the
    catalog whether a checksum is known before handing the file to the reader, so files already
    in the lake are not decoded - except the first :data:`SPECULATIVE_READS` ones, decoded while
    the caller opens the lake and checked when handed out. Hashing, HDF5 decompression (netCDF4
    releases the GIL) and the caller's Blosc compression, Icechunk and DuckDB I/O overlap.
    """

    def __init__(self, product: ProductDef, urls: list[str], settings: Settings, run_id: str):
        self.product, self.urls, self.settings, self.run_id = product, urls, settings, run_id
        self._hasher = ThreadPoolExecutor(1, thread_name_prefix="oceanlake-hash")
        self._reader = ThreadPoolExecutor(1, thread_name_prefix="oceanlake-read")
        self._hashes: dict[int, Future] = {}
        self._reads: dict[int, Future] = {}
        self._next_hash = self._next_read = 0
        self._granule_bytes = 0  # decoded size of the last granule read
        self._unchecked: dict[int, Future] = {}  # hashes of granules read before their catalog look-up
        self._known: dict[str, bool] = {}  # catalog look-ups of checksums made ahead
        self._hash_ahead = FETCH_AHEAD if any("://" in url for url in urls) else HASH_AHEAD
        self._submit_hashes(2 + self._hash_ahead)
        for index in range(min(SPECULATIVE_READS, len(urls))):  # while the lake opens
            self._unchecked[index] = hashed = self._hashes.pop(index)
            self._reads[index] = self._reader.submit(_read_hashed, product, hashed, run_id)
            self._next_read = index + 1

    def __enter__(self) -> _Pipeline:
        return self

    def __exit__(self, *exc) -> None:
        """Stop the workers and delete the downloads of granules never handed out."""
        for pool in (self._hasher, self._reader):
            pool.shutdown(wait=True, cancel_futures=True)
        for future in [*self._hashes.values(), *self._unchecked.values(), *self._reads.values()]:
            if future.done() and not future.cancelled() and future.exception() is None:
                _cleanup(future.result())
        self._hashes.clear()
        self._unchecked.clear()
        self._reads.clear()

    def _submit_hashes(self, upto: int) -> None:
        while self._next_hash < min(upto, len(self.urls)):
            self._hashes[self._next_hash] = self._hasher.submit(_fetch, self.urls[self._next_hash], self.settings)
            self._next_hash += 1

    def _submit_reads(self, upto: int, lake: Lake) -> None:
        while self._next_read < min(upto, len(self.urls)):
            index = self._next_read
            self._next_read += 1
            self._submit_hashes(index + 1 + self._hash_ahead)
            self._look_up(index, lake)
            fetched = _check_known(lake, self._hashes.pop(index).result(), self._known)
            if isinstance(fetched, _Fetched):
                self._reads[index] = self._reader.submit(_read, self.product, fetched, self.run_id)
            else:
                self._reads[index] = done = Future()
                done.set_result(fetched)

    def _look_up(self, index: int, lake: Lake) -> None:
        """Ask the catalog in one query about granule ``index`` and the files already hashed after it."""
        checksums = []
        for j in range(index, self._next_hash):
            future = self._hashes.get(j, self._unchecked.get(j))
            if future is None or (j > index and not future.done()):
                break
            fetched = future.result()
            if isinstance(fetched, _Fetched) and fetched.checksum not in self._known:
                checksums.append(fetched.checksum)
        if len(checksums) > 1:  # a single one is looked up by _check_known, with its error handling
            with contextlib.suppress(Exception):
                known = lake.known_checksums(checksums)
                self._known.update((c, c in known) for c in checksums)

    def _ahead(self) -> int:
        """Granules to read ahead of the current one (:data:`READ_AHEAD_BYTES`, from the last granule's size)."""
        return min(MAX_READ_AHEAD, max(1, READ_AHEAD_BYTES // self._granule_bytes)) if self._granule_bytes else 1

    def reading_after(self, index: int) -> int:
        """How many granules after ``index`` are read or being read."""
        return self._next_read - index - 1

    def get(self, index: int, lake: Lake) -> _Result:
        """Result of granule ``index`` (the next ones start decoding first)."""
        self._submit_reads(index + 1 + self._ahead(), lake)
        result = self._reads.pop(index).result()
        if index in self._unchecked:  # read before the lake was open: skip it now if already ingested
            self._look_up(index, lake)
            fetched = self._unchecked.pop(index).result()
            checked = _check_known(lake, fetched, self._known)
            if checked is not fetched:
                _cleanup(result)
                return checked
        if isinstance(result, _Pending):
            self._granule_bytes = result.nbytes
            self._submit_reads(index + 1 + self._ahead(), lake)  # the first granule's size is known now
        return result

    def decoded_after(self, index: int, wait: int = 0) -> list[_Pending]:
        """Granules after ``index`` already decoded, waiting for the first ``wait`` of them if being read."""
        out = []
        while (future := self._reads.get(index := index + 1)) is not None and (future.done() or wait > 0):
            wait -= 1
            if isinstance(result := future.result(), _Pending):
                out.append(result)
        return out


def _cleanup(result: _Fetched | _Pending | _Refused | None) -> None:
    if isinstance(result, (_Fetched, _Pending)) and result.tmp_dir is not None:
        shutil.rmtree(result.tmp_dir, ignore_errors=True)


def _reject(lake: Lake, url: str, stage: str, reason: str, checksum: str | None, summary: IngestSummary) -> None:
    log.warning("quarantined %s at %s: %s", url, stage, reason)
    summary.files_quarantined += 1
    commit_quarantine(lake, [quarantine_entry(url, stage, reason, checksum, summary)], summary)


def _describe_failure(url: str, exc: BaseException) -> str:
    text = str(exc)
    if isinstance(exc, (OceanlakeError, OSError, ValueError, KeyError)):
        return text if url in text else f"{url}: {text}"
    return f"{url}: {type(exc).__name__}: {text}"


def _fetch(url: str, settings: Settings) -> _Fetched | _Refused:
    """Fetch and checksum one granule (hasher thread)."""
    checksum, tmp_dir = None, None
    try:
        path, tmp_dir = fetch(url, settings)
        checksum = sha256_file(path)
        return _Fetched(url, path, tmp_dir, checksum)
    except Exception as exc:  # noqa: BLE001 - one bad granule must not stop the batch
        if tmp_dir is not None:
            shutil.rmtree(tmp_dir, ignore_errors=True)
        return _Refused(url, "fetch", _describe_failure(url, exc), checksum)


def _check_known(lake: Lake, fetched: _Fetched | _Refused, looked_up: dict[str, bool]) -> _Fetched | _Refused | None:
    """The fetched granule, or None when its checksum is already in the lake (calling thread).

    ``looked_up`` holds answers of the catalog fetched ahead; a checksum this run ingests after
    its look-up is caught by the run's own duplicate check.
    """
    if not isinstance(fetched, _Fetched):
        return fetched
    try:
        known = looked_up[fetched.checksum] if fetched.checksum in looked_up else \
            lake.known_checksums([fetched.checksum])
    except Exception as exc:  # noqa: BLE001 - one bad granule must not stop the batch
        _cleanup(fetched)
        return _Refused(fetched.url, "fetch", _describe_failure(fetched.url, exc), fetched.checksum)
    if known:
        _cleanup(fetched)
        return None
    return fetched


def _read_hashed(product: ProductDef, hashed: Future, run_id: str) -> _Pending | _Refused:
    """:func:`_read` once the hasher is done with the file (reader thread)."""
    fetched = hashed.result()
    return _read(product, fetched, run_id) if isinstance(fetched, _Fetched) else fetched


def _read(product: ProductDef, fetched: _Fetched, run_id: str) -> _Pending | _Refused:
    """Open and decode one granule and compute its catalog row, no lake access (reader thread).

    Args:
        product: the product definition.
        fetched: the granule's local file or folder and checksum.
        run_id: the run id recorded in the row.

    Returns:
        The pending granule or a refusal.
    """
    url, path = fetched.url, fetched.path
    stage = "read"
    try:
        granule = open_granule(product, path)
        band, nbytes = None, 0
        if granule.dataset.nbytes <= EAGER_BYTES:  # decode once: coverage and the cube write share the arrays
            granule.dataset, band = _load(product, granule.dataset)
            nbytes = granule.dataset.nbytes
        stage = "validate"
        row = _granule_row(product, granule, url, fetched.checksum, run_id, band)
        return _Pending(url, fetched.checksum, size_bytes(path), granule, row, fetched.tmp_dir, nbytes)
    except Exception as exc:  # noqa: BLE001 - one bad granule must not stop the batch
        _cleanup(fetched)
        return _Refused(url, stage, _describe_failure(url, exc), fetched.checksum)


def _load(product: ProductDef, ds: xr.Dataset) -> tuple[xr.Dataset, xr.DataArray | None]:
    """The granule decoded into memory in one pass, and the main variable's coverage band if it was packed.

    Variables of swath and binned granules that the cube stores CF-packed (floats whose encoding
    packs them into integers with ``scale_factor``/``add_offset`` and a ``_FillValue``, e.g. PACE
    OCI Rrs as int16) are packed chunk by chunk as they are decoded, by xarray's own Zarr encoder:
    the arithmetic the write would apply to the whole float array, so the stored bytes and
    attributes are the same, without holding the floats nor packing them again at write time. When
    the main variable is one of them, its coverage band (:func:`_coverage`) is decoded in the same
    pass. Grid granules keep floats: appends are packed with the encoding stored in the cube.
    """
    packed = {} if product.geometry == "grid" or encode_zarr_variable is None else \
        {name: var for name, var in ds.data_vars.items() if _packable(var)}
    try:
        if not packed:
            return _without_packed_sources(ds.copy(deep=False)).load(scheduler=_DECODE_SCHEDULER), None
        return _load_packed(product, ds, packed)
    finally:
        ds.close()  # the source file, once read (readers register its closer)


def _load_packed(product: ProductDef, ds: xr.Dataset, packed: dict) -> tuple[xr.Dataset, xr.DataArray | None]:
    """:func:`_load` with the variables of ``packed`` packed chunk by chunk.

    A variable that is the unchanged decoding of the file's own packed integers, with the same
    scale, offset, fill value and integer type, is stored as those integers (no decoding and
    re-encoding of every value: the swath reader's largest cost); others are packed by xarray's encoder.
    """
    out = ds.copy(deep=False)
    from_file = set()
    for name, var in packed.items():
        source = packed_source(var)
        out[name] = _packed_lazily(str(name), var.variable, source)
        if out[name].data is source:
            from_file.add(name)
    out = _without_packed_sources(out)
    band = None
    main = _main_variable_or_none(product, ds)
    if main in from_file:  # its coverage band: decoded from the loaded integers
        out = out.load(scheduler=_DECODE_SCHEDULER)
        middle = _middle_band(out[main]).variable
        return out, xr.DataArray(decode_packed(middle.values, middle.dims, middle.attrs, str(main)), dims=middle.dims)
    if main in packed:
        out, band = dask.compute(out, _middle_band(ds[main]), scheduler=_DECODE_SCHEDULER)  # chunks decoded once
    return out.load(scheduler=_DECODE_SCHEDULER), band


def _middle_band(data: xr.DataArray) -> xr.DataArray:
    """The middle wavelength of a spectral variable (the variable itself otherwise)."""
    return data.isel(wavelength=data.sizes["wavelength"] // 2) if "wavelength" in data.dims else data


def _without_packed_sources(ds: xr.Dataset) -> xr.Dataset:
    """``ds`` without the readers' links to packed source integers (not an encoding to store)."""
    for var in ds.variables.values():
        var.encoding.pop(PACKED_SOURCE, None)
    return ds


def _packable(var: xr.DataArray) -> bool:
    """Whether ``var`` is lazy float data that its encoding packs into integers (scalar scale/offset, a fill value)."""
    enc, attrs = var.encoding, var.attrs
    return (var.chunks is not None and is_cf_packed(var.variable)
            and enc.get("_FillValue") is not None and "missing_value" not in enc and "_Unsigned" not in enc
            and np.ndim(enc.get("scale_factor", 1)) == 0 and np.ndim(enc.get("add_offset", 0)) == 0
            and not any(k in attrs for k in ("scale_factor", "add_offset", "_FillValue", "missing_value"))
            and " since " not in str(attrs.get("units", "")))


def _packed_lazily(name: str, var: xr.Variable, source=None) -> xr.Variable:
    """``var`` packed chunk by chunk (dask) as the Zarr writer would encode it, with the attributes it would write.

    ``source``: the file's packed integers ``var`` decodes (:func:`packed_source`), used as they are
    when the writer would pack to their dtype.
    """
    encoding = dict(var.encoding)
    encoding.pop(PACKED_SOURCE, None)
    sample = xr.Variable(var.dims, np.zeros((1,) * var.ndim, var.dtype), dict(var.attrs), dict(encoding))
    meta = encode_zarr_variable(sample, name=name, zarr_format=3)  # attributes, dtype, remaining encoding
    if source is not None and source.dtype == meta.dtype:
        return xr.Variable(var.dims, source, meta.attrs, meta.encoding)
    data = var.data.map_blocks(_pack_block, var.dims, encoding, name, dtype=meta.dtype, meta=np.array((), meta.dtype))
    return xr.Variable(var.dims, data, meta.attrs, meta.encoding)


def _pack_block(block: np.ndarray, dims: tuple, encoding: dict, name: str) -> np.ndarray:
    return np.asarray(encode_zarr_variable(xr.Variable(dims, block, {}, dict(encoding)), name=name,
                                            zarr_format=3).values)


class _Run:
    """The calling thread's side: quality gate, cube commit per granule, catalog commit per batch."""

    def __init__(self, lake: Lake, product: ProductDef, summary: IngestSummary):
        self.lake, self.product, self.summary = lake, product, summary
        self.seen: set[str] = set()
        self.rows: list[pa.Table] = []  # written granules not yet recorded in the catalog
        self.files: list[pa.Table] = []
        self.keys: set[str] = set()
        self.current: dict[str, tuple[str, str | None] | None] = {}  # catalog look-ups since the last record()

    def take(self, result: _Result, decoded: list[_Pending]) -> None:
        """Handle the next granule in discovery order (``decoded``: granules after it, already read)."""
        lake, summary = self.lake, self.summary
        if result is None or (isinstance(result, _Pending) and result.checksum in self.seen):
            summary.files_skipped += 1
            _cleanup(result)
            return
        if isinstance(result, _Refused):
            _reject(lake, result.url, result.stage, result.reason, result.checksum, summary)
            return
        self.seen.add(result.checksum)
        try:
            if not result.gated:  # one great-expectations run for it and the granules read meanwhile
                _gate([result, *(p for p in decoded if not p.gated)])
            if result.refusal is not None:
                _reject(lake, result.url, "validate", f"{result.url}: {result.refusal}", result.checksum, summary)
                return
            key = result.granule.granule_key
            if key in self.keys:
                self.record()  # two versions of one granule: the catalog sees the first before the second
            if key not in self.current:  # one look-up for it and the granules read meanwhile
                keys = {key} | {p.granule.granule_key for p in decoded if p.refusal is None}
                self.current.update(_current_versions(lake, self.product, keys - self.current.keys()))
            try:
                row = _write_data(lake, self.product, result.granule, result.row, result.checksum,
                                  self.current[key])
            except Exception as exc:  # noqa: BLE001 - the granule's commit was not made; others continue
                _reject(lake, result.url, "write", _describe_failure(result.url, exc), result.checksum, summary)
                return
            self.rows.append(row)
            self.files.append(_file_row(self.product, result, row, summary))
            self.keys.add(result.granule.granule_key)
            if len(self.rows) >= BATCH_GRANULES:
                self.record()
        finally:
            _cleanup(result)
            result.granule.dataset = None  # free the decoded arrays before the next granule arrives
            _trim_heap()

    def record(self) -> None:
        """Record the written granules in one catalog commit."""
        if not self.rows:
            return
        rows, files = pa.concat_tables(self.rows), pa.concat_tables(self.files)
        self.rows, self.files, self.keys, self.current = [], [], set(), {}
        _commit_catalog(self.lake, rows, files)
        self.summary.files_ingested += rows.num_rows
        self.summary.rows_written["granule_versions"] = \
            self.summary.rows_written.get("granule_versions", 0) + rows.num_rows


def _trim_heap() -> None:
    """Hand the pages freed with a granule back to the OS (glibc ``malloc_trim``; no-op elsewhere).

    Granules are decoded, packed and compressed on several threads, each allocating from its own
    glibc arena; without trimming, the arenas' free pages add up granule after granule and the
    resident size creeps up with the number of files. A trim costs a few milliseconds.
    """
    if _LIBC is not None:
        _LIBC.malloc_trim(0)


def _gate(group: list[_Pending]) -> None:
    """Run the quality gate on the rows of ``group`` (rows are judged independently)."""
    gate = quality.gate("granule_versions", pa.concat_tables([p.row for p in group]))
    refused = {r["row"]: r["reason"] for r in gate.rejected}
    for index, pending in enumerate(group):
        pending.gated, pending.refusal = True, refused.get(index)


def _main_variable_or_none(product: ProductDef, ds: xr.Dataset) -> str | None:
    try:
        return _main_variable(product, ds)
    except InvalidFile:
        return None


def _main_variable(product: ProductDef, ds: xr.Dataset) -> str:
    names = [n for n in product.variables if n in ds.data_vars]
    if product.main_variable in ds.data_vars:
        return product.main_variable
    if product.options.get("require_any") and names:
        return names[0]
    raise InvalidFile(f"none of the variables {list(product.variables)} of {product.id} is in the granule")


def _coverage(product: ProductDef, granule: Granule, band: xr.DataArray | None = None) -> tuple[float, float, int]:
    """Valid fraction and implausible fraction of the main variable, and the pixel count.

    The main variable is judged on its middle wavelength when spectral; ``band`` is that band
    already decoded (when the granule holds the variable packed).
    """
    ds = granule.dataset
    name = _main_variable(product, ds)
    data = ds[name]
    spatial = [d for d in data.dims if d not in ("time", "wavelength")]
    if band is not None:
        data = band
    elif "wavelength" in data.dims:
        data = data.isel(wavelength=data.sizes["wavelength"] // 2)
    bad = None
    if product.flags is not None and "flags" in ds:
        bad = invalid_mask(ds["flags"], product.flags.invalid, granule.granule_id)
    field = lake_schema.fields()[name]
    low = -np.inf if field.valid_min is None else field.valid_min
    high = np.inf if field.valid_max is None else field.valid_max
    n_pixels = int(np.prod([data.sizes[d] for d in spatial + (["time"] if "time" in data.dims else [])]))
    counts = _count_numpy(data, bad, low, high)
    if counts is None:  # lazy (dask) arrays or non-float data: xarray, chunk by chunk
        valid = data.notnull()
        if bad is not None:
            valid = valid & ~bad
        implausible = valid & ((data < low) | (data > high))
        counts = (int(x) for x in xr.Dataset({"v": valid.sum(), "b": implausible.sum()}).compute().to_array())
    n_valid, n_bad = counts
    return (n_valid / n_pixels if n_pixels else 0.0), (n_bad / n_valid if n_valid else 0.0), n_pixels


def _count_numpy(data: xr.DataArray, bad: xr.DataArray | None, low: float, high: float) -> tuple[int, int] | None:
    """Valid and implausible pixel counts of in-memory float data (None: use the xarray path).

    Same result as ``notnull() & ~bad`` and ``valid & ((data < low) | (data > high))`` (NaN
    compares false), in a few numpy passes without temporaries of xarray objects.
    """
    if data.dtype.kind != "f" or not isinstance(data.variable._data, np.ndarray):
        return None
    values = data.values
    if bad is not None:
        if set(bad.dims) != set(data.dims) or not isinstance(bad.variable._data, np.ndarray):
            return None
        invalid = bad.transpose(*data.dims).values
        if invalid.shape != values.shape:
            return None
        valid = ~np.isnan(values)
        valid &= ~invalid
        n_valid = int(np.count_nonzero(valid))
    else:
        valid = None
        n_valid = values.size - int(np.count_nonzero(np.isnan(values)))
    if np.isneginf(low) and np.isposinf(high):
        return n_valid, 0
    if n_valid and low <= np.fmin.reduce(values, axis=None) and np.fmax.reduce(values, axis=None) <= high:
        return n_valid, 0  # the common case, in two reductions without temporaries (fmin/fmax skip NaN)
    outside = np.zeros(values.shape, dtype=bool)
    if not np.isneginf(low):
        np.less(values, low, out=outside)
    if not np.isposinf(high):
        outside |= values > high
    if valid is not None:
        outside &= valid
    return n_valid, int(np.count_nonzero(outside))


def _time_in_coverage(granule: Granule) -> bool:
    if "time" not in granule.dataset.coords:
        return True
    times = granule.dataset["time"].values.astype("datetime64[us]").astype(object)
    slack = timedelta(days=1)
    return all(granule.time_start - slack <= t <= granule.time_end + slack for t in times)


def _cube_name(product: ProductDef, granule: Granule) -> str:
    name = product.cube.format_map({"product": product.id, "granule_id": granule.granule_id, **granule.name_fields})
    return re.sub(r"[^A-Za-z0-9_.-]", "_", name)


def _granule_row(product: ProductDef, granule: Granule, url: str, checksum: str, run_id: str,
                 band: xr.DataArray | None = None) -> pa.Table:
    valid_fraction, implausible, n_pixels = _coverage(product, granule, band)
    lon_min, lat_min, lon_max, lat_max = granule.bbox
    row = {
        "product": product.id, "granule_id": granule.granule_id, "granule_key": granule.granule_key,
        "geometry": product.geometry, "time_start": granule.time_start, "time_end": granule.time_end,
        "footprint": granule.footprint, "lon_min": lon_min, "lat_min": lat_min, "lon_max": lon_max,
        "lat_max": lat_max, "processing_version": granule.processing_version, "valid_fraction": valid_fraction,
        "implausible_fraction": implausible, "time_in_coverage": _time_in_coverage(granule),
        "n_pixels": n_pixels, "cube": _cube_name(product, granule),
        "cube_group": None if product.geometry == "grid" else granule.granule_id,
        "cube_snapshot_id": None, "is_current": True, "replaced_by": None, "source_file": url,
        "source_checksum": checksum, "ingested_at": utc_now(), "run_id": run_id,
    }
    return conform("granule_versions", pa.Table.from_pylist([row]))


def _version_key(version: str | None) -> tuple:
    """Natural sort key of a processing version ("3.0" < "3.1" < "10"; "004" > "003")."""
    return tuple(int(p) if p.isdigit() else p for p in re.split(r"(\d+)", version or ""))


def _current_versions(lake: Lake, product: ProductDef, keys: set[str]) -> dict[str, tuple[str, str | None] | None]:
    """(granule_id, processing_version) of the current version of each granule key (None: none yet)."""
    found: dict[str, tuple[str, str | None] | None] = dict.fromkeys(keys)
    rows = lake.con.execute(
        "SELECT granule_key, granule_id, processing_version FROM granule_versions WHERE product = $1 "
        "AND granule_key IN (SELECT unnest($2)) AND is_current", [product.id, sorted(keys)]).fetchall()
    for key, granule_id, version in rows:
        if found[key] is None:
            found[key] = (granule_id, version)
    return found


#: Largest stored chunk (uncompressed, in the stored dtype; spatial dimensions split evenly by
#: :func:`tasks.cubes.default_chunks`: (1, 1800, 1800) for a 0.1 deg global grid). Measured against
#: 4 MB (900 x 900) and 512 x 512 tiles: as fast to ingest, and faster for match-up windows from
#: 200 to 100,000 points (Zarr's per-chunk cost outweighs decoding a few MB more).
CHUNK_MB = 16


def _chunked(ds: xr.Dataset) -> xr.Dataset:
    """The granule with cube chunking (lake_schema/cubes.yaml).

    In-memory granules keep numpy arrays and get Zarr chunks through their encoding (no dask
    graph, no hashing of the data); lazy ones are re-chunked with dask, read chunk by chunk.
    """
    for var in ds.variables.values():
        if var.dtype.kind in "iu":  # integers (flags) are stored as decoded: no lossy re-packing
            for key in ("dtype", "_Unsigned", "scale_factor", "add_offset"):
                var.encoding.pop(key, None)
        elif var.dtype.kind == "f" and np.dtype(var.encoding.get("dtype", var.dtype)).kind == "f":
            var.encoding.pop("_FillValue", None)  # floats stored as floats: NaN is the missing value,
            var.encoding.pop("missing_value", None)  # no source fill to substitute on every write
    chunks = {d: c for d, c in default_chunks(ds, target_mb=CHUNK_MB).items() if d in ds.dims}
    if any(var.chunks is not None for var in ds.variables.values()):
        return ds.chunk(chunks)
    for var in ds.variables.values():
        var.encoding.pop("preferred_chunks", None)
        if var.dims and var.ndim == len(var.dims):
            var.encoding["chunks"] = tuple(min(chunks.get(d, var.sizes[d]), var.sizes[d]) for d in var.dims)
    return ds


def _write_data(lake: Lake, product: ProductDef, granule: Granule, row: pa.Table, checksum: str,
                current: tuple[str, str | None] | None) -> pa.Table:
    """Commit the granule's data to its cube (unless a newer version is current); return the row to record.

    ``current`` is the (granule_id, processing_version) of the granule key's current version.
    """
    settings = lake.settings
    values = row.to_pylist()[0]
    newer_exists = current is not None and current[0] != granule.granule_id and \
        _version_key(current[1]) > _version_key(granule.processing_version)
    ds = _chunked(granule.dataset)
    if "time" in ds.coords:  # one fixed encoding (µs), so appended times decode like the first ones
        ds = ds.assign_coords(time=ds["time"].values.astype("datetime64[us]").astype("datetime64[ns]"))
        ds["time"].encoding.update(units="microseconds since 1970-01-01", dtype="int64",
                                   calendar="proleptic_gregorian")
    metadata = {"granule_id": granule.granule_id, "source_checksum": checksum, "product": product.id}
    if product.geometry == "grid":
        if newer_exists:  # keep the newer processing in the shared time slice; record lineage only
            values.update(is_current=False, replaced_by=current[0])
            return conform("granule_versions", pa.Table.from_pylist([values]))
        snapshot = write_cube(settings, values["cube"], ds, f"ingest {granule.granule_id}", append_dim="time",
                              metadata=metadata, same_coords=("lat", "lon", "wavelength"))
    else:
        snapshot = write_cube(settings, values["cube"], ds, f"ingest {granule.granule_id}",
                              group=granule.granule_id, metadata=metadata)
        if newer_exists:
            values.update(is_current=False, replaced_by=current[0])
    values["cube_snapshot_id"] = snapshot
    return conform("granule_versions", pa.Table.from_pylist([values]))


def _file_row(product: ProductDef, pending: _Pending, row: pa.Table, summary: IngestSummary) -> pa.Table:
    return conform("ingested_files", pa.Table.from_pylist([{
        "source_file": pending.url, "source_checksum": pending.checksum, "size_bytes": pending.size,
        "source_kind": product.id, "reader": product.reader, "n_rows": 1, "n_quarantined": 0,
        "ingested_at": row.column("ingested_at")[0].as_py(), "run_id": summary.run_id}]))


def _commit_catalog(lake: Lake, rows: pa.Table, files: pa.Table) -> None:
    """Record granules (replacing older versions of the same granule_key) and their files, atomically."""

    def body(con) -> None:
        current = [values for values in rows.to_pylist() if values["is_current"]]
        replacing = _replacing(con, current)
        for values in current:  # older versions of the same granule leave the granules view
            if (values["product"], values["granule_key"], values["granule_id"]) in replacing:
                con.execute("UPDATE granule_versions SET is_current = false, replaced_by = ? WHERE product = ? "
                            "AND granule_key = ? AND is_current AND granule_id <> ?",
                            [values["granule_id"], values["product"], values["granule_key"], values["granule_id"]])
        lake.upsert(con, {"granule_versions": rows, "ingested_files": files})

    lake.transaction(body)


def _replacing(con, current: list[dict]) -> set[tuple[str, str, str]]:
    """The (product, granule_key, granule_id) of ``current`` that have another current version to replace.

    One query instead of one UPDATE per granule: a DuckLake UPDATE costs a table scan and a
    commit-time rewrite even when it matches nothing, which is the common case (new granules).
    """
    if not current:
        return set()
    keys = pa.table({name: [values[name] for values in current] for name in ("product", "granule_key", "granule_id")})
    con.register("_oceanlake_current", keys)
    try:
        found = con.execute(
            "SELECT DISTINCT c.product, c.granule_key, c.granule_id FROM granule_versions AS g "
            "JOIN _oceanlake_current AS c ON g.product = c.product AND g.granule_key = c.granule_key "
            "WHERE g.is_current AND g.granule_id <> c.granule_id").fetchall()
    finally:
        con.unregister("_oceanlake_current")
    return {tuple(r) for r in found}
