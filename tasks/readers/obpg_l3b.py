"""NASA OBPG Level-3 binned (L3b) files: MODIS, VIIRS, PACE OCI, ... on the ISIN grid.

Layout (NetCDF-4, group ``level-3_binned_data``), as in the OB.DAAC files:

* ``BinList(binListDim)`` compound ``{bin_num u4, nobs i2, nscenes i2, weights f4, time_rec f4}``:
  the bins with data, ascending ``bin_num`` (1-based ISIN bin numbers);
* one compound ``{sum f4, sum_squared f4}`` per parameter on ``binDataDim`` (same order); the
  bin mean is ``sum / weights``;
* ``BinIndex(binIndexDim)`` compound ``{start_num, begin, extent, max}`` per ISIN row: first bin
  number of the row, first bin present, number of bins present, bins in the row; its size is
  NUMROWS (4320 for 4.6 km MODIS/OCI, 2160 for 9.2 km).

ISIN grid (SeaWiFS Technical Report Series vol. 32, Appendix A; OCSSW ``seabin.c`` ``bin_init`` /
``bin2ll``): row ``r`` (0-based) has centre latitude ``(r + 0.5) * 180 / NUMROWS - 90``,
``numbin[r] = int(2 * NUMROWS * cos(lat_r) + 0.5)`` bins, ``basebin[0] = 1`` and
``basebin[r] = basebin[r-1] + numbin[r-1]``; bin ``b`` in row ``r`` has centre longitude
``-180 + 360 * (b - basebin[r] + 0.5) / numbin[r]``.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import xarray as xr

from lake_schema.definitions import ProductDef
from tasks.errors import InvalidFile, MissingVariable
from tasks.readers.base import Granule
from tasks.readers.common import has_netcdf_magic
from tasks.readers.obpg_l3m import read_variables
from tasks.readers.satellite_common import build_granule, global_attrs, open_tree

GROUP = "level-3_binned_data"
_SUM_FIELDS = {"sum", "sum_squared"}


def can_open(path: str | Path) -> bool:
    """True for a NetCDF file whose name has the OBPG L3b level marker (``.L3b.``)."""
    return ".L3b." in Path(path).name and has_netcdf_magic(path)


def isin_rows(numrows: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """ISIN row tables (OCSSW ``bin_init``).

    Args:
        numrows: number of latitude rows (NUMROWS).

    Returns:
        ``(latbin, numbin, basebin)``: centre latitude of each row (degree_north), bins per row,
        first (1-based) bin number of each row.
    """
    latbin = (np.arange(numrows, dtype=np.float64) + 0.5) * (180.0 / numrows) - 90.0
    numbin = (np.cos(np.deg2rad(latbin)) * (2.0 * numrows) + 0.5).astype(np.int64)
    basebin = np.concatenate([[1], 1 + np.cumsum(numbin)[:-1]]).astype(np.int64)
    return latbin, numbin, basebin


def bin_centres(bin_num: np.ndarray, numrows: int) -> tuple[np.ndarray, np.ndarray]:
    """Centre latitude/longitude (degrees) of 1-based ISIN bin numbers (OCSSW ``bin2ll``).

    Raises:
        ValueError: when a bin number is outside ``1 .. total bins``.
    """
    latbin, numbin, basebin = isin_rows(numrows)
    bins = np.asarray(bin_num, dtype=np.int64)
    total = basebin[-1] + numbin[-1] - 1
    if bins.size and (bins.min() < 1 or bins.max() > total):
        raise ValueError(f"bin numbers outside 1..{total} of the {numrows}-row ISIN grid")
    row = np.searchsorted(basebin, bins, side="right") - 1
    lon = -180.0 + 360.0 * (bins - basebin[row] + 0.5) / numbin[row]
    return latbin[row], lon


def _check_index(index: np.ndarray, path) -> int:
    """NUMROWS from BinIndex, checked against the ISIN formulas."""
    numrows = index.size
    if numrows < 2:
        raise InvalidFile(f"{path}: BinIndex has {numrows} rows; not an ISIN L3b file")
    _, numbin, basebin = isin_rows(numrows)
    if "start_num" in (index.dtype.names or ()) and not (
            np.array_equal(index["start_num"].astype(np.int64), basebin)
            and np.array_equal(index["max"].astype(np.int64), numbin)):
        raise InvalidFile(f"{path}: BinIndex start_num/max differ from the {numrows}-row ISIN grid "
                          "(SeaDAS bin_init); the file is corrupt or uses another binning scheme")
    return numrows


def _bin_means(group: xr.Dataset, weights: xr.DataArray) -> xr.Dataset:
    """Lazy float32 ``sum / weights`` of every {sum, sum_squared} compound variable (dim ``bin``)."""
    means = {}
    for name, var in group.data_vars.items():
        if var.dtype.names and _SUM_FIELDS <= set(var.dtype.names):
            if var.size != weights.size:
                raise InvalidFile(f"{name} has {var.size} bins, BinList {weights.size}")
            total = var.data["sum"].astype(np.float32)
            mean = total / weights.data
            means[name] = xr.DataArray(mean, dims=("bin",), attrs=dict(var.attrs))
    return xr.Dataset(means)


def open_obpg_l3b(path: str | Path, product: ProductDef) -> Granule:
    """Open an OBPG L3b file as a binned granule (means lazy, bin geometry computed).

    Args:
        path: the ``.nc`` file.
        product: its product definition (``reader: obpg_l3b``); variable paths name the
            per-parameter compound variables, e.g. ``level-3_binned_data/par``.

    Returns:
        A :class:`Granule` whose dataset has dims ``(bin[, wavelength])``: coordinate ``bin``
        (ISIN bin number), ``latitude``/``longitude`` of the bin centres (degrees), the canonical
        variables as float32 bin means (``sum / weights``, canonical units), ``nobs`` and
        ``weights``; ``attrs['numrows']`` and ``attrs['main_variable']``.

    Raises:
        InvalidFile: unreadable file, missing or inconsistent bin structures, bad times.
        MissingVariable: required variable absent, or none of the product's variables present.
    """
    tree = open_tree(path)
    try:
        group = tree[GROUP].dataset
        bin_list, bin_index = group["BinList"], group["BinIndex"]
    except KeyError as exc:
        raise MissingVariable(f"{path}: no {GROUP}/BinList and BinIndex ({exc}); not an OBPG L3b file") from None
    numrows = _check_index(bin_index.values, path)
    if not {"bin_num", "nobs", "weights"} <= set(bin_list.dtype.names or ()):
        raise InvalidFile(f"{path}: BinList fields {bin_list.dtype.names} lack bin_num/nobs/weights")
    bin_num = np.asarray(bin_list.data["bin_num"].compute(), dtype=np.int64)
    try:
        lat, lon = bin_centres(bin_num, numrows)
    except ValueError as exc:
        raise InvalidFile(f"{path}: {exc}") from exc
    weights = xr.DataArray(bin_list.data["weights"], dims=("bin",), attrs={"units": "1"})
    nobs = xr.DataArray(bin_list.data["nobs"], dims=("bin",), attrs={"units": "1"})
    try:
        means = _bin_means(group, weights)
    except InvalidFile as exc:
        raise InvalidFile(f"{path}: {exc}") from None
    variables, main = read_variables(xr.DataTree.from_dict({GROUP: means}), product, path)
    dataset = xr.Dataset({**{n: v.transpose("bin", ...) for n, v in variables.items()},
                          "nobs": nobs, "weights": weights},
                         coords={"bin": ("bin", bin_num),
                                 "latitude": ("bin", lat, {"units": "degree_north", "standard_name": "latitude"}),
                                 "longitude": ("bin", lon, {"units": "degree_east", "standard_name": "longitude"})})
    dataset.attrs.update(main_variable=main, source_product=product.id, numrows=numrows,
                         binning_scheme="Integerized Sinusoidal Grid")
    granule = build_granule(product, path, dataset, global_attrs(tree), tree)
    granule.attrs.update(main_variable=main, numrows=numrows)
    return granule
