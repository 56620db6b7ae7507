"""Gridded Level-3 ocean-colour files in the real formats: ESA OC-CCI, CMEMS GlobColour, ODATIS-MR.

Small, deterministic (same arguments, same bytes of data) regional subsets of the real products:
a smooth log-normal chlorophyll field (0.03-30 mg m-3, higher near the coast), remote-sensing
reflectance spectra consistent with it (blue/green ratio falling with chlorophyll), land (the
south-east corner of the box) and cloud gaps (NaN / fill, about 30 % of the water). Layouts follow
what the public sources show (see the product definitions in ``lake_schema/products``):

* OC-CCI v5/v6 (``ESACCI-OC-L3S-<PARAM>-MERGED-1D_DAILY_4km_GEO_PML_<ALG>-<date>-fv<v>.nc``):
  dims ``time(1), lat (descending), lon``; ``chlor_a`` (mg m-3), ``chlor_a_log10_rmsd/_bias``,
  ``Rrs_<nm>`` and ``Rrs_<nm>_rmsd/_bias`` (sr-1), ``kd_490``, ``<sensor>_nobs_sum`` (v5 ``OLCI``,
  v6 ``OLCI-A``/``OLCI-B``); float32 ``_FillValue`` 9.96921e36; global ``product_version`` and
  ``time_coverage_start/end`` as ``YYYYMMDDHHMMZ``.
* GlobColour (``<date>_cmems_obs-oc_glo_bgc-<kind>_my_l3-multi-4km_P1D.nc``): dims ``time(1),
  latitude, longitude`` (ascending); ``CHL`` (mg m-3, fill -999) or ``RRS412..RRS670`` (sr-1),
  ``<var>_uncertainty`` (%, int16 scaled 0.01, fill -32768) and ``flags`` (0 water, 1 land).
* ODATIS-MR (``L3m_<date>__FRANCE_03_<SEN>_<PARAM>-<AC>_DAY_00.nc``): dims ``lat, lon`` (no
  time), one parameter ``<PARAM>-<AC>_mean``, global ``period_start_day``/``period_end_day``.
"""

from __future__ import annotations

from datetime import date as Date
from datetime import datetime
from pathlib import Path

import numpy as np
import xarray as xr

OCCI_FILL = np.float32(9.96921e36)
OCCI_BANDS = (412, 443, 490, 510, 560, 665)
GLOBCOLOUR_BANDS = (412, 443, 490, 555, 670)
#: ODATIS-MR sensor -> (file-name code, atmospheric correction code, NRRS band).
ODATIS_SENSORS = {"MODIS": ("MOD", "NS", 555), "MERIS": ("MER", "PO", 560), "OLCI-A": ("OLA", "PO", 560),
                  "OLCI-B": ("OLB", "PO", 560)}
_BLUE_EXPONENT = {412: 1.15, 443: 1.0, 490: 0.55, 510: 0.3, 555: 0.0, 560: 0.0}


def _day(value: Date | datetime | str) -> datetime:
    if isinstance(value, str):
        value = datetime.strptime(value.replace("-", "")[:8], "%Y%m%d")
    return datetime(value.year, value.month, value.day)


def _axes(bbox, res: float, lat_descending: bool) -> tuple[np.ndarray, np.ndarray]:
    """Cell centres (degrees) of a regular grid covering ``bbox`` = (lon0, lat0, lon1, lat1)."""
    lon0, lat0, lon1, lat1 = bbox
    lon = lon0 + res * (np.arange(max(int(round((lon1 - lon0) / res)), 1)) + 0.5)
    lat = lat0 + res * (np.arange(max(int(round((lat1 - lat0) / res)), 1)) + 0.5)
    return (lat[::-1] if lat_descending else lat), lon


def scene(lat: np.ndarray, lon: np.ndarray, day: datetime, seed: int) -> dict[str, np.ndarray]:
    """Deterministic geophysical fields on a (lat, lon) grid.

    Returns:
        ``chl`` (mg m-3, NaN on land and under clouds), ``land`` and ``cloud`` (bool) masks and
        ``rrs`` (wavelength nm -> Rrs in sr-1, NaN where ``chl`` is NaN).
    """
    rng = np.random.default_rng([seed, day.toordinal()])
    y = (lat[:, None] - lat.min()) / max(np.ptp(lat), 1e-9)
    x = (lon[None, :] - lon.min()) / max(np.ptp(lon), 1e-9)
    land = (x + (1 - y)) > 1.55  # south-east corner
    coast = np.exp(-np.clip(1.55 - (x + 1 - y), 0, None) / 0.25)
    phase = rng.uniform(0, 2 * np.pi, 4)
    eddies = 0.35 * np.sin(7 * x + phase[0]) * np.cos(5 * y + phase[1]) + 0.2 * np.sin(11 * (x + y) + phase[2])
    log_chl = -0.6 + 1.5 * coast + eddies + rng.normal(0, 0.05, land.shape)
    chl = np.clip(10**log_chl, 0.03, 30.0)
    clouds = np.sin(4 * x + phase[3]) * np.cos(3 * y - phase[0]) + 0.3 * rng.standard_normal(land.shape)
    cloud = clouds > np.quantile(clouds, 0.7)
    chl = np.where(land | cloud, np.nan, chl)
    ratio = np.clip(10 ** (0.25 - 0.55 * np.log10(chl)), 0.3, 6.0)
    green = 0.0015 + 0.0008 * np.log10(chl + 1.0)
    rrs = {wl: green * ratio ** _BLUE_EXPONENT.get(wl, 0.0) for wl in (*OCCI_BANDS, 555, 670)}
    rrs[665] = rrs[670] = green * (0.04 + 0.05 * np.log10(chl + 1.0))
    return {"chl": chl, "land": land, "cloud": cloud, "rrs": rrs}


def _f32(values: np.ndarray, dims=("time", "lat", "lon"), **attrs) -> xr.Variable:
    data = np.asarray(values, dtype=np.float32)
    return xr.Variable(dims, data[None] if len(dims) == data.ndim + 1 else data, attrs)


def write_occi_l3(path_dir: str | Path, date, version: str = "6.0", bbox=(-6.0, 43.0, -2.0, 46.0),
                  res: float = 1 / 24, seed: int = 0, parameter: str = "CHLOR_A") -> Path:
    """Write a daily ESA OC-CCI L3S geographic file (4 km) subset.

    Args:
        path_dir: output folder (created).
        date: day (date, datetime or ``YYYYMMDD``).
        version: product version, ``"5.0"`` or ``"6.0"`` (file ``fv`` suffix, ``product_version``).
        bbox: ``(lon0, lat0, lon1, lat1)`` in degrees.
        res: grid step in degrees (1/24 for the 4 km products).
        seed: random seed.
        parameter: ``CHLOR_A``, ``RRS``, ``K_490`` or ``OC_PRODUCTS`` (all variables).

    Returns:
        The file path.
    """
    day = _day(date)
    lat, lon = _axes(bbox, res, lat_descending=True)
    sc = scene(lat, lon, day, seed)
    chl = sc["chl"]
    water = np.isfinite(chl)
    ds = xr.Dataset(coords={"time": ("time", [day], {"standard_name": "time", "axis": "T"}),
                            "lat": ("lat", lat, {"units": "degrees_north", "standard_name": "latitude"}),
                            "lon": ("lon", lon, {"units": "degrees_east", "standard_name": "longitude"})})
    if parameter in ("CHLOR_A", "OC_PRODUCTS"):
        ds["chlor_a"] = _f32(chl, units="mg m-3", standard_name="mass_concentration_of_chlorophyll_a_in_sea_water",
                             long_name="Chlorophyll-a concentration in seawater (not log-transformed)")
        ds["chlor_a_log10_rmsd"] = _f32(np.where(water, 0.25 + 0.05 * np.log10(chl + 1), np.nan),
                                        long_name="Root-mean-square-difference of log10-transformed chlorophyll-a")
        ds["chlor_a_log10_bias"] = _f32(np.where(water, -0.02 + 0.03 * np.log10(chl + 1), np.nan),
                                        long_name="Bias of log10-transformed chlorophyll-a concentration")
    if parameter in ("RRS", "OC_PRODUCTS"):
        for wl in OCCI_BANDS:
            ds[f"Rrs_{wl}"] = _f32(sc["rrs"][wl], units="sr-1", long_name=f"Sea surface reflectance at {wl} nm")
            ds[f"Rrs_{wl}_rmsd"] = _f32(0.15 * sc["rrs"][wl] + 0.0002, units="sr-1")
            ds[f"Rrs_{wl}_bias"] = _f32(0.02 * sc["rrs"][wl], units="sr-1")
    if parameter in ("K_490", "OC_PRODUCTS"):
        ds["kd_490"] = _f32(0.0166 + 0.0773 * chl**0.6715, units="m-1", long_name="Downwelling attenuation at 490 nm")
    sensors = ("MERIS", "MODISA", "SeaWiFS", "VIIRS") + (("OLCI",) if version.startswith("5") else ("OLCI-A", "OLCI-B"))
    for i, sensor in enumerate(sensors):
        ds[f"{sensor}_nobs_sum"] = _f32(np.where(water, (i + np.arange(lon.size)) % 3, 0))
    ds["total_nobs_sum"] = sum(ds[f"{s}_nobs_sum"] for s in sensors)
    ds["crs"] = xr.Variable((), np.int32(0), {"grid_mapping_name": "latitude_longitude"})
    ds.attrs = {"Conventions": "CF-1.7", "title": "ESA CCI Ocean Colour Product", "product_version": version,
                "institution": "Plymouth Marine Laboratory", "processing_level": "Level-3",
                "time_coverage_start": day.strftime("%Y%m%d0000Z"),
                "time_coverage_end": day.strftime("%Y%m%d2359Z"), "time_coverage_duration": "P1D",
                "time_coverage_resolution": "P1D", "spatial_resolution": "4km nominal at equator",
                "geospatial_lat_min": float(lat.min()), "geospatial_lat_max": float(lat.max()),
                "geospatial_lon_min": float(lon.min()), "geospatial_lon_max": float(lon.max())}
    algorithm = {"CHLOR_A": "OCx", "RRS": "RRS", "K_490": "RRS", "OC_PRODUCTS": "OCx_QAA"}[parameter]
    name = f"ESACCI-OC-L3S-{parameter}-MERGED-1D_DAILY_4km_GEO_PML_{algorithm}-{day:%Y%m%d}-fv{version}.nc"
    encoding = {v: {"_FillValue": OCCI_FILL, "zlib": True, "complevel": 4} for v in ds.data_vars if v != "crs"}
    encoding["time"] = {"units": "days since 1970-01-01 00:00:00", "dtype": "int32", "calendar": "gregorian"}
    return _write(ds, Path(path_dir) / name, encoding)


def write_globcolour_l3(path_dir: str | Path, date, bbox=(-6.0, 43.0, -2.0, 46.0), res: float = 1 / 24,
                        seed: int = 0, kind: str = "plankton") -> Path:
    """Write a daily Copernicus-GlobColour multi-sensor L3 4 km file (``plankton`` or ``reflectance``).

    Args:
        path_dir: output folder (created).
        date: day (date, datetime or ``YYYYMMDD``).
        bbox: ``(lon0, lat0, lon1, lat1)`` in degrees.
        res: grid step in degrees (1/24 for the 4 km products).
        seed: random seed.
        kind: ``plankton`` (CHL) or ``reflectance`` (RRS412..RRS670).

    Returns:
        The file path.
    """
    day = _day(date)
    lat, lon = _axes(bbox, res, lat_descending=False)
    sc = scene(lat, lon, day, seed)
    dims = ("time", "latitude", "longitude")
    ds = xr.Dataset(coords={"time": ("time", [day], {"standard_name": "time", "axis": "T"}),
                            "latitude": ("latitude", lat.astype(np.float32), {"units": "degrees_north"}),
                            "longitude": ("longitude", lon.astype(np.float32), {"units": "degrees_east"})})
    if kind == "plankton":
        params = {"CHL": (sc["chl"], "milligram m-3", 35.0)}
    else:
        params = {f"RRS{wl}": (sc["rrs"][wl], "sr-1", 12.0) for wl in GLOBCOLOUR_BANDS}
    encoding = {}
    for name, (values, units, percent) in params.items():
        ds[name] = _f32(values, dims, units=units)
        ds[f"{name}_uncertainty"] = _f32(np.where(np.isfinite(values), percent, np.nan), dims, units="%")
        encoding[name] = {"_FillValue": np.float32(-999.0), "zlib": True}
        encoding[f"{name}_uncertainty"] = {"dtype": "int16", "scale_factor": 0.01, "add_offset": 0.0,
                                           "_FillValue": np.int16(-32768), "zlib": True}
    # flags: land/water bit (0 water, 1 land); flag_masks/flag_meanings are this generator's choice.
    ds["flags"] = xr.Variable(dims, sc["land"][None].astype(np.int8),
                              {"long_name": "Land water mask bit", "flag_masks": np.int8(1), "flag_meanings": "LAND"})
    ds.attrs = {"Conventions": "CF-1.8, ACDD-1.3", "title": f"cmems_obs-oc_glo_bgc-{kind}_my_l3-multi-4km_P1D",
                "institution": "ACRI-ST", "product_level": "L3",
                "time_coverage_start": day.strftime("%Y-%m-%dT00:00:00Z"),
                "time_coverage_end": day.strftime("%Y-%m-%dT23:59:59Z")}
    encoding["time"] = {"units": "seconds since 1970-01-01 00:00:00", "dtype": "int64"}
    name = f"{day:%Y%m%d}_cmems_obs-oc_glo_bgc-{kind}_my_l3-multi-4km_P1D.nc"
    return _write(ds, Path(path_dir) / name, encoding)


def write_odatis_mr(path_dir: str | Path, date, bbox=(-5.0, 47.0, -4.0, 48.0), res: float = 1 / 120,
                    seed: int = 0, sensor: str = "OLCI-A", parameter: str = "NRRS") -> Path:
    """Write a daily ODATIS-MR L3 file (one parameter per file, French coastal grid).

    Args:
        path_dir: output folder (created).
        date: day (date, datetime or ``YYYYMMDD``).
        bbox: ``(lon0, lat0, lon1, lat1)`` in degrees (the product covers -7.8..10.3 E, 41.2..51.5 N).
        res: grid step in degrees (the real product is ~300 m; coarser keeps files small).
        seed: random seed.
        sensor: ``MODIS``, ``MERIS``, ``OLCI-A`` or ``OLCI-B``.
        parameter: ``NRRS`` (normalised Rrs at 555/560 nm, sr-1) or ``CHL-OC5`` (mg m-3).

    Returns:
        The file path.
    """
    day = _day(date)
    code, correction, band = ODATIS_SENSORS[sensor]
    lat, lon = _axes(bbox, res, lat_descending=True)
    sc = scene(lat, lon, day, seed)
    param = f"NRRS{band}" if parameter == "NRRS" else parameter
    values, units = (sc["rrs"][band], "sr-1") if parameter == "NRRS" else (sc["chl"], "mg m-3")
    var = f"{param}-{correction}_mean"
    ds = xr.Dataset({var: _f32(values, ("lat", "lon"), units=units)},
                    coords={"lat": ("lat", lat, {"units": "degrees_north"}),
                            "lon": ("lon", lon, {"units": "degrees_east"})})
    ds.attrs = {"title": "ODATIS ocean color MR Level 3 product", "product_type": "daily",
                "period_start_day": day.strftime("%Y%m%d"), "period_end_day": day.strftime("%Y%m%d"),
                "institution": "ACRI-ST"}
    name = f"L3m_{day:%Y%m%d}__FRANCE_03_{code}_{param}-{correction}_DAY_00.nc"
    return _write(ds, Path(path_dir) / name, {var: {"_FillValue": np.float32(-999.0), "zlib": True}})


def _write(ds: xr.Dataset, path: Path, encoding: dict) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    ds.to_netcdf(path, engine="netcdf4", format="NETCDF4", encoding=encoding)
    return path

