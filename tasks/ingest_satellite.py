"""Satellite ingestion: discover → checksum → read (product definition) → gate → cube commit → catalog row.

Each granule is one Icechunk commit (grid products append or overwrite their time slice; swath
and binned granules replace their own Zarr group) followed by one DuckLake commit recording the
granule in ``granule_versions``. A crash between the two leaves a cube commit without catalog
row; the next run re-ingests the file and rewrites the same slice or group, so nothing is
duplicated. Bad files go to ``quarantine`` and the run continues.
"""

from __future__ import annotations

import logging
import re
import shutil
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import numpy as np
import pyarrow as pa
import xarray as xr

import lake_schema
from lake_schema.definitions import ProductDef
from tasks import quality
from tasks.config import Settings
from tasks.cubes import default_chunks, write_cube
from tasks.errors import InvalidFile, OceanlakeError
from tasks.ingest import IngestSummary, commit_quarantine, quarantine_entry
from tasks.lake import Lake, conform, utc_now
from tasks.readers.base import Granule
from tasks.readers.registry import open_granule
from tasks.readers.satellite_common import invalid_mask
from tasks.sources import discover, fetch, sha256_file, size_bytes

log = logging.getLogger(__name__)


#: A batch of granules is gated in one great-expectations run and recorded in one catalog commit;
#: it holds at most this many granules and this many bytes of eagerly loaded data.
BATCH_GRANULES = 8
BATCH_BYTES = 512 * 2**20
#: Granules up to this size are decoded once into memory (coverage and cube write share the read).
EAGER_BYTES = 256 * 2**20
@dataclass
class _Pending:
    url: str
    checksum: str
    size: int
    granule: Granule
    row: pa.Table
    nbytes: int
    tmp_dir: Path | None


@dataclass
class _Refused:
    url: str
    stage: str
    reason: str
    checksum: str | None


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
    with Lake(settings) as lake:
        batch: list[_Pending] = []
        seen: set[str] = set()
        for done, url in enumerate(urls, start=1):
            result = _read_one(lake, product, url, settings, summary.run_id)
            if result is None or (isinstance(result, _Pending) and result.checksum in seen):
                summary.files_skipped += 1
                _cleanup(result)
            elif isinstance(result, _Refused):
                _reject(lake, result.url, result.stage, result.reason, result.checksum, summary)
            else:
                seen.add(result.checksum)
                if any(p.granule.granule_key == result.granule.granule_key for p in batch):
                    batch = _flush(lake, product, batch, summary)  # two versions of one granule: in order
                batch.append(result)
                if len(batch) >= BATCH_GRANULES or sum(p.nbytes for p in batch) >= BATCH_BYTES:
                    batch = _flush(lake, product, batch, summary)
            if progress:
                progress(done, len(urls))
        _flush(lake, product, batch, summary)
        summary.snapshot_id = lake.snapshot_id()
    log.info("ingest %s: %s", product.id, summary.as_dict())
    return summary


def _cleanup(result: _Pending | _Refused | None) -> None:
    if isinstance(result, _Pending) and result.tmp_dir is not None:
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


def _read_one(lake: Lake, product: ProductDef, url: str, settings: Settings, run_id: str) -> _Pending | _Refused | None:
    """Fetch, checksum and read one granule and compute its catalog row (no lake writes).

    Args:
        lake: the lake (its catalog tells which checksums are already ingested).
        product: the product definition.
        url: the granule's file or folder.
        settings: lake settings.
        run_id: the run id recorded in the row.

    Returns:
        The pending granule, a refusal, or None when the file is already in the lake.
    """
    checksum, stage, tmp_dir = None, "fetch", None
    try:
        path, tmp_dir = fetch(url, settings)
        checksum = sha256_file(path)
        if lake.known_checksums([checksum]):
            if tmp_dir is not None:
                shutil.rmtree(tmp_dir, ignore_errors=True)
            return None
        stage = "read"
        granule = open_granule(product, path)
        nbytes = granule.dataset.nbytes
        if nbytes <= EAGER_BYTES:  # decode once: coverage and the cube write use the same arrays
            granule.dataset = granule.dataset.load()
        stage = "validate"
        row = _granule_row(product, granule, url, checksum, run_id)
        return _Pending(url, checksum, size_bytes(path), granule, row, nbytes if nbytes <= EAGER_BYTES else 0,
                        tmp_dir)
    except Exception as exc:  # noqa: BLE001 - one bad granule must not stop the batch
        if tmp_dir is not None:
            shutil.rmtree(tmp_dir, ignore_errors=True)
        return _Refused(url, stage, _describe_failure(url, exc), checksum)


def _flush(lake: Lake, product: ProductDef, batch: list[_Pending], summary: IngestSummary) -> list[_Pending]:
    """Gate the batch, write each passing granule's cube commit, record them in one catalog commit.

    Returns:
        A new empty batch.
    """
    if not batch:
        return []
    try:
        _gate_and_write(lake, product, batch, summary)
    finally:
        for pending in batch:
            _cleanup(pending)
    return []


def _gate_and_write(lake: Lake, product: ProductDef, batch: list[_Pending], summary: IngestSummary) -> None:
    gate = quality.gate("granule_versions", pa.concat_tables([p.row for p in batch]))
    refused = {r["row"]: r["reason"] for r in gate.rejected}
    rows, files = [], []
    for index, pending in enumerate(batch):
        if index in refused:
            _reject(lake, pending.url, "validate", f"{pending.url}: {refused[index]}", pending.checksum, summary)
            continue
        try:
            rows.append(_write_data(lake, product, pending.granule, pending.row, pending.checksum))
        except Exception as exc:  # noqa: BLE001 - the granule's commit was not made; others continue
            _reject(lake, pending.url, "write", _describe_failure(pending.url, exc), pending.checksum, summary)
            continue
        files.append(_file_row(product, pending, rows[-1], summary))
    if rows:
        _commit_catalog(lake, pa.concat_tables(rows), pa.concat_tables(files))
        summary.files_ingested += len(rows)
        summary.rows_written["granule_versions"] = summary.rows_written.get("granule_versions", 0) + len(rows)


def _main_variable(product: ProductDef, ds: xr.Dataset) -> str:
    names = [n for n in product.variables if n in ds.data_vars]
    if product.main_variable in ds.data_vars:
        return product.main_variable
    if product.options.get("require_any") and names:
        return names[0]
    raise InvalidFile(f"none of the variables {list(product.variables)} of {product.id} is in the granule")


def _coverage(product: ProductDef, granule: Granule) -> tuple[float, float, int]:
    """Valid fraction and implausible fraction of the main variable, and the pixel count."""
    ds = granule.dataset
    name = _main_variable(product, ds)
    data = ds[name]
    spatial = [d for d in data.dims if d not in ("time", "wavelength")]
    if "wavelength" in data.dims:
        data = data.isel(wavelength=data.sizes["wavelength"] // 2)
    valid = data.notnull()
    if product.flags is not None and "flags" in ds:
        bad = invalid_mask(ds["flags"], product.flags.invalid, granule.granule_id)
        if bad is not None:
            valid = valid & ~bad
    field = lake_schema.fields()[name]
    low = -np.inf if field.valid_min is None else field.valid_min
    high = np.inf if field.valid_max is None else field.valid_max
    implausible = valid & ((data < low) | (data > high))
    n_valid, n_bad = (int(x) for x in xr.Dataset({"v": valid.sum(), "b": implausible.sum()}).compute().to_array())
    n_pixels = int(np.prod([data.sizes[d] for d in spatial + (["time"] if "time" in data.dims else [])]))
    return (n_valid / n_pixels if n_pixels else 0.0), (n_bad / n_valid if n_valid else 0.0), n_pixels


def _time_in_coverage(granule: Granule) -> bool:
    if "time" not in granule.dataset.coords:
        return True
    times = granule.dataset["time"].values.astype("datetime64[us]").astype(object)
    slack = timedelta(days=1)
    return all(granule.time_start - slack <= t <= granule.time_end + slack for t in times)


def _cube_name(product: ProductDef, granule: Granule) -> str:
    name = product.cube.format_map({"product": product.id, "granule_id": granule.granule_id, **granule.name_fields})
    return re.sub(r"[^A-Za-z0-9_.-]", "_", name)


def _granule_row(product: ProductDef, granule: Granule, url: str, checksum: str, run_id: str) -> pa.Table:
    valid_fraction, implausible, n_pixels = _coverage(product, granule)
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


def _current_version(lake: Lake, product: ProductDef, key: str) -> tuple[str, str | None] | None:
    row = lake.con.execute(
        "SELECT granule_id, processing_version FROM granule_versions WHERE product = ? AND granule_key = ? "
        "AND is_current", [product.id, key]).fetchone()
    return (row[0], row[1]) if row else None


#: Target size of one stored chunk (uncompressed, in the stored dtype): a 5x5 match-up window
#: decompresses one or a few chunks; larger chunks compress and write faster.
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


def _write_data(lake: Lake, product: ProductDef, granule: Granule, row: pa.Table, checksum: str) -> pa.Table:
    """Commit the granule's data to its cube (unless a newer version is current); return the row to record."""
    settings = lake.settings
    values = row.to_pylist()[0]
    current = _current_version(lake, product, granule.granule_key)
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
        for values in rows.to_pylist():
            if values["is_current"]:  # older versions of the same granule leave the granules view
                con.execute("UPDATE granule_versions SET is_current = false, replaced_by = ? WHERE product = ? "
                            "AND granule_key = ? AND is_current AND granule_id <> ?",
                            [values["granule_id"], values["product"], values["granule_key"], values["granule_id"]])
        lake.upsert(con, {"granule_versions": rows, "ingested_files": files})

    lake.transaction(body)
