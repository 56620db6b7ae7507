"""Shared decoding of satellite products, driven by their definitions (lake_schema/products).

Reader families use these helpers to find variables by candidate paths, stack per-band
variables, resolve times and versions from attributes / file names, decode CF flags into an
invalid mask and build the footprint, so product differences stay in the YAML definitions.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import xarray as xr

from lake_schema.definitions import ProductDef, VariableDef
from tasks.errors import InvalidFile, MissingVariable
from tasks.readers.base import Granule

_TIME_FORMATS = ("%Y-%m-%dT%H:%M:%S.%fZ", "%Y-%m-%dT%H:%M:%SZ", "%Y-%m-%dT%H:%M:%S.%f", "%Y-%m-%dT%H:%M:%S",
                 "%Y-%m-%d %H:%M:%S", "%d-%b-%Y %H:%M:%S.%f", "%d-%b-%Y %H:%M:%S", "%Y%m%dT%H%M%S",
                 "%Y%m%dT%H%M%SZ", "%Y%m%d%H%M%S", "%Y%m%d%H%MZ", "%Y%m%d", "%Y-%m-%d")


def parse_time(text: str | datetime | np.datetime64) -> datetime:
    """Naive-UTC datetime from the time strings found in ocean-colour products.

    Accepts ISO 8601 (with or without ``Z`` / fraction), ``15-APR-2017 10:01:35.533860`` (SNAP),
    ``20240614T120000``, ``20240614`` and numpy datetimes.

    Raises:
        ValueError: when no known format matches.
    """
    if isinstance(text, np.datetime64):
        return datetime.fromtimestamp(text.astype("datetime64[us]").astype(np.int64) / 1e6, UTC).replace(tzinfo=None)
    if isinstance(text, datetime):
        return text.astimezone(UTC).replace(tzinfo=None) if text.tzinfo else text
    value = str(text).strip()
    value = re.sub(r"(\.\d{6})\d+", r"\1", value)  # nanoseconds -> microseconds
    value = re.sub(r"([+-]00:?00|UTC)$", "", value).strip()
    for fmt in _TIME_FORMATS:
        try:
            return datetime.strptime(value.title() if "%b" in fmt else value, fmt)
        except ValueError:
            continue
    raise ValueError(f"unrecognised time {text!r}")


#: Variables up to this decoded size are one dask chunk: loading one is a single netCDF4 read.
#: In the file's chunks (a 0.1 deg L3m day has 16) every chunk is one more netCDF4 call to hand
#: over with the ingest's writer thread, and dask copies the pieces into one array again: 10 L3m
#: days ingested in 2.5-2.9 s that way, 1.7-2.0 s read whole (benchmarks/README.md). Bigger
#: variables (a full PACE L2 Rrs cube is 1.6 GB) keep the file's chunks, so memory stays bounded
#: by a few chunks.
WHOLE_VARIABLE_BYTES = 128 * 2**20
#: Encoding key of a variable decoded from CF-packed integers (see :func:`packed_source`).
PACKED_SOURCE = "oceanlake_packed_source"


def open_tree(path: str | Path) -> xr.DataTree:
    """Open a NetCDF/HDF5 file with all its groups, lazily (no data read), as dask arrays.

    Variables up to :data:`WHOLE_VARIABLE_BYTES` are one chunk; bigger ones have the file's chunks.
    Variables stored as CF-packed integers (``scale_factor``/``add_offset``) are decoded chunk by
    chunk from the packed integers, which stay reachable (:func:`packed_source`).

    Raises:
        InvalidFile: when the file is not NetCDF/HDF5 or is truncated.
    """
    trees = []
    try:
        trees.append(xr.open_datatree(path, engine="netcdf4", chunks=None, decode_timedelta=False))
        if any(is_cf_packed(var) for node in trees[0].subtree for var in node.variables.values()):
            trees.append(xr.open_datatree(path, engine="netcdf4", chunks=None, mask_and_scale=False,
                                          decode_times=False, decode_timedelta=False))
        tree = trees[0].map_over_datasets(_reading_chunks, trees[1] if len(trees) > 1 else None)
    except Exception as exc:  # noqa: BLE001 - any decoding failure means a bad file here
        for opened in trees:
            opened.close()
        raise InvalidFile(f"{path}: cannot be opened as NetCDF ({type(exc).__name__}: {exc}); "
                          "the file is truncated, corrupt or not NetCDF - fetch it again") from exc
    tree.set_close(lambda: [opened.close() for opened in trees])
    return tree


def packed_source(var: xr.DataArray | xr.Variable) -> Any | None:
    """The file's CF-packed integers (dask) that ``var`` is the decoding of, unchanged; else None.

    Storing them with the variable's ``scale_factor``/``add_offset``/``_FillValue`` gives the same
    bytes as packing the decoded floats again, without decoding and re-encoding every value.
    """
    source = var.encoding.get(PACKED_SOURCE)
    if source is None or getattr(var.data, "name", None) != source[0] or source[1].shape != var.shape:
        return None
    return source[1]


def is_cf_packed(var: xr.Variable) -> bool:
    """Whether a decoded variable was stored as integers packed with ``scale_factor``/``add_offset``."""
    enc = var.encoding
    return var.dtype.kind == "f" and np.dtype(enc.get("dtype", var.dtype)).kind in "iu" and \
        ("scale_factor" in enc or "add_offset" in enc)


def _reading_chunks(ds: xr.Dataset, raw: xr.Dataset | None) -> xr.Dataset:
    """``ds`` as dask arrays: whole variables up to :data:`WHOLE_VARIABLE_BYTES`, the file's chunks above.

    ``raw`` is the same node opened without mask and scale: CF-packed variables are decoded from it.
    """
    out = ds.copy()
    for name, var in ds.variables.items():
        if name in ds.xindexes:  # index coordinates are in memory already
            continue
        chunks = {} if var.nbytes <= WHOLE_VARIABLE_BYTES else var.encoding.get("preferred_chunks", {})
        packed = raw.variables.get(name) if raw is not None and is_cf_packed(var) else None
        if packed is None or packed.dtype.kind not in "iu" or packed.shape != var.shape:
            out[name] = var.chunk(chunks)
            continue
        ints = packed.chunk(chunks).data
        data = ints.map_blocks(decode_packed, packed.dims, dict(packed.attrs), str(name), dtype=var.dtype,
                               meta=np.array((), var.dtype))
        out[name] = xr.Variable(var.dims, data, var.attrs, {**var.encoding, PACKED_SOURCE: (data.name, ints)})
    return out


def decode_packed(block: np.ndarray, dims: tuple, attrs: dict, name: str) -> np.ndarray:
    """CF decoding (mask and scale) of packed integers, as xarray applies it when opening."""
    return np.asarray(xr.conventions.decode_cf_variable(name, xr.Variable(dims, block, attrs), decode_times=False,
                                                        decode_timedelta=False).values)


def find(tree: xr.DataTree | xr.Dataset, candidates: tuple[str, ...]) -> xr.DataArray | None:
    """The first of ``candidates`` (``group/variable`` paths) present in ``tree``, or None."""
    for path in candidates:
        group, _, name = path.rpartition("/")
        try:
            node = tree[group] if group else tree
            if name in node.variables:
                return node[name] if isinstance(node, xr.Dataset) else node.dataset[name]
        except KeyError:
            continue
    return None


def global_attrs(tree: xr.DataTree | xr.Dataset) -> dict[str, Any]:
    """Global attributes of the root group."""
    return dict(tree.attrs)


def resolve(sources: tuple[str, ...], attrs: Mapping[str, Any], name_fields: Mapping[str, str],
            tree: xr.DataTree | xr.Dataset | None = None) -> str | None:
    """First available value among metadata sources (``attr:``, ``name:``, ``var:``, ``const:``)."""
    for source in sources:
        kind, _, key = source.partition(":")
        if kind == "attr" and attrs.get(key) not in (None, ""):
            return str(attrs[key])
        if kind == "name" and name_fields.get(key):
            return name_fields[key]
        if kind == "const":
            return key
        if kind == "var" and tree is not None:
            var = find(tree, (key,))
            if var is not None:
                return str(np.asarray(var.values).ravel()[0])
    return None


def read_variable(tree: xr.DataTree | xr.Dataset, spec: VariableDef, path: str) -> xr.DataArray | None:
    """A canonical variable from its candidate paths or per-band variables (lazy), scaled to canonical units.

    Raises:
        MissingVariable: when a required variable (or one of its bands) is absent.
    """
    if spec.bands:
        parts, missing = [], []
        for wavelength, candidates in sorted(spec.bands.items()):
            band = find(tree, candidates)
            if band is None:
                missing.append(f"{wavelength:g} nm ({'|'.join(candidates)})")
            else:
                parts.append(band.expand_dims(wavelength=[wavelength]))
        if missing:
            if spec.required or parts:
                raise MissingVariable(f"{path}: band(s) missing for {spec.name}: {', '.join(missing)}")
            return None
        data = xr.concat(parts, dim="wavelength", coords="minimal", compat="override", join="override")
        data = data.transpose(..., "wavelength")
    else:
        data = find(tree, spec.paths)
        if data is None:
            if spec.required:
                raise MissingVariable(f"{path}: no variable {spec.name} (looked for {', '.join(spec.paths)})")
            return None
        if spec.wavelengths:
            data = _with_wavelength(tree, data, spec, path)
    if spec.scale != 1.0:
        data = data * np.float32(spec.scale)
    return data.rename(spec.name).assign_attrs(units=spec.units or "")


def _with_wavelength(tree, data: xr.DataArray, spec: VariableDef, path: str) -> xr.DataArray:
    wavelengths = find(tree, spec.wavelengths)
    if wavelengths is None:
        raise MissingVariable(f"{path}: no wavelength coordinate for {spec.name} ({', '.join(spec.wavelengths)})")
    values = np.asarray(wavelengths.values, dtype=float)
    matching = [d for d in data.dims if d in wavelengths.dims] or \
        [d for d in data.dims if data.sizes[d] == values.size]
    if not matching:
        raise InvalidFile(f"{path}: {spec.name} has no dimension of the {values.size} wavelengths")
    dim = matching[-1]
    data = data.rename({dim: "wavelength"}) if dim != "wavelength" else data
    return data.assign_coords(wavelength=values).transpose(..., "wavelength")


def invalid_mask(flags: xr.DataArray | None, invalid: tuple[str, ...], path: str) -> xr.DataArray | None:
    """Boolean mask of pixels with any of the ``invalid`` flags set, decoded from CF attributes.

    Raises:
        InvalidFile: when the flag variable lacks ``flag_masks``/``flag_meanings`` or a flag name
            of the definition is not among its meanings.
    """
    if flags is None or not invalid:
        return None
    masks, meanings = flags.attrs.get("flag_masks"), flags.attrs.get("flag_meanings")
    if masks is None or meanings is None:
        raise InvalidFile(f"{path}: flag variable {flags.name} has no flag_masks/flag_meanings attributes")
    if isinstance(masks, str):
        masks = [int(m) for m in re.split(r"[,\s]+", masks.strip()) if m]
    names = str(meanings).split()
    lookup = dict(zip(names, np.atleast_1d(masks).astype(np.int64).tolist(), strict=True))
    unknown = [n for n in invalid if n not in lookup]
    if unknown:
        raise InvalidFile(f"{path}: flags {unknown} of the product definition are not in {flags.name} "
                          f"(meanings: {' '.join(names)})")
    combined = np.int64(0)
    for name in invalid:
        combined |= np.int64(lookup[name])
    return (flags.astype(np.int64) & combined) != 0


def footprint(lat: np.ndarray, lon: np.ndarray, step: int = 16) -> tuple[str, tuple[float, float, float, float]]:
    """Footprint WKT and bbox ``(lon_min, lat_min, lon_max, lat_max)`` of 1-D grid or 2-D swath coordinates.

    For 2-D swaths the polygon follows the granule edge (every ``step``-th pixel); for 1-D grids it
    is the grid rectangle.
    """
    lat, lon = np.asarray(lat, dtype=float), np.asarray(lon, dtype=float)
    if lat.ndim == 1 and lon.ndim == 1:
        lo0, lo1, la0, la1 = np.nanmin(lon), np.nanmax(lon), np.nanmin(lat), np.nanmax(lat)
        ring = [(lo0, la0), (lo1, la0), (lo1, la1), (lo0, la1), (lo0, la0)]
    else:
        rows, cols = lat.shape
        edge = ([(0, j) for j in range(0, cols, step)] + [(i, cols - 1) for i in range(0, rows, step)]
                + [(rows - 1, j) for j in range(cols - 1, -1, -step)] + [(i, 0) for i in range(rows - 1, -1, -step)])
        ring = [(lon[i, j], lat[i, j]) for i, j in edge if np.isfinite(lat[i, j]) and np.isfinite(lon[i, j])]
        if len(ring) < 3:
            raise InvalidFile("swath has no valid latitude/longitude on its edge")
        ring.append(ring[0])
        lo0, lo1, la0, la1 = np.nanmin(lon), np.nanmax(lon), np.nanmin(lat), np.nanmax(lat)
    wkt = "POLYGON((" + ", ".join(f"{x:.5f} {y:.5f}" for x, y in ring) + "))"
    return wkt, (float(lo0), float(la0), float(lo1), float(la1))


def build_granule(product: ProductDef, path: str | Path, dataset: xr.Dataset, attrs: Mapping[str, Any],
                  tree: xr.DataTree | xr.Dataset | None = None, granule_id: str | None = None) -> Granule:
    """Assemble a :class:`Granule`: times, version, key and footprint from the definition.

    Raises:
        InvalidFile: when the sensing times cannot be found or parsed.
    """
    name = Path(str(path).rstrip("/")).name
    granule_id = granule_id or re.sub(r"\.(nc|nc4|h5|SEN3|zarr)$", "", name)
    fields = product.name_fields(name)
    start = resolve(product.time_start, attrs, fields, tree)
    end = resolve(product.time_end, attrs, fields, tree) or start
    if start is None:
        raise InvalidFile(f"{path}: no sensing time (looked in {', '.join(product.time_start)})")
    try:
        t0, t1 = parse_time(start), parse_time(end)
    except ValueError as exc:
        raise InvalidFile(f"{path}: {exc}") from exc
    if "latitude" in dataset.coords:
        lat, lon = dataset["latitude"].values, dataset["longitude"].values
    else:
        lat, lon = dataset["lat"].values, dataset["lon"].values
    wkt, bbox = footprint(lat, lon)
    template = {"product": product.id, "granule_id": granule_id, **fields}
    if callable(getattr(tree, "close", None)) and getattr(dataset, "_close", None) is None:
        # granule.dataset.close() releases the source file (and its HDF5 chunk cache) once the
        # data are in memory, instead of whenever the garbage collector breaks the tree's cycles
        dataset.set_close(tree.close)
    return Granule(product=product.id, granule_id=granule_id,
                   granule_key=product.granule_key.format_map(_Missing(template)), dataset=dataset,
                   time_start=t0, time_end=t1,
                   processing_version=resolve(product.processing_version, attrs, fields, tree),
                   footprint=wkt, bbox=bbox, name_fields=fields, attrs=dict(attrs))


class _Missing(dict):
    def __missing__(self, key: str) -> str:
        return ""


def swath_coordinates(tree, product: ProductDef, path) -> tuple[xr.DataArray, xr.DataArray]:
    """2-D latitude and longitude of the definition's candidate paths.

    Raises:
        MissingVariable: when either is absent.
        InvalidFile: when they are not 2-D arrays of the same shape.
    """
    lat, lon = find(tree, product.latitude), find(tree, product.longitude)
    if lat is None or lon is None:
        raise MissingVariable(f"{path}: no latitude/longitude (looked for {', '.join(product.latitude)} and "
                              f"{', '.join(product.longitude)})")
    if lat.ndim != 2 or lon.ndim != 2 or lat.shape != lon.shape:
        raise InvalidFile(f"{path}: latitude {lat.dims}{lat.shape} and longitude {lon.dims}{lon.shape} must be "
                          "2-D arrays of the same shape for a swath product; the file is corrupt or not a swath")
    return lat, lon
