"""Reader family ``cf_swath``: one NetCDF file with 2-D latitude/longitude and per-band variables.

Covers SNAP writer output (C2RCC OLCI/MSI subsets: ``rrs_1``.., ``conc_chl``, ``c2rcc_flags``,
``start_date`` = ``15-APR-2017 10:01:35.533860``) and ACOLITE L2W files (``Rrs_443``..,
``l2_flags``, ``isodate``). Everything product-specific is in the definition
(``lake_schema/products/<id>.yaml``); this module only maps the data dims to ``(y, x)``, attaches
2-D ``latitude``/``longitude`` and decodes the options below.

Definition ``options`` understood here (and by :mod:`.olci_sen3`):

* ``log10_variables``: canonical variables stored as log10 (units ``lg(re mg.m-3)``); they are
  converted with ``10**x`` unless the source ``units`` attribute is explicitly linear.
* ``flag_masks`` / ``flag_meanings``: CF flag attributes for flag variables that lack them
  (ACOLITE ``l2_flags`` carries none; the bits are documented in the definition).
* ``require_any``: at least one of the (optional) variables must be present.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

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
    read_variable,
    swath_coordinates,
)


def can_open(path: str | Path) -> bool:
    """True for NetCDF-4/HDF5 or classic NetCDF files (magic number), whatever their layout."""
    return has_netcdf_magic(path)


def open_cf_swath(path: str | Path, product: ProductDef) -> Granule:
    """Open a CF swath file lazily as a canonical :class:`Granule` (dims ``y, x[, wavelength]``).

    Args:
        path: the NetCDF file.
        product: its product definition (``reader: cf_swath``).

    Returns:
        The granule: canonical variables in canonical units (e.g. ``rrs`` in sr-1), raw ``flags``
        with CF ``flag_masks``/``flag_meanings``, optional angles (degree), 2-D ``latitude`` and
        ``longitude`` (degrees, longitude in [-180, 180)).

    Raises:
        InvalidFile: unreadable file, latitude/longitude not 2-D or of different shapes, a variable
            not on the latitude/longitude grid, or no sensing time.
        MissingVariable: a required variable, band, coordinate or the flag variable is absent.
    """
    tree = open_tree(path)
    lat, lon = swath_coordinates(tree, product, path)
    dims = dict(zip(lat.dims, ("y", "x"), strict=True))
    data = {}
    for name, spec in product.variables.items():
        var = read_variable(tree, spec, str(path))
        if var is None:
            continue
        var = on_grid(var, dims, lat.shape, path)
        data[name] = apply_log10(var, source_units(tree, spec), name, product)
    if product.options.get("require_any") and not data:
        raise MissingVariable(f"{path}: none of the variables {', '.join(product.variables)} of {product.id}")
    flags = read_flags(tree, product, path)
    if flags is not None:
        data["flags"] = on_grid(flags, dims, lat.shape, path)
    data.update(read_angles(tree, product, dims, lat.shape, path))
    dataset = assemble(data, lat, lon, dims)
    return build_granule(product, path, dataset, plain_attrs(global_attrs(tree)), tree)


def on_grid(var: xr.DataArray, dims: dict[str, str], shape: tuple[int, int], path) -> xr.DataArray:
    """``var`` with its two grid dims renamed to ``(y, x)``, checked against the coordinate shape.

    Raises:
        InvalidFile: when the variable is not on the latitude/longitude grid.
    """
    var = var.reset_coords(drop=True)
    spatial = [d for d in var.dims if d != "wavelength"]
    if len(spatial) != 2 or tuple(var.sizes[d] for d in spatial) != tuple(shape):
        raise InvalidFile(f"{path}: {var.name} has dims {dict(var.sizes)}, not the {shape} latitude/longitude "
                          "grid; the file is inconsistent")
    var = var.rename({old: new for old, new in zip(spatial, ("y", "x"), strict=True) if old != new})
    var = var.drop_vars([c for c in var.coords if c not in ("wavelength",)])
    return var.transpose("y", "x", ...)


def source_units(tree, spec) -> str | None:
    """The ``units`` attribute of the first variable (or band) the definition finds, or None."""
    candidates = spec.paths or next(iter(spec.bands.values()), ())
    var = find(tree, tuple(candidates))
    return None if var is None else var.attrs.get("units")


def apply_log10(var: xr.DataArray, units: str | None, name: str, product: ProductDef) -> xr.DataArray:
    """``10**var`` for variables listed in ``options.log10_variables`` (log10(mg m-3) -> mg m-3).

    The conversion is skipped when the source ``units`` attribute is present and is not a
    logarithmic unit (e.g. a later baseline that stores linear values).
    """
    if name not in product.options.get("log10_variables", ()):
        return var
    if units and not any(tag in str(units).lower() for tag in ("lg(", "log")):
        return var
    return (np.float32(10.0) ** var).rename(var.name).assign_attrs(var.attrs)


def read_flags(tree, product: ProductDef, path) -> xr.DataArray | None:
    """Raw flag variable with CF attributes (from the file or the definition options).

    Raises:
        MissingVariable: when the definition names flags the file lacks.
    """
    if product.flags is None:
        return None
    flags = find(tree, product.flags.paths)
    if flags is None:
        raise MissingVariable(f"{path}: no flag variable ({', '.join(product.flags.paths)})")
    attrs = {k: flags.attrs[k] for k in ("flag_masks", "flag_meanings") if k in flags.attrs}
    if "flag_masks" not in attrs and "flag_masks" in product.options:
        attrs = {"flag_masks": np.asarray(product.options["flag_masks"], dtype=np.int64),
                 "flag_meanings": " ".join(product.options["flag_meanings"])}
    return flags.rename("flags").assign_attrs(attrs, source_variable=str(flags.name))


def read_angles(tree, product: ProductDef, dims, shape, path) -> dict[str, xr.DataArray]:
    """Angle variables (degree) on the data grid; tie-point grids are interpolated linearly."""
    out = {}
    for name, candidates in product.angles.items():
        angle = find(tree, candidates)
        if angle is None:
            continue
        if set(angle.dims) != set(dims):
            sub_x, sub_y = float(angle.attrs.get("subsampling_x", 1)), float(angle.attrs.get("subsampling_y", 1))
            off_x, off_y = float(angle.attrs.get("offset_x", 0)), float(angle.attrs.get("offset_y", 0))
            angle = interpolate_tie_points(angle, shape, (sub_y, sub_x), (off_y, off_x))
        out[name] = on_grid(angle, dims, shape, path).rename(name).assign_attrs(units="degree")
    return out


def interpolate_tie_points(tp: xr.DataArray, shape: tuple[int, int], steps: tuple[float, float],
                           offsets: tuple[float, float] = (0.0, 0.0)) -> xr.DataArray:
    """Bilinear interpolation of a tie-point grid onto ``shape`` pixels, lazily (dims ``y, x``).

    Args:
        tp: tie-point values, 2-D (tie rows, tie columns).
        shape: pixel grid (rows, columns).
        steps: pixels between tie points (along-track, across-track), e.g. ``(1, 64)`` for OLCI.
        offsets: pixel position of the first tie point (SNAP ``offset_y``/``offset_x``).
    """
    ty, tx = tp.dims
    (iy, wy), (ix, wx) = (_weights(n, s, o, tp.sizes[d])
                          for n, s, o, d in zip(shape, steps, offsets, (ty, tx), strict=True))
    plain = tp.drop_vars(list(tp.coords))

    def corner(dy: int, dx: int) -> xr.DataArray:
        rows = np.minimum(iy + dy, tp.sizes[ty] - 1)
        cols = np.minimum(ix + dx, tp.sizes[tx] - 1)
        return plain.isel({ty: xr.DataArray(rows, dims="y"), tx: xr.DataArray(cols, dims="x")})

    wy, wx = xr.DataArray(wy, dims="y"), xr.DataArray(wx, dims="x")
    out = ((1 - wy) * (1 - wx) * corner(0, 0) + (1 - wy) * wx * corner(0, 1) + wy * (1 - wx) * corner(1, 0)
           + wy * wx * corner(1, 1))
    return out.astype(np.float32).transpose("y", "x").assign_attrs(tp.attrs)


def _weights(n: int, step: float, offset: float, size: int) -> tuple[np.ndarray, np.ndarray]:
    """Lower tie index and linear weight of each of ``n`` pixels (tie point k at pixel offset + k*step)."""
    t = np.clip((np.arange(n) - offset) / step, 0, max(size - 1, 0))
    i0 = np.clip(np.floor(t).astype(int), 0, max(size - 2, 0))
    return i0, t - i0


def assemble(data: dict[str, xr.DataArray], lat: xr.DataArray, lon: xr.DataArray, dims) -> xr.Dataset:
    """Dataset with 2-D ``latitude``/``longitude`` coordinates (longitude wrapped to [-180, 180))."""
    lat2 = on_grid(lat, dims, lat.shape, "")
    lon2 = on_grid(lon, dims, lon.shape, "")
    lon2 = xr.where(lon2 >= 180.0, lon2 - 360.0, lon2)
    coords = {"latitude": (("y", "x"), lat2.data, {"units": "degree_north", "standard_name": "latitude"}),
              "longitude": (("y", "x"), lon2.data, {"units": "degree_east", "standard_name": "longitude"})}
    data = {k: v.astype(np.float32) if v.dtype == np.float64 else v for k, v in data.items()}
    return xr.Dataset(data, coords=coords)


def plain_attrs(attrs: dict[str, Any]) -> dict[str, Any]:
    """Global attributes as plain Python values (numpy scalars/arrays -> numbers/lists)."""
    return {str(k): (v.tolist() if isinstance(v, np.ndarray | np.generic) else v) for k, v in attrs.items()}
