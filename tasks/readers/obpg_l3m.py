"""NASA OBPG Level-3 mapped (L3m, "Standard Mapped Image") files: PACE OCI, MODIS, VIIRS, ...

An L3m file is one NetCDF-4 file per parameter on an equirectangular grid: 1-D ``lat``
(descending, degree_north) and ``lon`` (ascending, degree_east) coordinate variables, the
parameter (``chlor_a(lat, lon)``, ``Rrs(lat, lon, wavelength)``, ...) with ``_FillValue``
-32767, an optional ``palette`` and the global attributes ``time_coverage_start/end`` and
``processing_version``. Format: https://oceancolor.gsfc.nasa.gov/resources/docs/formats/
(Ocean Level-3 Standard Mapped Image).

The reader returns the grid layout of ``lake_schema/cubes.yaml``: dims ``(time, lat, lon[,
wavelength])`` with a length-1 ``time`` holding the granule's nominal time.
"""

from __future__ import annotations

import dataclasses
from datetime import datetime
from pathlib import Path

import numpy as np
import xarray as xr

from lake_schema.definitions import ProductDef
from tasks.errors import InvalidFile, MissingVariable
from tasks.readers.base import Granule
from tasks.readers.common import has_netcdf_magic
from tasks.readers.satellite_common import (
    build_granule,
    find,
    global_attrs,
    open_tree,
    parse_time,
    read_variable,
    resolve,
)

#: HDF5 signature (NetCDF-4 files); NetCDF-3 ``CDF`` is accepted too.


def can_open(path: str | Path) -> bool:
    """True for a NetCDF file whose name has the OBPG L3m level marker (``.L3m.``)."""
    return ".L3m." in Path(path).name and has_netcdf_magic(path)


def read_variables(tree: xr.DataTree | xr.Dataset, product: ProductDef, path: str | Path
                   ) -> tuple[dict[str, xr.DataArray], str]:
    """The product's variables present in the file (lazy) and the name of the main variable.

    With ``options.require_any`` (OBPG L3 files carry one parameter or suite each) every variable
    is optional and at least one must be present; the main variable is the definition's
    ``main_variable`` when present, else the first variable found (in definition order).

    Raises:
        MissingVariable: when a required variable is absent, or none of the variables is present.
    """
    require_any = bool(product.options.get("require_any"))
    found: dict[str, xr.DataArray] = {}
    for name, spec in product.variables.items():
        spec = dataclasses.replace(spec, required=False) if require_any else spec
        data = read_variable(tree, spec, str(path))
        if data is not None:
            found[name] = data
    if not found:
        expected = "; ".join(f"{n} ({'|'.join(v.paths or [f'{w:g} nm band' for w in v.bands])})"
                             for n, v in product.variables.items())
        raise MissingVariable(f"{path}: none of the variables of product {product.id} is in the file "
                              f"(expected one of: {expected}); check the file belongs to this product")
    main = product.main_variable if product.main_variable in found else next(iter(found))
    return found, main


def nominal_time(product: ProductDef, attrs: dict, name_fields: dict[str, str], tree, path) -> datetime:
    """Nominal time of a grid granule, naive UTC.

    ``options.time_coordinate`` (metadata sources, e.g. ``["name:date"]``) when given and found,
    else the midpoint of the sensing period (``time_start`` / ``time_end`` sources).

    Raises:
        InvalidFile: when no time can be found or parsed.
    """
    sources = tuple(product.options.get("time_coordinate") or ())
    try:
        value = resolve(sources, attrs, name_fields, tree) if sources else None
        if value is not None:
            return parse_time(value)
        start = resolve(product.time_start, attrs, name_fields, tree)
        end = resolve(product.time_end, attrs, name_fields, tree) or start
        if start is None:
            raise ValueError(f"no sensing time (looked in {', '.join(sources + product.time_start)})")
        t0, t1 = parse_time(start), parse_time(end)
    except ValueError as exc:
        raise InvalidFile(f"{path}: {exc}") from exc
    return t0 + (t1 - t0) / 2


def _grid_axes(tree, product: ProductDef, path) -> tuple[xr.DataArray, xr.DataArray]:
    lat, lon = find(tree, product.latitude), find(tree, product.longitude)
    if lat is None or lon is None:
        raise MissingVariable(f"{path}: no grid coordinates (looked for latitude in {', '.join(product.latitude)} "
                              f"and longitude in {', '.join(product.longitude)})")
    if lat.ndim != 1 or lon.ndim != 1:
        raise InvalidFile(f"{path}: L3m latitude/longitude must be 1-D, got {lat.dims} and {lon.dims}")
    return lat, lon


def open_obpg_l3m(path: str | Path, product: ProductDef) -> Granule:
    """Open an OBPG L3m file as a lazy grid granule.

    Args:
        path: the ``.nc`` file.
        product: its product definition (``reader: obpg_l3m``).

    Returns:
        A :class:`Granule` whose dataset has dims ``(time, lat, lon[, wavelength])``: ``lat``
        (degree_north, file order), ``lon`` (degree_east, wrapped to [-180, 180) and ascending),
        ``time`` (length 1, nominal time), the canonical variables (fill -> NaN, canonical units)
        and ``attrs['main_variable']``.

    Raises:
        InvalidFile: unreadable file, bad coordinates or times.
        MissingVariable: required variable absent, or none of the product's variables present.
    """
    tree = open_tree(path)
    attrs = global_attrs(tree)
    variables, main = read_variables(tree, product, path)
    lat, lon = _grid_axes(tree, product, path)
    rename = {lat.dims[0]: "lat", lon.dims[0]: "lon"}
    data_vars = {}
    for name, data in variables.items():
        if lat.dims[0] not in data.dims or lon.dims[0] not in data.dims:
            raise InvalidFile(f"{path}: {name} dims {data.dims} do not include the grid dims "
                              f"{lat.dims[0]}/{lon.dims[0]}")
        data = data.drop_vars([c for c in data.coords if c != "wavelength"]).rename(rename)
        data_vars[name] = data.transpose("lat", "lon", ...)
    lon_values = np.asarray(lon.values, dtype=np.float64)
    wrapped = (lon_values + 180.0) % 360.0 - 180.0
    dataset = xr.Dataset(data_vars, coords={"lat": ("lat", np.asarray(lat.values, dtype=np.float64),
                                                    {"units": "degree_north", "standard_name": "latitude"}),
                                            "lon": ("lon", wrapped,
                                                    {"units": "degree_east", "standard_name": "longitude"})})
    if np.any(np.diff(wrapped) <= 0):
        dataset = dataset.sortby("lon")
    name_fields = product.name_fields(Path(str(path)).name)
    when = nominal_time(product, attrs, name_fields, tree, path)
    dataset = dataset.expand_dims(time=[np.datetime64(when, "ns")]).transpose("time", "lat", "lon", ...)
    dataset.attrs.update(main_variable=main, source_product=product.id)
    granule = build_granule(product, path, dataset, attrs, tree)
    granule.attrs["main_variable"] = main
    return granule
