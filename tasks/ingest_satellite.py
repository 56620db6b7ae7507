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
import uuid
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import numpy as np
import pyarrow as pa
import xarray as xr

import lake_schema
from lake_schema.definitions import ProductDef
from tasks import quality
from tasks.config import Settings
from tasks.cubes import default_chunks, open_cube, write_cube
from tasks.errors import InvalidFile, OceanlakeError, SourceNotFound
from tasks.ingest import IngestSummary, commit_quarantine, quarantine_entry
from tasks.lake import Lake, conform, utc_now
from tasks.readers.base import Granule
from tasks.readers.registry import open_granule
from tasks.readers.satellite_common import invalid_mask
from tasks.sources import discover, local_copy, sha256_file, size_bytes

log = logging.getLogger(__name__)


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
        for done, url in enumerate(urls, start=1):
            _ingest_one(lake, product, url, settings, summary)
            if progress:
                progress(done, len(urls))
        summary.snapshot_id = lake.snapshot_id()
    log.info("ingest %s: %s", product.id, summary.as_dict())
    return summary


def _reject(lake: Lake, url: str, stage: str, reason: str, checksum: str | None, summary: IngestSummary) -> None:
    log.warning("quarantined %s at %s: %s", url, stage, reason)
    summary.files_quarantined += 1
    commit_quarantine(lake, [quarantine_entry(url, stage, reason, checksum, summary)], summary)


def _ingest_one(lake: Lake, product: ProductDef, url: str, settings: Settings, summary: IngestSummary) -> None:
    checksum = None
    stage = "fetch"
    try:
        with local_copy(url, settings) as path:
            checksum = sha256_file(path)
            if lake.known_checksums([checksum]):
                summary.files_skipped += 1
                return
            stage = "read"
            granule = open_granule(product, path)
            size = size_bytes(path)
            stage = "validate"
            row = _granule_row(product, granule, settings, url, checksum, summary)
            gate = quality.gate("granule_versions", row)
            if gate.rejected:
                _reject(lake, url, stage, f"{url}: " + "; ".join(r["reason"] for r in gate.rejected), checksum,
                        summary)
                return
            stage = "write"
            row = _write_data(lake, product, granule, row, checksum)
            _commit_catalog(lake, row, url, checksum, size, summary)
    except (OceanlakeError, OSError, ValueError, KeyError) as exc:
        text = str(exc) if str(exc).startswith(str(url)) or url in str(exc) else f"{url}: {exc}"
        _reject(lake, url, stage, text, checksum, summary)
    except Exception as exc:  # noqa: BLE001 - one bad granule must not stop the batch
        _reject(lake, url, stage, f"{url}: {type(exc).__name__}: {exc}", checksum, summary)


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


def _granule_row(product: ProductDef, granule: Granule, settings: Settings, url: str, checksum: str,
                 summary: IngestSummary) -> pa.Table:
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
        "source_checksum": checksum, "ingested_at": utc_now(), "run_id": summary.run_id,
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


def _check_same_grid(settings: Settings, cube: str, ds: xr.Dataset, granule_id: str) -> None:
    try:
        existing = open_cube(settings, cube)
    except SourceNotFound:
        return
    for coord in ("lat", "lon", "wavelength"):
        if coord in existing.coords and coord in ds.coords and not np.array_equal(existing[coord].values,
                                                                                   ds[coord].values):
            raise InvalidFile(f"{granule_id}: its {coord} grid differs from cube {cube}; a product definition "
                              "must map each grid to its own cube (use the `cube` template)")


def _write_data(lake: Lake, product: ProductDef, granule: Granule, row: pa.Table, checksum: str) -> pa.Table:
    """Commit the granule's data to its cube (unless a newer version is current); return the row to record."""
    settings = lake.settings
    values = row.to_pylist()[0]
    current = _current_version(lake, product, granule.granule_key)
    newer_exists = current is not None and current[0] != granule.granule_id and \
        _version_key(current[1]) > _version_key(granule.processing_version)
    ds = granule.dataset
    ds = ds.chunk({d: c for d, c in default_chunks(ds).items() if d in ds.dims})
    if "time" in ds.coords:  # one fixed encoding, so appended times decode like the first ones
        ds["time"].encoding.update(units="microseconds since 1970-01-01", dtype="int64",
                                   calendar="proleptic_gregorian")
    metadata = {"granule_id": granule.granule_id, "source_checksum": checksum, "product": product.id}
    if product.geometry == "grid":
        if newer_exists:  # keep the newer processing in the shared time slice; record lineage only
            values.update(is_current=False, replaced_by=current[0])
            return conform("granule_versions", pa.Table.from_pylist([values]))
        _check_same_grid(settings, values["cube"], ds, granule.granule_id)
        snapshot = write_cube(settings, values["cube"], ds, f"ingest {granule.granule_id}", append_dim="time",
                              metadata=metadata)
    else:
        snapshot = write_cube(settings, values["cube"], ds, f"ingest {granule.granule_id}",
                              group=granule.granule_id, metadata=metadata)
        if newer_exists:
            values.update(is_current=False, replaced_by=current[0])
    values["cube_snapshot_id"] = snapshot
    return conform("granule_versions", pa.Table.from_pylist([values]))


def _commit_catalog(lake: Lake, row: pa.Table, url: str, checksum: str, size: int, summary: IngestSummary) -> None:
    values = row.to_pylist()[0]
    file_row = conform("ingested_files", pa.Table.from_pylist([{
        "source_file": url, "source_checksum": checksum, "size_bytes": size, "source_kind": values["product"],
        "reader": lake_schema.product(values["product"], lake.settings.product_dirs).reader, "n_rows": 1,
        "n_quarantined": 0, "ingested_at": values["ingested_at"], "run_id": summary.run_id}]))

    def body(con) -> None:
        if values["is_current"]:  # older versions of the same granule are replaced in the granules view
            con.execute("UPDATE granule_versions SET is_current = false, replaced_by = ? WHERE product = ? "
                        "AND granule_key = ? AND is_current AND granule_id <> ?",
                        [values["granule_id"], values["product"], values["granule_key"], values["granule_id"]])
        lake.upsert(con, {"granule_versions": row, "ingested_files": file_row})

    lake.transaction(body)
    summary.files_ingested += 1
    summary.rows_written["granule_versions"] = summary.rows_written.get("granule_versions", 0) + 1


def describe(product: ProductDef) -> dict[str, Any]:
    """A short description of a product definition (for ``oceanlake products``)."""
    return {"id": product.id, "title": product.title, "sensor": product.sensor, "platform": product.platform,
            "reader": product.reader, "geometry": product.geometry, "variables": list(product.variables),
            "file_patterns": list(product.file_patterns)}
