"""Writers of NASA OBPG ocean-colour files in their real layouts: PACE OCI L2 AOP swaths, L3m maps, L3b bins.

Layouts follow the OB.DAAC files (see the readers ``tasks/readers/obpg_l2``, ``obpg_l3m``,
``obpg_l3b`` for the format notes and sources): same groups, dimension and variable names, packed
integers (``Rrs`` int16, ``scale_factor`` 2e-6, ``add_offset`` 0.05, ``_FillValue`` -32767), CF
``l2_flags``, compound ``BinList``/``BinIndex``/``{sum, sum_squared}`` types and the ISIN grid.
Values are smooth, realistic fields with land, clouds and fill; the same arguments give the same file.
"""

from __future__ import annotations

from datetime import date as Date
from datetime import datetime, timedelta
from pathlib import Path

import netCDF4
import numpy as np

from ._common import as_utc
from .optics import solar_angles

#: OBPG l2gen ``l2_flags`` meanings, bit 0 first (flag_masks = 2**bit, as int32).
L2_FLAG_MEANINGS = ("ATMFAIL LAND PRODWARN HIGLINT HILT HISATZEN COASTZ SPARE STRAYLIGHT CLDICE COCCOLITH "
                    "TURBIDW HISOLZEN SPARE LOWLW CHLFAIL NAVWARN ABSAER SPARE MAXAERITER MODGLINT CHLWARN "
                    "ATMWARN SPARE SEAICE NAVFAIL FILTER SPARE BOWTIEDEL HIPOL PRODFAIL SPARE")
#: Flags masked by OBPG when binning ocean-colour L3 (``l2_flag_names`` of the L3 files).
L3_FLAG_NAMES = "ATMFAIL,LAND,HILT,HISATZEN,STRAYLIGHT,CLDICE,COCCOLITH,LOWLW,CHLWARN,CHLFAIL,NAVWARN,MAXAERITER," \
                "HISOLZEN,NAVFAIL,FILTER,HIGLINT"
#: MODIS-Aqua Rrs bands (nm) of the L3 RRS suite.
MODIS_RRS_BANDS = (412, 443, 469, 488, 531, 547, 555, 645, 667, 678)
#: L3m resolution tag -> grid step (degrees).
L3M_STEPS = {"0p1deg": 0.1, "0p25deg": 0.25, "0p5deg": 0.5, "1deg": 1.0, "4km": 1 / 24, "9km": 1 / 12}
_FILL = -32767
_RRS_PACK = {"scale_factor": np.float32(2e-6), "add_offset": np.float32(0.05)}
_COMMON = {"project": "Ocean Biology Processing Group (NASA/GSFC/OBPG)", "creator_name": "NASA/GSFC/OBPG",
           "institution": "NASA Goddard Space Flight Center, Ocean Ecology Laboratory, Ocean Biology Processing Group",
           "Conventions": "CF-1.6 ACDD-1.3", "naming_authority": "gov.nasa.gsfc.sci.oceandata",
           "date_created": "2025-02-14T03:45:27.000Z"}


def _iso(time: datetime) -> str:
    return as_utc(time).strftime("%Y-%m-%dT%H:%M:%S.000Z")


def _smooth(rng: np.random.Generator, shape: tuple[int, ...], scale: float) -> np.ndarray:
    """Smooth random field in [-1, 1] (sum of a few random plane waves)."""
    grids = np.meshgrid(*[np.arange(n, dtype=float) for n in shape], indexing="ij")
    out = np.zeros(shape)
    for _ in range(6):
        k = rng.normal(0, 1.0 / scale, len(shape))
        out += np.cos(sum(kk * g for kk, g in zip(k, grids, strict=True)) + rng.uniform(0, 2 * np.pi))
    return out / 6 * 2.0


def _chlorophyll(rng: np.random.Generator, shape: tuple[int, int]) -> np.ndarray:
    """Chlorophyll-a field, mg m-3, log-normal between ~0.03 and ~5."""
    return (10 ** (-0.6 + 0.9 * _smooth(rng, shape, max(shape) / 4))).astype(np.float32)


def rrs_spectrum(wavelength: np.ndarray, chl: np.ndarray) -> np.ndarray:
    """Rrs (sr-1) of case-1 water for chlorophyll ``chl`` (mg m-3): blue falls and green rises with chl."""
    wl, c = np.asarray(wavelength, float), np.asarray(chl, float)[..., None]
    blue = 0.009 / (1.0 + 1.6 * c ** 0.8) * np.exp(-(((wl - 400.0) / 90.0) ** 2))
    green = (0.0012 + 0.0011 * c ** 0.4) * np.exp(-(((wl - 555.0) / 60.0) ** 2))
    red = 0.00025 * np.exp(-(((wl - 680.0) / 12.0) ** 2)) * c ** 0.5 + 0.00015 * np.exp(-(wl - 600.0).clip(0) / 40)
    return blue + green + red


def oci_rrs_wavelengths() -> np.ndarray:
    """172 wavelengths (nm) of OCI ``Rrs``: 339-717 nm at ~2.2 nm (approximates ``wavelength_3d``)."""
    return np.round(np.linspace(339.0, 717.0, 172), 1).astype(np.float32)


def _var(group, name, dtype, dims, values, attrs, fill=None, pack=None):
    var = group.createVariable(name, dtype, dims, fill_value=fill, zlib=True, complevel=4)
    var.setncatts({**attrs, **(pack or {})})
    var[...] = values
    return var


def _swath(lat0: float, lon0: float, shape: tuple[int, int]) -> tuple[np.ndarray, np.ndarray]:
    """2-D latitude/longitude of a swath piece centred on (lat0, lon0): ~1.2 km pixels, heading ~10° W of N."""
    rows, cols = shape
    i, j = np.meshgrid(np.arange(rows) - rows / 2, np.arange(cols) - cols / 2, indexing="ij")
    step, heading = 0.0108, np.radians(-10.0)
    lat = lat0 + step * (i * np.cos(heading) - j * np.sin(heading))
    lon = lon0 + step * (i * np.sin(heading) + j * np.cos(heading)) / np.cos(np.radians(lat))
    return lat.astype(np.float32), ((lon + 180.0) % 360.0 - 180.0).astype(np.float32)


def _l2_flags(rng: np.random.Generator, shape: tuple[int, int]) -> np.ndarray:
    """l2_flags with a land strip (east), cloud blobs, a glint band and a few PRODWARN pixels."""
    rows, cols = shape
    j = np.arange(cols)[None, :] + 3 * np.sin(np.arange(rows)[:, None] / 7.0)
    land = j > cols * 0.85
    cloud = _smooth(rng, shape, max(shape) / 6) > 0.55
    glint = np.abs(np.arange(cols)[None, :] - cols * 0.4) < cols * 0.05
    flags = land * 2 + cloud * 512 + np.broadcast_to(glint, shape) * 8 + (rng.random(shape) < 0.01) * 4
    return (flags | (cloud * 1)).astype(np.int32)  # ATMFAIL under clouds


def write_pace_l2_aop(path_dir: str | Path, time: datetime, lat0: float, lon0: float,
                      shape: tuple[int, int] = (120, 100), seed: int = 0, wavelengths: np.ndarray | None = None,
                      angles: bool = True) -> Path:
    """Write a PACE OCI L2 OC_AOP swath piece (``PACE_OCI.<yyyymmddThhmmss>.L2.OC_AOP.V3_0.nc``).

    Args:
        path_dir: output folder.
        time: granule start (UTC); the granule lasts 5 minutes.
        lat0: centre latitude, degree_north.
        lon0: centre longitude, degree_east.
        shape: (number_of_lines, pixels_per_line).
        seed: random seed.
        wavelengths: ``wavelength_3d`` values (nm); default the 172 OCI-like bands.
        angles: also write ``geophysical_data/solz`` and ``senz`` (degrees, int16 x 0.01), as l2gen
            does when asked; standard AOP files lack them.

    Returns:
        Path of the written file.
    """
    rng = np.random.default_rng(seed)
    time = as_utc(time).replace(microsecond=0)
    wl = oci_rrs_wavelengths() if wavelengths is None else np.asarray(wavelengths, np.float32)
    lat, lon = _swath(lat0, lon0, shape)
    flags = _l2_flags(rng, shape)
    rrs = rrs_spectrum(wl, _chlorophyll(rng, shape)) * (1 + rng.normal(0, 0.01, shape + (wl.size,)))
    rrs[(flags & (2 | 512)) != 0] = np.nan  # l2gen leaves land and cloud pixels at fill
    unc = 0.05 * np.abs(rrs) + 0.0002
    path = Path(path_dir) / f"PACE_OCI.{time:%Y%m%dT%H%M%S}.L2.OC_AOP.V3_0.nc"
    with netCDF4.Dataset(path, "w", format="NETCDF4") as ds:
        ds.setncatts({"title": "OCI Level-2 Data OC_AOP", "product_name": path.name, "instrument": "OCI",
                      "platform": "PACE", "processing_level": "L2", "processing_version": "3.0",
                      "cdm_data_type": "swath", "time_coverage_start": _iso(time),
                      "time_coverage_end": _iso(time + timedelta(minutes=5)), **_COMMON,
                      "geospatial_lat_min": np.float32(lat.min()), "geospatial_lat_max": np.float32(lat.max()),
                      "geospatial_lon_min": np.float32(lon.min()), "geospatial_lon_max": np.float32(lon.max())})
        ds.createDimension("number_of_lines", shape[0])
        ds.createDimension("pixels_per_line", shape[1])
        ds.createDimension("wavelength_3d", wl.size)
        band = ds.createGroup("sensor_band_parameters")
        _var(band, "wavelength_3d", "f4", ("wavelength_3d",), wl,
             {"long_name": "wavelengths", "units": "nm"})
        nav = ds.createGroup("navigation_data")
        dims = ("number_of_lines", "pixels_per_line")
        for name, values, units, lim in (("longitude", lon, "degrees_east", 180.0),
                                         ("latitude", lat, "degrees_north", 90.0)):
            _var(nav, name, "f4", dims, values, {"long_name": name.title(), "units": units, "standard_name": name,
                                                 "valid_min": np.float32(-lim), "valid_max": np.float32(lim)},
                 fill=np.float32(-999.0))
        geo = ds.createGroup("geophysical_data")
        for name, values, long_name in (("Rrs", rrs, "Remote sensing reflectance"),
                                        ("Rrs_unc", unc, "Uncertainty in remote sensing reflectance")):
            packed = np.ma.masked_array(np.nan_to_num(values), np.isnan(values))
            _var(geo, name, "i2", dims + ("wavelength_3d",), packed,
                 {"long_name": long_name, "units": "sr^-1", "valid_min": np.int16(-30000),
                  "valid_max": np.int16(25000)},
                 fill=np.int16(_FILL), pack=_RRS_PACK)
        masks = np.array([1 << b for b in range(32)], dtype=np.int64).astype(np.uint32).view(np.int32)
        _var(geo, "l2_flags", "i4", dims, flags, {"long_name": "Level-2 Processing Flags", "flag_masks": masks,
                                                  "flag_meanings": L2_FLAG_MEANINGS})
        if angles:
            solz = np.vectorize(lambda a, b: solar_angles(time, float(a), float(b))[0])(lat, lon)
            senz = 2.0 + 55.0 * np.abs(np.arange(shape[1]) - shape[1] * 0.3)[None, :] / shape[1] + 0 * lat
            for name, values, long_name in (("solz", solz, "Solar zenith angle"),
                                            ("senz", senz, "Sensor zenith angle")):
                _var(geo, name, "i2", dims, values, {"long_name": long_name, "units": "degrees"},
                     fill=np.int16(_FILL), pack={"scale_factor": np.float32(0.01), "add_offset": np.float32(0.0)})
    return path


def _land_and_clouds(rng: np.random.Generator, shape: tuple[int, int]) -> np.ndarray:
    """Boolean mask of land (an island in the grid centre) or cloud gaps."""
    i, j = np.meshgrid(np.linspace(-1, 1, shape[0]), np.linspace(-1, 1, shape[1]), indexing="ij")
    island = (i / 0.25) ** 2 + (j / 0.15) ** 2 < 1
    return island | (_smooth(rng, shape, max(shape) / 5) > 0.5)


def write_pace_l3m(path_dir: str | Path, date: Date, variable: str = "chlor_a", resolution: str = "0p1deg",
                   region: tuple[float, float, float, float] | None = (30.0, 50.0, -40.0, -20.0), seed: int = 0,
                   palette: bool = True) -> Path:
    """Write a daily PACE OCI L3m file (``PACE_OCI.<yyyymmdd>.L3m.DAY.<SUITE>.V3_0.<var>.<res>.nc``).

    Args:
        path_dir: output folder.
        date: the day (UTC).
        variable: ``chlor_a`` (suite CHL), ``Kd_490`` (KD) or ``Rrs`` (RRS, 3-D with 5 wavelengths).
        resolution: ``0p1deg``, ``0p25deg``, ``0p5deg``, ``1deg``, ``4km`` or ``9km``.
        region: ``(lat_south, lat_north, lon_west, lon_east)`` in degrees (l3mapgen south/north/
            west/east), or None for the global grid (large: 26 MB of float32 at 0.1°).
        seed: random seed.
        palette: write the ``palette`` variable (uint8 ``rgb x eightbitcolor``).

    Returns:
        Path of the written file.
    """
    suites = {"chlor_a": "CHL", "Kd_490": "KD", "Rrs": "RRS"}
    rng = np.random.default_rng(seed)
    step = L3M_STEPS[resolution]
    south, north, west, east = region or (-90.0, 90.0, -180.0, 180.0)
    lat = (north - (np.arange(round((north - south) / step)) + 0.5) * step).astype(np.float32)
    lon = (west + (np.arange(round((east - west) / step)) + 0.5) * step).astype(np.float32)
    chl = _chlorophyll(rng, (lat.size, lon.size))
    bad = _land_and_clouds(rng, chl.shape)
    wl = np.array([413, 442, 490, 555, 670], dtype=np.float32)
    values = {"chlor_a": chl, "Kd_490": (0.0166 + 0.0773 * chl ** 0.6715).astype(np.float32),
              "Rrs": rrs_spectrum(wl, chl).astype(np.float32)}[variable]
    values = np.where(bad[..., None] if values.ndim == 3 else bad, np.float32(_FILL), values)
    start = datetime.combine(date, datetime.min.time()) - timedelta(minutes=11)
    path = Path(path_dir) / f"PACE_OCI.{date:%Y%m%d}.L3m.DAY.{suites[variable]}.V3_0.{variable}.{resolution}.nc"
    with netCDF4.Dataset(path, "w", format="NETCDF4") as ds:
        ds.setncatts({"product_name": path.name, "instrument": "OCI", "title": "OCI Level-3 Standard Mapped Image",
                      "platform": "PACE", "temporal_range": "day", "processing_version": "3.0", **_COMMON,
                      "l2_flag_names": L3_FLAG_NAMES, "time_coverage_start": _iso(start),
                      "time_coverage_end": _iso(start + timedelta(hours=26, minutes=3)),
                      "map_projection": "Equidistant Cylindrical", "latitude_step": np.float32(step),
                      "longitude_step": np.float32(step), "northernmost_latitude": np.float32(north),
                      "southernmost_latitude": np.float32(south), "westernmost_longitude": np.float32(west),
                      "easternmost_longitude": np.float32(east), "number_of_lines": np.int32(lat.size),
                      "number_of_columns": np.int32(lon.size), "measure": "Mean", "processing_level": "L3 Mapped",
                      "cdm_data_type": "grid"})
        for name, size in (("lat", lat.size), ("lon", lon.size), ("rgb", 3), ("eightbitcolor", 256)):
            ds.createDimension(name, size)
        dims = ("lat", "lon")
        if variable == "Rrs":
            ds.createDimension("wavelength", wl.size)
            _var(ds, "wavelength", "f4", ("wavelength",), wl, {"long_name": "wavelengths", "units": "nm"})
            dims = dims + ("wavelength",)
        units = {"chlor_a": "mg m^-3", "Kd_490": "m^-1", "Rrs": "sr^-1"}[variable]
        _var(ds, variable, "f4", dims, values, {"long_name": variable, "units": units}, fill=np.float32(_FILL))
        lon_max = max(180.0, east)  # a grid crossing 180° (l3mapgen east > 180) keeps its 0-360 longitudes
        for name, values_, full, units_, lo, hi in (("lat", lat, "latitude", "degrees_north", -90.0, 90.0),
                                                    ("lon", lon, "longitude", "degrees_east", -180.0, lon_max)):
            _var(ds, name, "f4", (name,), values_, {"long_name": full.title(), "units": units_, "standard_name": full,
                                                    "valid_min": np.float32(lo), "valid_max": np.float32(hi)},
                 fill=np.float32(-999.0))
        if palette:
            _var(ds, "palette", "u1", ("rgb", "eightbitcolor"), np.tile(np.arange(256, dtype=np.uint8), (3, 1)), {})
        control = ds.createGroup("processing_control")
        control.setncatts({"software_name": "l3mapgen", "input_sources": f"PACE_OCI.{date:%Y%m%d}.L3b.DAY.nc"})
        control.createGroup("input_parameters").setncatts({"suite": suites[variable], "product": variable,
                                                           "north": f"{north:.3f}", "south": f"{south:.3f}",
                                                           "west": f"{west:.3f}", "east": f"{east:.3f}"})
    return path


def _isin_rows(numrows: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """ISIN row centre latitudes, bins per row and first bin numbers (OCSSW ``bin_init``)."""
    latbin = (np.arange(numrows) + 0.5) * (180.0 / numrows) - 90.0
    numbin = (np.cos(np.radians(latbin)) * 2 * numrows + 0.5).astype(np.int64)
    return latbin, numbin, np.concatenate([[1], 1 + np.cumsum(numbin)[:-1]])


def _region_bins(numrows: int, region: tuple[float, float, float, float]) -> tuple[np.ndarray, np.ndarray]:
    """Bin numbers (ascending) and centre latitudes of the ISIN bins whose centre lies in ``region``."""
    south, north, west, east = region
    latbin, numbin, basebin = _isin_rows(numrows)
    bins, lats = [], []
    for row in np.nonzero((latbin >= south) & (latbin <= north))[0]:
        lon = -180.0 + 360.0 * (np.arange(numbin[row]) + 0.5) / numbin[row]
        cols = np.nonzero((lon >= west) & (lon <= east))[0]
        bins.append(basebin[row] + cols)
        lats.append(np.full(cols.size, latbin[row]))
    return np.concatenate(bins), np.concatenate(lats)


def write_modis_l3b(path_dir: str | Path, date: Date, seed: int = 0, numrows: int = 4320,
                    region: tuple[float, float, float, float] = (12.0, 15.0, -82.0, -80.0), suite: str = "PAR") -> Path:
    """Write a daily MODIS-Aqua L3b regional extract (``AQUA_MODIS.<yyyymmdd>.L3b.DAY.<SUITE>.x.nc``).

    Args:
        path_dir: output folder.
        date: the day (UTC).
        seed: random seed.
        numrows: ISIN rows (4320 = 4.6 km, 2160 = 9.2 km).
        region: ``(lat_south, lat_north, lon_west, lon_east)`` of the extract, degrees.
        suite: ``PAR`` (par, einstein m-2 day-1), ``CHL`` (chlor_a), ``KD`` (Kd_490) or ``RRS``
            (Rrs_412 ... Rrs_678, sr-1).

    Returns:
        Path of the written file.
    """
    rng = np.random.default_rng(seed)
    bins, lats = _region_bins(numrows, region)
    keep = rng.random(bins.size) > 0.3  # cloud gaps
    bins, lats = bins[keep], lats[keep]
    nobs = rng.integers(1, 14, bins.size).astype(np.int16)
    nscenes = np.where(rng.random(bins.size) < 0.2, 2, 1).astype(np.int16)
    weights = np.sqrt(nobs.astype(np.float32))
    chl = 10 ** (-0.7 + 0.6 * np.sin(lats / 2.0) + rng.normal(0, 0.1, bins.size))
    params = {"PAR": {"par": 45 + 8 * np.cos(np.radians(lats)) + rng.normal(0, 2, bins.size)},
              "CHL": {"chlor_a": chl}, "KD": {"Kd_490": 0.0166 + 0.0773 * chl ** 0.6715},
              "RRS": {f"Rrs_{b}": v for b, v in zip(MODIS_RRS_BANDS, rrs_spectrum(np.array(MODIS_RRS_BANDS), chl).T,
                                                    strict=True)}}[suite]
    start = as_utc(datetime.combine(date, datetime.min.time())) + timedelta(minutes=15)
    tai93 = (start - datetime(1993, 1, 1, tzinfo=start.tzinfo)).total_seconds() + 43200.0
    path = Path(path_dir) / f"AQUA_MODIS.{date:%Y%m%d}.L3b.DAY.{suite}.x.nc"
    with netCDF4.Dataset(path, "w", format="NETCDF4") as ds:
        ds.setncatts({"product_name": path.name, "title": "MODIS Level-3 Binned Data", "instrument": "MODIS",
                      "platform": "Aqua", "temporal_range": "day", "processing_version": "R2022.0", **_COMMON,
                      "time_coverage_start": _iso(start), "time_coverage_end": _iso(start + timedelta(hours=26)),
                      "binning_scheme": "Integerized Sinusoidal Grid", "data_bins": np.int32(bins.size),
                      "processing_level": "L3 Binned", "cdm_data_type": "point"})
        grp = ds.createGroup("level-3_binned_data")
        for name, size in (("binListDim", bins.size), ("binDataDim", bins.size), ("binIndexDim", numrows)):
            grp.createDimension(name, size)
        list_t = np.dtype([("bin_num", "<u4"), ("nobs", "<i2"), ("nscenes", "<i2"), ("weights", "<f4"),
                           ("time_rec", "<f4")], align=True)
        data_t = np.dtype([("sum", "<f4"), ("sum_squared", "<f4")], align=True)
        index_t = np.dtype([("start_num", "<u4"), ("begin", "<u4"), ("extent", "<u4"), ("max", "<u4")], align=True)
        types = {n: grp.createCompoundType(t, n) for n, t in
                 (("binListType", list_t), ("binDataType", data_t), ("binIndexType", index_t))}
        records = np.zeros(bins.size, list_t)
        records["bin_num"], records["nobs"], records["nscenes"], records["weights"] = bins, nobs, nscenes, weights
        records["time_rec"] = nobs * tai93
        grp.createVariable("BinList", types["binListType"], ("binListDim",))[:] = records
        for name, mean in params.items():
            sums = np.zeros(bins.size, data_t)
            sums["sum"], sums["sum_squared"] = mean * weights, mean ** 2 * weights * 1.0005
            grp.createVariable(name, types["binDataType"], ("binDataDim",))[:] = sums
        _, numbin, basebin = _isin_rows(numrows)
        index = np.zeros(numrows, index_t)
        index["start_num"], index["max"] = basebin, numbin
        row = np.searchsorted(basebin, bins, side="right") - 1
        rows, first = np.unique(row, return_index=True)
        index["begin"][rows], index["extent"][rows] = bins[first], np.bincount(row)[rows]
        grp.createVariable("BinIndex", types["binIndexType"], ("binIndexDim",))[:] = index
        ds.createGroup("processing_control").setncatts({"software_name": "L3BIN", "l2_flag_names": L3_FLAG_NAMES})
    return path
