"""CF gridded Level-3/Level-4 products with 1-D latitude/longitude (NetCDF files and Zarr stores).

One reader family for the mapped products of ESA OC-CCI, Copernicus Marine GlobColour, ODATIS-MR
and xcube-style L3 cubes: the product definition (``lake_schema/products/<id>.yaml``) says where
each canonical variable is; this module only opens the source lazily and lays the variables out
on the ``grid`` geometry of ``lake_schema/cubes.yaml``: dims ``(time, lat, lon[, wavelength])``,
``lat`` in the source order, ``lon`` wrapped to [-180, 180) (re-sorted only when wrapping broke
its order), dask arrays, no source encodings.

Sources:

* a NetCDF/HDF5 file path (opened with :func:`~tasks.readers.satellite_common.open_tree`);
* a Zarr store (v2 or v3, consolidated or not): a path ending in ``.zarr``, a folder holding
  ``.zmetadata``/``.zgroup``/``zarr.json``, or any fsspec URL (``s3://``, ``https://``,
  ``file://``) containing ``.zarr``, e.g. a Copernicus Marine ARCO store. URLs are opened lazily
  through fsspec; only the chunks a later step computes are fetched.

Time: a source with a ``time`` dimension keeps it, whatever its length. A multi-time store (the
xcube cube, an ARCO time series) is therefore ONE granule holding several time steps; the ingest
stage appends its time slices to the cube. With ``options.times_from_coordinate`` the granule's
``time_start``/``time_end`` are the min/max of that coordinate. A source without a ``time``
dimension gets one of length 1: the nominal time from the metadata sources in
``options.time_coordinate``, else the midpoint of ``time_start``/``time_end``.
"""

from __future__ import annotations

import re
from dataclasses import replace
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np
import xarray as xr

from lake_schema.definitions import ProductDef, VariableDef
from tasks.errors import InvalidFile, MissingVariable
from tasks.readers.base import Granule
from tasks.readers.satellite_common import (
    build_granule,
    find,
    invalid_mask,
    open_tree,
    parse_time,
    read_variable,
    resolve,
)

_ZARR_MARKERS = (".zmetadata", ".zgroup", "zarr.json")
#: ``202108010000Z`` (OC-CCI ``time_coverage_start``), not among parse_time's formats.
_COMPACT_TIME = re.compile(r"^(\d{4})(\d{2})(\d{2})(\d{2})(\d{2})Z$")


def is_zarr(path: str | Path) -> bool:
    """Whether ``path`` is a Zarr store: ``*.zarr`` path or URL, or a folder with Zarr metadata."""
    text = str(path).rstrip("/")
    if "://" in text:
        return ".zarr" in text
    if text.endswith(".zarr"):
        return True
    folder = Path(text)
    return folder.is_dir() and any((folder / marker).exists() for marker in _ZARR_MARKERS)


def can_open(path: str | Path) -> bool:
    """Whether ``path`` looks like a source of this family (Zarr store or NetCDF/HDF5 file name)."""
    return is_zarr(path) or str(path).lower().endswith((".nc", ".nc4", ".h5", ".hdf5"))


def open_source(path: str | Path) -> xr.DataTree | xr.Dataset:
    """Open a NetCDF file (all groups) or a Zarr store / URL lazily.

    Raises:
        InvalidFile: when the source cannot be opened (truncated, corrupt, not NetCDF/Zarr).
    """
    if not is_zarr(path):
        return open_tree(path)
    try:
        return xr.open_zarr(str(path), consolidated=None, chunks={}, decode_timedelta=False)
    except Exception as exc:  # noqa: BLE001 - any decoding failure means a bad store here
        raise InvalidFile(f"{path}: cannot be opened as a Zarr store ({type(exc).__name__}: {exc}); "
                          "check the path/URL and that the store is complete") from exc


def open_cf_grid(path: str | Path, product: ProductDef) -> Granule:
    """Read one CF gridded L3/L4 file or Zarr store into a canonical :class:`Granule`.

    Args:
        path: NetCDF file, Zarr store folder or fsspec URL of a Zarr store.
        product: the product definition (``reader: cf_grid``, ``geometry: grid``).

    Returns:
        The granule; its dataset has dims ``(time, lat, lon[, wavelength])`` (degrees, nm,
        naive-UTC ``datetime64[ns]``), canonical names and units, lazy dask arrays, and a raw
        ``flags`` variable when the definition names one.

    Raises:
        InvalidFile: unreadable source, latitude/longitude missing or not 1-D, undecodable time.
        MissingVariable: a required variable (or, with ``options.require_any``, every variable)
            of the definition is absent.
    """
    tree = open_source(path)
    root = tree if isinstance(tree, xr.Dataset) else tree.to_dataset()
    lat, lon = _axis(tree, product.latitude, "latitude", path), _axis(tree, product.longitude, "longitude", path)
    variables = _read_variables(tree, product, path)
    dims = {lat.dims[0]: "lat", lon.dims[0]: "lon"}
    data = xr.Dataset({name: _on_grid(var, dims, name, path) for name, var in variables.items()})
    data = data.assign_coords(lat=("lat", np.asarray(lat.values, dtype=np.float64)),
                              lon=("lon", np.asarray(lon.values, dtype=np.float64)))
    data = _wrap_longitude(data)
    attrs = _normalised_time_attrs(dict(root.attrs), product)
    granule = build_granule(product, path, data, attrs, tree=tree)
    times = _source_times(root, path)
    if times is None:
        times = np.array([_nominal_time(product, granule, attrs, tree)], dtype="datetime64[ns]")
    elif product.options.get("times_from_coordinate"):
        granule.time_start, granule.time_end = parse_time(times.min()), parse_time(times.max())
    granule.dataset = _finish(data, times)
    return granule


def _axis(tree, candidates: tuple[str, ...], what: str, path) -> xr.DataArray:
    axis = find(tree, candidates)
    if axis is None:
        raise MissingVariable(f"{path}: no {what} variable (looked for {', '.join(candidates)})")
    if axis.ndim != 1:
        raise InvalidFile(f"{path}: {what} {axis.name!r} is {axis.ndim}-D {tuple(axis.dims)}; the cf_grid reader "
                          "needs 1-D lat/lon of a regular grid - use a swath reader (cf_swath) for 2-D geolocation")
    return axis


def _read_variables(tree, product: ProductDef, path) -> dict[str, xr.DataArray]:
    """Canonical variables, the flag variable and angles, as lazy arrays on the source dims."""
    require_any = bool(product.options.get("require_any"))
    out: dict[str, xr.DataArray] = {}
    for name, spec in product.variables.items():
        var = read_variable(tree, _present_bands(tree, spec) if require_any else spec, path)
        if var is not None:
            out[name] = var
    if require_any and not out:
        raise MissingVariable(f"{path}: none of the variables of {product.id} is present "
                              f"({', '.join(product.variables)}); is this a {product.title} file?")
    if product.flags is not None:
        flags = find(tree, product.flags.paths)
        if flags is not None:
            invalid_mask(flags, product.flags.invalid, str(path))  # lazy: checks the flag names only
            out["flags"] = _integer_flags(flags)
    for name, candidates in product.angles.items():
        angle = find(tree, candidates)
        if angle is not None:
            out[name] = angle.assign_attrs(units="degree")
    return out


def _present_bands(tree, spec: VariableDef) -> VariableDef:
    """With ``require_any`` (one parameter per file), keep only the bands present in the file."""
    if not spec.bands:
        return spec
    bands = {wl: paths for wl, paths in spec.bands.items() if find(tree, paths) is not None}
    if not bands:  # none of the bands: the variable is absent from this file
        return replace(spec, paths=(), bands={}, required=False)
    return replace(spec, bands=bands)


def _integer_flags(flags: xr.DataArray) -> xr.DataArray:
    """Raw flags as int64 (float flag stores such as xcube cubes: NaN, i.e. no data, becomes 0)."""
    if np.issubdtype(flags.dtype, np.floating):
        flags = flags.fillna(0).astype(np.int64)
    return flags.rename("flags").assign_attrs({k: v for k, v in flags.attrs.items() if k != "units"})


def _on_grid(var: xr.DataArray, dims: dict[str, str], name: str, path) -> xr.DataArray:
    missing = [d for d in dims if d not in var.dims]
    if missing:
        raise InvalidFile(f"{path}: variable {name} has dims {tuple(var.dims)}, not on the lat/lon grid "
                          f"({', '.join(dims)}); check the definition's latitude/longitude paths")
    extra = [d for d in var.dims if d not in (*dims, "time", "wavelength")]
    if extra:
        raise InvalidFile(f"{path}: variable {name} has unexpected dims {extra}; grid variables are "
                          "(time, lat, lon[, wavelength])")
    var = var.rename(dims).reset_coords(drop=True)
    var.encoding = {}
    return var.drop_vars([c for c in var.coords if c not in ("time", "wavelength")])


def _wrap_longitude(data: xr.Dataset) -> xr.Dataset:
    """Longitude in [-180, 180); re-sorted only when wrapping broke the source order."""
    lon = data["lon"].values
    outside = (lon < -180.0) | (lon >= 180.0)
    if not outside.any():
        return data
    wrapped = np.where(outside, ((lon + 180.0) % 360.0) - 180.0, lon)  # untouched values keep their bits
    data = data.assign_coords(lon=("lon", wrapped))
    return data if np.all(np.diff(wrapped) > 0) else data.sortby("lon")


def _normalised_time_attrs(attrs: dict[str, Any], product: ProductDef) -> dict[str, Any]:
    """Rewrite compact ``YYYYMMDDHHMMZ`` times (OC-CCI) of the time attributes as ISO 8601."""
    sources = (*product.time_start, *product.time_end, *product.options.get("time_coordinate", ()))
    for key in (s.partition(":")[2] for s in sources if s.startswith("attr:")):
        match = _COMPACT_TIME.match(str(attrs.get(key, "")).strip())
        if match:
            y, mo, d, h, mi = match.groups()
            attrs[key] = f"{y}-{mo}-{d}T{h}:{mi}:00Z"
    return attrs


def _source_times(root: xr.Dataset, path) -> np.ndarray | None:
    """The decoded ``time`` coordinate of a source with a time dimension (None without one)."""
    if "time" not in root.dims:
        return None
    if "time" not in root.variables:
        raise InvalidFile(f"{path}: dimension 'time' has no coordinate variable; cannot date the time steps")
    values = np.asarray(root["time"].values)
    if not np.issubdtype(values.dtype, np.datetime64):
        raise InvalidFile(f"{path}: time coordinate is not CF-decodable (units {root['time'].attrs.get('units')!r})")
    if np.isnat(values).any():
        raise InvalidFile(f"{path}: time coordinate has missing values")
    return values.astype("datetime64[ns]")


def _nominal_time(product: ProductDef, granule: Granule, attrs, tree) -> datetime:
    """``options.time_coordinate`` metadata sources, else the midpoint of the sensing period."""
    sources = tuple(product.options.get("time_coordinate", ()))
    text = resolve(sources, attrs, granule.name_fields, tree) if sources else None
    if text is not None:
        try:
            return parse_time(text)
        except ValueError as exc:
            raise InvalidFile(f"{granule.granule_id}: nominal time: {exc}") from exc
    return granule.time_start + (granule.time_end - granule.time_start) / 2


def _finish(data: xr.Dataset, times: np.ndarray) -> xr.Dataset:
    """Give every variable the time dimension and the canonical dim order."""
    out = {}
    for name, var in data.data_vars.items():
        if "time" not in var.dims:
            var = var.expand_dims(time=times.size)
        order = [d for d in ("time", "lat", "lon", "wavelength") if d in var.dims]
        out[name] = var.transpose(*order)
    ds = xr.Dataset(out).assign_coords(time=("time", times))
    for var in ds.variables.values():
        var.encoding = {}
    return ds
