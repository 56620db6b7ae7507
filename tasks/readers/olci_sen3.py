"""Reader family ``olci_sen3``: Sentinel-3 OLCI Level-2 WFR SAFE folders (``*.SEN3``).

A SEN3 product is a folder: ``xfdumanifest.xml`` (XFDU/SAFE manifest: sensing period, footprint
``gml:posList`` as "lat lon lat lon ...", product name, baseline collection, platform) and one
NetCDF file per quantity (``Oa01_reflectance.nc`` .. ``Oa21_reflectance.nc``,
``geo_coordinates.nc``, ``wqsf.nc``, ``chl_oc4me.nc`` (baseline 003) / ``chlor_a.nc`` (004),
``chl_nn.nc``, ``tie_geometries.nc``, ...), dims ``rows`` x ``columns`` (tie-point files:
``tie_rows`` x ``tie_columns``, sub-sampled by the global attributes ``al_subsampling_factor`` /
``ac_subsampling_factor``).

Definition paths use the syntax ``"<file>:<variable>"`` (e.g. ``Oa01_reflectance.nc:Oa01_reflectance``):
the files a definition names are opened lazily and merged into one dataset whose variables are
named by those paths, so :func:`satellite_common.read_variable` works on it unchanged. Tie-point
angles are interpolated (bilinear, lazy) onto the pixel grid. Log10-stored chlorophyll
(``lg(re mg.m-3)``) is converted with ``10**x`` through the definition option ``log10_variables``.
"""

from __future__ import annotations

import dataclasses
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import numpy as np
import xarray as xr

from lake_schema.definitions import ProductDef
from tasks.errors import InvalidFile, MissingVariable
from tasks.readers.base import Granule
from tasks.readers.cf_swath import (
    apply_log10,
    assemble,
    on_grid,
    read_angles,
    read_flags,
    source_units,
)
from tasks.readers.satellite_common import build_granule, open_tree, parse_time, read_variable, swath_coordinates

MANIFEST = "xfdumanifest.xml"
#: XFDU / SAFE namespaces of the Sentinel-3 manifests.
NS = {
    "xfdu": "urn:ccsds:schema:xfdu:1",
    "sentinel-safe": "http://www.esa.int/safe/sentinel/1.1",
    "gml": "http://www.opengis.net/gml",
    "sentinel3": "http://www.esa.int/safe/sentinel/sentinel-3/1.0",
    "olci": "http://www.esa.int/safe/sentinel/sentinel-3/olci/1.0",
}
_PIXEL_DIMS = {"rows": "y", "columns": "x"}


def can_open(path: str | Path) -> bool:
    """True for a ``*.SEN3`` folder holding a manifest, or for the manifest itself."""
    try:
        return (sen3_folder(path) / MANIFEST).is_file()
    except InvalidFile:
        return False


def sen3_folder(path: str | Path) -> Path:
    """The SEN3 folder of ``path`` (the folder itself or its ``xfdumanifest.xml``).

    Raises:
        InvalidFile: when ``path`` is neither.
    """
    path = Path(path)
    if path.name == MANIFEST:
        return path.parent
    if path.is_dir():
        return path
    raise InvalidFile(f"{path}: not a SEN3 folder nor its {MANIFEST}; pass the unzipped *.SEN3 folder")


def read_sen3_manifest(path: str | Path) -> dict[str, Any]:
    """Metadata of a SEN3 product from its ``xfdumanifest.xml`` (no NetCDF is opened).

    Args:
        path: the ``*.SEN3`` folder or its manifest.

    Returns:
        ``product_name``, ``product_type``, ``platform`` (``S3A``/``S3B``), ``timeliness``,
        ``baseline_collection`` (e.g. ``"003"``), ``creation_time``, ``time_start``, ``time_end``
        (naive UTC datetimes), ``processor`` (``IPF-OL-2 07.01``), ``rows``/``columns`` (pixels),
        ``footprint`` (WKT, lon lat), ``bbox`` ``(lon_min, lat_min, lon_max, lat_max)`` in degrees
        (``lon_max < lon_min`` across the antimeridian) and ``files`` (data file names listed).

    Raises:
        InvalidFile: when the manifest is absent, not XML, or lacks the sensing period/footprint.
    """
    manifest = sen3_folder(path) / MANIFEST
    try:
        root = ET.parse(manifest).getroot()
    except (OSError, ET.ParseError) as exc:
        raise InvalidFile(f"{manifest}: cannot read the SAFE manifest ({exc}); fetch the product again") from exc
    general = ".//sentinel3:generalProductInformation/sentinel3:"
    start, stop = _text(root, ".//sentinel-safe:startTime"), _text(root, ".//sentinel-safe:stopTime")
    pos = _text(root, ".//sentinel-safe:footPrint/gml:posList")
    if not (start and stop and pos):
        raise InvalidFile(f"{manifest}: no acquisitionPeriod start/stop time or footprint posList")
    footprint, bbox = footprint_wkt(pos)
    number = _text(root, ".//sentinel-safe:platform/sentinel-safe:number") or ""
    creation = _text(root, general + "creationTime")
    software = root.find(".//sentinel-safe:software[@name='IPF-OL-2']", NS)
    return {
        "product_name": _text(root, general + "productName"),
        "product_type": _text(root, general + "productType"),
        "platform": f"S3{number}" if number else None,
        "timeliness": _text(root, general + "timeliness"),
        "baseline_collection": _text(root, general + "baselineCollection"),
        "creation_time": parse_time(creation) if creation else None,
        "time_start": parse_time(start),
        "time_end": parse_time(stop),
        "processor": f"IPF-OL-2 {software.get('version')}" if software is not None else None,
        "rows": _int(_text(root, ".//olci:imageSize/sentinel3:rows")),
        "columns": _int(_text(root, ".//olci:imageSize/sentinel3:columns")),
        "footprint": footprint,
        "bbox": bbox,
        "files": [loc.get("href", "").removeprefix("./") for loc in root.iter("fileLocation")],
    }


def footprint_wkt(pos_list: str) -> tuple[str, tuple[float, float, float, float]]:
    """WKT polygon (lon lat) and bbox of a GML ``posList`` of "lat lon lat lon ..." pairs."""
    values = [float(v) for v in pos_list.split()]
    lats, lons = values[0::2], values[1::2]
    ring = list(zip(lons, lats, strict=True))
    if ring[0] != ring[-1]:
        ring.append(ring[0])
    wkt = "POLYGON((" + ", ".join(f"{x:g} {y:g}" for x, y in ring) + "))"
    lon = np.asarray(lons)
    if np.any(np.abs(np.diff(lon)) > 180.0):  # crosses the antimeridian: bounds in [0, 360)
        east = np.mod(lon, 360.0)
        west_bound, east_bound = float(east.min()), float(east.max())
        lon_min, lon_max = (((b + 180.0) % 360.0) - 180.0 for b in (west_bound, east_bound))
    else:
        lon_min, lon_max = float(lon.min()), float(lon.max())
    return wkt, (round(lon_min, 6), float(min(lats)), round(lon_max, 6), float(max(lats)))


def open_olci_sen3(path: str | Path, product: ProductDef) -> Granule:
    """Open a SEN3 folder lazily as a canonical swath :class:`Granule`.

    Args:
        path: the ``*.SEN3`` folder or its ``xfdumanifest.xml``.
        product: its definition (``reader: olci_sen3``; paths ``"<file>:<variable>"``).

    Returns:
        The granule: ``rho_w`` (dimensionless, dims ``y, x, wavelength`` in nm), chlorophylls in
        mg m-3 (10**log10 values), raw WQSF ``flags`` with ``flag_masks``/``flag_meanings``,
        ``solar_zenith_angle``/``viewing_zenith_angle`` (degree) interpolated from the tie
        points, 2-D ``latitude``/``longitude``; times, baseline and footprint from the manifest.

    Raises:
        InvalidFile: bad manifest, unreadable/truncated NetCDF, latitude/longitude shapes that
            differ, or a variable off the pixel grid.
        MissingVariable: a folder with only the manifest or header-only NetCDF files (no data),
            or a required band/variable absent.
    """
    folder = sen3_folder(path)
    meta = read_sen3_manifest(folder)
    merged = open_members(folder, product)
    lat, lon = swath_coordinates(merged, product, folder)
    dims = {"y": "y", "x": "x"}
    data = {}
    for name, spec in product.variables.items():
        var = read_variable(merged, spec, str(folder))
        if var is not None:
            var = on_grid(var, dims, lat.shape, folder)
            data[name] = apply_log10(var, source_units(merged, spec), name, product)
    flags = read_flags(merged, product, folder)
    if flags is not None:
        data["flags"] = on_grid(flags, dims, lat.shape, folder)
    data.update(read_angles(merged, product, dims, lat.shape, folder))
    dataset = assemble(data, lat, lon, dims)
    attrs = {"product_name": meta["product_name"], "product_type": meta["product_type"],
             "platform": meta["platform"], "timeliness": meta["timeliness"],
             "baseline_collection": meta["baseline_collection"], "processor": meta["processor"],
             "sensing_start": meta["time_start"].isoformat(), "sensing_stop": meta["time_end"].isoformat(),
             "creation_time": meta["creation_time"].isoformat() if meta["creation_time"] else None}
    granule = build_granule(product, folder, dataset, {k: v for k, v in attrs.items() if v is not None}, merged)
    return dataclasses.replace(granule, footprint=meta["footprint"], bbox=meta["bbox"])


def member_files(product: ProductDef) -> list[str]:
    """NetCDF member files named by a definition's ``"<file>:<variable>"`` paths, in first-use order."""
    paths = [*product.latitude, *product.longitude]
    for spec in product.variables.values():
        paths += [*spec.paths, *(p for cands in spec.bands.values() for p in cands)]
    paths += [*(product.flags.paths if product.flags else ()), *(p for c in product.angles.values() for p in c)]
    return list(dict.fromkeys(p.partition(":")[0] for p in paths if ":" in p))


def open_members(folder: Path, product: ProductDef) -> xr.Dataset:
    """One lazy dataset of the member files' variables, named ``"<file>:<variable>"``.

    Pixel dims ``rows``/``columns`` become ``y``/``x``; tie-point variables get the file's
    sub-sampling factors as ``subsampling_y``/``subsampling_x`` attributes.

    Raises:
        InvalidFile: when a member file is truncated or not NetCDF.
        MissingVariable: when the folder has no member file (manifest only) or only header-only
            files (no variables), as in metadata skeletons of SEN3 products.
    """
    present = [name for name in member_files(product) if (folder / name).is_file()]
    if not present:
        raise MissingVariable(f"{folder}: no data file of {product.id} ({', '.join(member_files(product)[:3])}, ...) "
                              "- the folder holds only the manifest; download the complete SEN3 product")
    variables: dict[str, xr.Variable] = {}
    for name in present:
        ds = open_tree(folder / name).to_dataset()
        factors = {"subsampling_y": ds.attrs.get("al_subsampling_factor", 1),
                   "subsampling_x": ds.attrs.get("ac_subsampling_factor", 1)}
        for var_name, var in ds.variables.items():
            var = var.to_base_variable()
            if not set(var.dims) & set(_PIXEL_DIMS):
                var.attrs = {**factors, **var.attrs}
            renames = {d: _PIXEL_DIMS[d] for d in var.dims if d in _PIXEL_DIMS}
            variables[f"{name}:{var_name}"] = xr.Variable(tuple(renames.get(d, d) for d in var.dims),
                                                          var.data, var.attrs, var.encoding)
    if not variables:
        raise MissingVariable(f"{folder}: the {len(present)} NetCDF files ({', '.join(present[:3])}, ...) hold "
                              "only global attributes and no variables (header-only skeleton); download the "
                              "complete SEN3 product")
    try:
        return xr.Dataset(variables)
    except ValueError as exc:
        raise InvalidFile(f"{folder}: member files disagree on the pixel grid ({exc}); the product is "
                          "corrupt - download it again") from exc


def _text(root: ET.Element, xpath: str) -> str | None:
    node = root.find(xpath, NS)
    return node.text.strip() if node is not None and node.text else None


def _int(text: str | None) -> int | None:
    return int(text) if text else None
