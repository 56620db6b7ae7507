"""NASA OBPG Level-2 swath files (l2gen output: PACE OCI OC_AOP / OC_BGC, MODIS, VIIRS L2 OC).

Layout (NetCDF-4 groups), as in the OB.DAAC PACE OCI L2 files:

* ``geophysical_data``: the products on ``(number_of_lines, pixels_per_line)``, spectral ones
  (``Rrs``, ``Rrs_unc``) on ``(number_of_lines, pixels_per_line, wavelength_3d)`` as scaled
  integers (``scale_factor``/``add_offset``/``_FillValue``), and ``l2_flags`` (int32 bitmask with
  ``flag_masks``/``flag_meanings``); angles ``solz``/``senz`` only when l2gen was asked for them.
* ``navigation_data``: 2-D ``latitude``/``longitude``.
* ``sensor_band_parameters``: ``wavelength_3d`` (nm) of the 3-D variables.
* global attributes ``time_coverage_start``/``time_coverage_end``, ``processing_version``.

See https://nasa.github.io/oceandata-notebooks/notebooks/oci/oci_file_structure.html. The reader
returns the swath layout of ``lake_schema/cubes.yaml``: dims ``(y, x[, wavelength])`` with 2-D
``latitude``/``longitude`` coordinates.
"""

from __future__ import annotations

from pathlib import Path

import xarray as xr

from lake_schema.definitions import ProductDef
from tasks.errors import InvalidFile, MissingVariable
from tasks.readers.base import Granule
from tasks.readers.common import has_netcdf_magic
from tasks.readers.obpg_l3m import read_variables
from tasks.readers.satellite_common import (
    build_granule,
    find,
    global_attrs,
    invalid_mask,
    open_tree,
    swath_coordinates,
)

SWATH_DIMS = ("y", "x")


def can_open(path: str | Path) -> bool:
    """True for a NetCDF file whose name has the OBPG L2 level marker (``.L2.`` or ``.L2_``)."""
    name = Path(path).name
    return (".L2." in name or ".L2_" in name) and has_netcdf_magic(path)


def _to_swath(data: xr.DataArray, nav_dims: tuple[str, ...], shape: tuple[int, ...], name: str, path) -> xr.DataArray:
    """Rename the swath dims of ``data`` to (y, x) and check they match the navigation shape."""
    data = data.drop_vars([c for c in data.coords if c != "wavelength"])
    if all(d in data.dims for d in nav_dims):
        data = data.rename(dict(zip(nav_dims, SWATH_DIMS, strict=True)))
    elif data.ndim >= 2 and data.shape[:2] == shape:
        data = data.rename(dict(zip(data.dims[:2], SWATH_DIMS, strict=True)))
    else:
        raise InvalidFile(f"{path}: {name} {data.dims}{data.shape} is not on the swath grid {nav_dims}{shape} of "
                          "latitude/longitude; the file is corrupt or not an OBPG L2 swath")
    if (data.sizes["y"], data.sizes["x"]) != shape:
        raise InvalidFile(f"{path}: {name} has swath shape {(data.sizes['y'], data.sizes['x'])}, latitude/longitude "
                          f"have {shape}; the file is corrupt")
    return data.transpose(*SWATH_DIMS, ...)


def _flags_and_angles(tree, product: ProductDef, path) -> dict[str, xr.DataArray]:
    out = {}
    if product.flags is not None:
        flags = find(tree, product.flags.paths)
        if flags is None:
            raise MissingVariable(f"{path}: no flag variable (looked for {', '.join(product.flags.paths)})")
        invalid_mask(flags, product.flags.invalid, str(path))  # checks the definition's flag names (lazy)
        out["flags"] = flags.rename("flags")
    for name, candidates in product.angles.items():
        angle = find(tree, candidates)
        if angle is not None:  # OCI L2 AOP files carry no angles unless l2gen was asked for solz/senz
            out[name] = angle.rename(name).assign_attrs(units="degree")
    return out


def open_obpg_l2(path: str | Path, product: ProductDef) -> Granule:
    """Open an OBPG L2 swath file as a lazy swath granule.

    Args:
        path: the ``.nc`` file.
        product: its product definition (``reader: obpg_l2``).

    Returns:
        A :class:`Granule` whose dataset has dims ``(y, x[, wavelength])``, 2-D ``latitude``
        (degree_north) / ``longitude`` (degree_east, [-180, 180)) coordinates, the canonical
        variables (fill -> NaN, e.g. ``rrs`` in sr-1 with ``wavelength`` in nm), ``flags`` (raw
        ``l2_flags`` with its attributes) and the angles present (degree).

    Raises:
        InvalidFile: unreadable file, inconsistent geolocation, unknown flag names, bad times.
        MissingVariable: required variable, flags or geolocation absent.
    """
    tree = open_tree(path)
    lat, lon = swath_coordinates(tree, product, path)
    variables, main = read_variables(tree, product, path)
    variables.update(_flags_and_angles(tree, product, path))
    nav_dims, shape = tuple(lat.dims), tuple(lat.shape)
    data_vars = {name: _to_swath(data, nav_dims, shape, name, path) for name, data in variables.items()}
    coords = {"latitude": (SWATH_DIMS, lat.data, {"units": "degree_north", "standard_name": "latitude"}),
              "longitude": (SWATH_DIMS, (lon.data + 180.0) % 360.0 - 180.0,
                            {"units": "degree_east", "standard_name": "longitude"})}
    dataset = xr.Dataset(data_vars, coords=coords)
    dataset.attrs.update(main_variable=main, source_product=product.id)
    attrs = global_attrs(tree)
    granule = build_granule(product, path, dataset, attrs, tree)
    granule.attrs["main_variable"] = main
    return granule
