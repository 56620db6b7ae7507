"""Ocean-colour swath samples in real layouts: OLCI L2 WFR SEN3 folders, SNAP C2RCC and ACOLITE L2W files.

SEN3 layout as in the real S3A ``..._003.SEN3`` skeleton and the S3B ``..._004.SEN3`` manifest
(``satellite_olci_sen3_headers``): ``xfdumanifest.xml`` (XFDU, same namespaces and element paths),
one NetCDF per quantity with the real global attributes, dims ``rows``/``columns`` and
``tie_rows``/``tie_columns`` (``ac_subsampling_factor`` 64, ``al_subsampling_factor`` 1), WQSF
``uint64`` with the baseline-003 flag masks (004 adds ``IOP_LSD_FAIL``), chlorophyll as
``log10(mg m-3)`` (units ``lg(re mg.m-3)``). The packing (scale/offset, dtypes) of the variables is
illustrative: readers must apply what the file says. SNAP C2RCC and ACOLITE files copy the
variables and attributes of the real subsets in ``satellite_olci`` / ``satellite_s2msi``.
"""

from __future__ import annotations

import hashlib
from datetime import datetime, timedelta
from pathlib import Path

import netCDF4
import numpy as np

from ._common import as_utc
from .optics import solar_angles, water_reflectance

#: OLCI WFR reflectance bands and centre wavelengths (nm), from the real manifest bandDescriptions.
OLCI_WFR_BANDS = {"Oa01": 400.0, "Oa02": 412.5, "Oa03": 442.5, "Oa04": 490.0, "Oa05": 510.0, "Oa06": 560.0,
                  "Oa07": 620.0, "Oa08": 665.0, "Oa09": 673.75, "Oa10": 681.25, "Oa11": 708.75, "Oa12": 753.75,
                  "Oa16": 778.75, "Oa17": 865.0, "Oa18": 885.0, "Oa21": 1020.0}
_WQSF_BITS = {"INVALID": 0, "WATER": 1, "LAND": 2, "CLOUD": 3, "TURBID_ATM": 22, "CLOUD_AMBIGUOUS": 23,
              "CLOUD_MARGIN": 24, "SNOW_ICE": 4, "INLAND_WATER": 5, "COASTLINE": 20, "TIDAL": 6, "COSMETIC": 7,
              "SUSPECT": 8, "HISOLZEN": 9, "SATURATED": 10, "MEGLINT": 11, "HIGHGLINT": 12, "WHITECAPS": 13,
              "ADJAC": 14, "WV_FAIL": 15, "PAR_FAIL": 16, "AC_FAIL": 17, "OC4ME_FAIL": 18, "OCNN_FAIL": 19,
              "KDM_FAIL": 21, "BPAC_ON": 25, "WHITE_SCATT": 26, "LOWRW": 27, "HIGHRW": 28, "IOP_LSD_FAIL": 29,
              **{n: 32 + i for i, n in enumerate("ANNOT_ANGSTROM ANNOT_AERO_B ANNOT_ABSO_D ANNOT_ACLIM ANNOT_ABSOA "
                                                 "ANNOT_MIXR1 ANNOT_DROUT ANNOT_TAU06".split())},
              **{f"RWNEG_O{b}": 40 + i for i, b in enumerate([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 16, 17, 18, 21])}}
_NS = ('xmlns:xfdu="urn:ccsds:schema:xfdu:1" xmlns:sentinel-safe="http://www.esa.int/safe/sentinel/1.1" '
       'xmlns:gml="http://www.opengis.net/gml" xmlns:sentinel3="http://www.esa.int/safe/sentinel/sentinel-3/1.0" '
       'xmlns:olci="http://www.esa.int/safe/sentinel/sentinel-3/olci/1.0"')
_REFL_SCALE, _REFL_OFFSET = 2.0e-5, -0.1  # illustrative packing of rho_w in uint16
_CHL_SCALE, _CHL_OFFSET = 4.0 / 254.0, -2.0  # log10(chl) in [-2, 2] packed in uint8, 255 = fill


def wqsf_flags(baseline: str = "003") -> tuple[list[str], np.ndarray]:
    """WQSF flag meanings and uint64 masks of a baseline (order as in the files)."""
    names = [n for n in _WQSF_BITS if baseline >= "004" or n != "IOP_LSD_FAIL"]
    return names, np.array([1 << _WQSF_BITS[n] for n in names], dtype=np.uint64)


def swath_scene(start: datetime, lat0: float, lon0: float, shape: tuple[int, int], seed: int, pixel_km=0.3):
    """Deterministic swath geometry, rho_w spectra (band, y, x), chlorophyll and land/cloud masks."""
    rng = np.random.default_rng(seed)
    rows, cols = shape
    i, j = np.meshgrid(np.arange(rows) - rows / 2, np.arange(cols) - cols / 2, indexing="ij")
    deg = pixel_km / 111.2
    lat = lat0 - i * deg + j * deg * 0.08  # descending pass, slightly tilted track
    lon = lon0 + (j * deg + i * deg * 0.08) / np.cos(np.radians(lat0))
    land = (i > rows * 0.3) & (j < -cols * 0.3)  # a coast in one corner
    cloud = (i + rows * 0.2) ** 2 + (j - cols * 0.2) ** 2 < (min(rows, cols) * 0.15) ** 2
    spectrum = water_reflectance(np.array(list(OLCI_WFR_BANDS.values())), rng)
    texture = 1.0 + 0.15 * np.sin(i / 9.0) * np.cos(j / 7.0) + 0.03 * rng.standard_normal(shape)
    rho_w = spectrum[:, None, None] * texture[None]
    rho_w[:, cloud] += 0.25
    chl = np.clip(1.5 * texture ** 4, 0.02, 90.0)
    return {"lat": lat, "lon": lon, "land": land, "cloud": cloud, "rho_w": rho_w, "chl": chl,
            "times": [start + timedelta(seconds=0.044 * r) for r in range(rows)], "rng": rng}


def sen3_name(start: datetime, platform: str, baseline: str, duration_s: int = 179) -> str:
    """Real-style SAFE name, e.g. ``S3A_OL_2_WFR____20210604T001016_..._0179_072_273_1440_MAR_O_NR_003.SEN3``."""
    end, created = start + timedelta(seconds=duration_s + 1), start + timedelta(hours=2, minutes=9)
    f = "%Y%m%dT%H%M%S"
    timeliness = "NR" if baseline == "003" else "NT"
    return (f"{platform}_OL_2_WFR____{start:{f}}_{end:{f}}_{created:{f}}_{duration_s:04d}_072_273_1440_MAR_O_"
            f"{timeliness}_{baseline}.SEN3")


def write_olci_wfr_sen3(out_dir: str | Path, start: datetime, lat0: float, lon0: float,
                        shape: tuple[int, int] = (200, 150), baseline: str = "003", platform: str = "S3A",
                        seed: int = 0, drop: tuple[str, ...] = ()) -> Path:
    """Write a small OLCI L2 WFR ``*.SEN3`` folder (real file names, variables and manifest).

    Args:
        out_dir: parent folder.
        start: sensing start (naive = UTC).
        lat0: scene centre latitude (degree_north).
        lon0: scene centre longitude (degree_east).
        shape: pixels (rows, columns); 300 m pixels.
        baseline: ``"003"`` (``chl_oc4me.nc``) or ``"004"`` (``chlor_a.nc``, WQSF with IOP_LSD_FAIL).
        platform: ``S3A`` or ``S3B``.
        seed: random seed (same arguments, same bytes except the NetCDF library stamps).
        drop: member files (e.g. ``"Oa05_reflectance.nc"``) not to write, to build broken products.

    Returns:
        The ``.SEN3`` folder.
    """
    start = as_utc(start).replace(tzinfo=None)
    folder = Path(out_dir) / sen3_name(start, platform, baseline)
    folder.mkdir(parents=True, exist_ok=True)
    scene = swath_scene(start, lat0, lon0, shape, seed)
    end = start + timedelta(seconds=180)
    gattrs = _sen3_globals(folder.name, start, end, baseline)
    fill = scene["land"]
    writers = {f"{b}_reflectance.nc": (_write_band, b, k) for k, b in enumerate(OLCI_WFR_BANDS)}
    chl_file = "chl_oc4me.nc" if baseline == "003" else "chlor_a.nc"
    writers |= {"geo_coordinates.nc": (_write_geo,), "wqsf.nc": (_write_wqsf, baseline),
                chl_file: (_write_chl, "CHL_OC4ME" if baseline == "003" else "chlor_a", 1.0),
                "chl_nn.nc": (_write_chl, "CHL_NN", 1.4), "tie_geometries.nc": (_write_tie, start),
                "time_coordinates.nc": (_write_time,)}
    for name, (func, *args) in writers.items():
        if name in drop:
            continue
        with netCDF4.Dataset(folder / name, "w") as ds:
            ds.setncatts({**gattrs, "title": f"OLCI Level 2 WATER Product, {name[:-3]} Data Set"})
            ds.createDimension("rows", shape[0])
            ds.createDimension("columns", shape[1])
            func(ds, scene, fill, *args)
    (folder / "xfdumanifest.xml").write_text(_manifest(folder, scene, start, end, platform, baseline),
                                             encoding="utf-8")
    return folder


def _sen3_globals(name: str, start: datetime, end: datetime, baseline: str) -> dict:
    iso = "%Y-%m-%dT%H:%M:%S.%fZ"
    created = (start + timedelta(hours=2, minutes=9)).strftime("%Y-%m-%dT%H:%M:%SZ")
    return {"absolute_orbit_number": np.uint32(27581), "ac_subsampling_factor": np.uint16(64),
            "al_subsampling_factor": np.uint16(1), "comment": " ", "contact": "ops@eumetsat.int",
            "creation_time": created, "history": f"  {created}: PUGCoreProcessor JobOrder.xml", "institution": "MAR",
            "product_name": name, "resolution": "[ 270 294 ]",
            "source": "IPF-OL-2 07.01" if baseline == "003" else "IPF-OL-2 08.00",
            "start_time": start.strftime(iso), "stop_time": end.strftime(iso)}


def _packed(ds, name, dtype, values, fill, scale, offset, attrs, dims=("rows", "columns")):
    var = ds.createVariable(name, dtype, dims, fill_value=fill, zlib=True, complevel=4)
    var.setncatts({"scale_factor": scale, "add_offset": offset, **attrs})
    var[...] = values  # netCDF4 packs (value - offset) / scale and writes the fill where masked
    return var


def _write_band(ds, scene, fill, band, k):
    values = np.ma.masked_array(scene["rho_w"][k], mask=fill)
    _packed(ds, f"{band}_reflectance", "u2", values, np.uint16(65535), _REFL_SCALE, _REFL_OFFSET,
            {"long_name": f"Reflectance for OLCI acquisition band {band}", "units": "dl",
             "standard_name": "surface_ratio_of_upwelling_radiance_emerging_from_sea_water_to_downwelling_"
                              "radiative_flux_in_air", "valid_min": np.uint16(0), "valid_max": np.uint16(65534),
             "coordinates": "time_stamp altitude latitude longitude"})


def _write_geo(ds, scene, fill):
    for name, units in (("latitude", "degrees_north"), ("longitude", "degrees_east")):
        _packed(ds, name, "i4", scene[name[:3]], np.int32(-2147483648), 1e-6, 0.0,
                {"long_name": f"DEM corrected {name}", "standard_name": name, "units": units})
    _packed(ds, "altitude", "i2", np.where(scene["land"], 12, 0), np.int16(-32768), 1.0, 0.0,
            {"long_name": "DEM corrected altitude", "units": "m"})


def _write_wqsf(ds, scene, fill, baseline):
    names, masks = wqsf_flags(baseline)
    bits = {n: np.uint64(m) for n, m in zip(names, masks, strict=True)}
    water = ~scene["land"]
    flags = np.where(water, bits["WATER"], bits["LAND"]).astype(np.uint64)
    flags[scene["cloud"]] |= bits["CLOUD"]
    flags[water & ~scene["cloud"] & (scene["rng"].random(scene["land"].shape) < 0.01)] |= bits["CLOUD_AMBIGUOUS"]
    var = ds.createVariable("WQSF", "u8", ("rows", "columns"), fill_value=False, zlib=True, complevel=4)
    var.setncatts({"long_name": "Water Quality and Science Flags", "flag_masks": masks,
                   "flag_meanings": " ".join(names)})
    var[...] = flags


def _write_chl(ds, scene, fill, name, factor):
    log_chl = np.ma.masked_array(np.log10(scene["chl"] * factor), mask=fill | scene["cloud"])
    _packed(ds, name, "u1", log_chl, np.uint8(255), _CHL_SCALE, _CHL_OFFSET,
            {"long_name": "Algal pigment concentration", "units": "lg(re mg.m-3)",
             "standard_name": "mass_concentration_of_chlorophyll_a_in_sea_water", "valid_min": np.uint8(0),
             "valid_max": np.uint8(254), "coordinates": "time_stamp altitude latitude longitude"})


def _write_tie(ds, scene, fill, start):
    rows, cols = scene["land"].shape
    n_tie = -(-(cols - 1) // 64) + 1
    ds.createDimension("tie_rows", rows)
    ds.createDimension("tie_columns", n_tie)
    sza0, saa0 = solar_angles(start, float(scene["lat"].mean()), float(scene["lon"].mean()))
    tie = np.arange(n_tie) * 64.0 - cols / 2
    sza = sza0 + 0.0012 * tie[None, :] + 0.002 * (np.arange(rows)[:, None] - rows / 2)
    oza = np.abs(tie)[None, :].repeat(rows, 0) * 0.3 / 7.0  # ~0 at nadir, grows across track
    for name, values, long in (("SZA", sza, "Sun Zenith Angle"), ("OZA", oza, "Observation Zenith Angle"),
                               ("SAA", np.full_like(sza, saa0), "Sun Azimuth Angle"),
                               ("OAA", np.full_like(sza, 101.0), "Observation Azimuth Angle")):
        _packed(ds, name, "u4", values, np.uint32(4294967295), 1e-6, 0.0, {"long_name": long, "units": "degrees"},
                dims=("tie_rows", "tie_columns"))


def _write_time(ds, scene, fill):
    epoch = datetime(2000, 1, 1)
    var = ds.createVariable("time_stamp", "i8", ("rows",), zlib=True)
    var.setncatts({"long_name": "Elapsed time since 01 Jan 2000 0h", "units": "microseconds since 2000-01-01 00:00:00"})
    var[:] = [int((t - epoch) / timedelta(microseconds=1)) for t in scene["times"]]


def _manifest(folder: Path, scene, start: datetime, end: datetime, platform: str, baseline: str) -> str:
    """XFDU manifest with the element paths of the real one (only the parts readers use)."""
    iso = "%Y-%m-%dT%H:%M:%S.%fZ"
    lat, lon = scene["lat"], scene["lon"]
    edge = [(0, j) for j in range(0, lat.shape[1], 25)] + [(i, -1) for i in range(0, lat.shape[0], 25)]
    edge += [(-1, j) for j in range(lat.shape[1] - 1, -1, -25)] + [(i, 0) for i in range(lat.shape[0] - 1, -1, -25)]
    pos = " ".join(f"{lat[i, j]:.4f} {lon[i, j]:.4f}" for i, j in edge + edge[:1])
    bands = "".join(f'<sentinel3:band name="{b}"><sentinel3:centralWavelength>{w:g}</sentinel3:centralWavelength>'
                    f"</sentinel3:band>" for b, w in OLCI_WFR_BANDS.items())
    units, objects = [], []
    for path in sorted(folder.glob("*.nc")):
        oid = path.stem + "Data"
        md5 = hashlib.md5(path.read_bytes()).hexdigest()  # noqa: S324 - the manifest's own checksum type
        units.append(f'<xfdu:contentUnit ID="{path.stem}Unit" unitType="Measurement Data Unit" '
                     f'textInfo="{path.stem}"><dataObjectPointer dataObjectID="{oid}"/></xfdu:contentUnit>')
        objects.append(f'<dataObject ID="{oid}"><byteStream mimeType="application/x-netcdf" '
                       f'size="{path.stat().st_size}"><fileLocation locatorType="URL" textInfo="{path.stem}" '
                       f'href="./{path.name}"/><checksum checksumName="MD5">{md5}</checksum></byteStream></dataObject>')
    software = "07.01" if baseline == "003" else "08.00"

    def meta(oid: str, body: str) -> str:
        return (f'<metadataObject ID="{oid}" classification="DESCRIPTION" category="DMD"><metadataWrap '
                f'mimeType="text/xml" vocabularyName="Sentinel-SAFE"><xmlData>{body}</xmlData></metadataWrap>'
                "</metadataObject>")

    return "\n".join([
        '<?xml version ="1.0" encoding="UTF-8"?>',
        f'<xfdu:XFDU {_NS} version="esa/safe/sentinel/sentinel-3/olci/level-2/1.0">',
        '<informationPackageMap><xfdu:contentUnit ID="packageUnit" unitType="Information Package" '
        'textInfo="SENTINEL-3 OLCI Level 2 Water Product">' + "".join(units) + "</xfdu:contentUnit>"
        "</informationPackageMap><metadataSection>",
        meta("acquisitionPeriod", f"<sentinel-safe:acquisitionPeriod><sentinel-safe:startTime>{start:{iso}}"
             f"</sentinel-safe:startTime><sentinel-safe:stopTime>{end:{iso}}</sentinel-safe:stopTime>"
             "</sentinel-safe:acquisitionPeriod>"),
        meta("platform", "<sentinel-safe:platform><sentinel-safe:familyName>Sentinel-3</sentinel-safe:familyName>"
             f"<sentinel-safe:number>{platform[-1]}</sentinel-safe:number><sentinel-safe:instrument>"
             '<sentinel-safe:familyName abbreviation="OLCI">Ocean Land Colour Instrument</sentinel-safe:familyName>'
             "</sentinel-safe:instrument></sentinel-safe:platform>"),
        meta("measurementFrameSet", '<sentinel-safe:frameSet><sentinel-safe:footPrint srsName='
             f'"http://www.opengis.net/def/crs/EPSG/0/4326"><gml:posList>{pos}</gml:posList>'
             "</sentinel-safe:footPrint></sentinel-safe:frameSet>"),
        meta("generalProductInformation", f"<sentinel3:generalProductInformation><sentinel3:productName>"
             f"{folder.name}</sentinel3:productName><sentinel3:productType>OL_2_WFR___</sentinel3:productType>"
             f"<sentinel3:timeliness>{folder.name[-11:-9]}</sentinel3:timeliness><sentinel3:baselineCollection>"
             f"{baseline}</sentinel3:baselineCollection><sentinel3:creationTime>{folder.name[48:63]}"
             "</sentinel3:creationTime></sentinel3:generalProductInformation>"),
        meta("olciProductInformation", "<olci:olciProductInformation><olci:imageSize><sentinel3:rows>"
             f"{lat.shape[0]}</sentinel3:rows><sentinel3:columns>{lat.shape[1]}</sentinel3:columns></olci:imageSize>"
             f'<olci:bandDescriptions bands="{len(OLCI_WFR_BANDS)}">{bands}</olci:bandDescriptions>'
             "</olci:olciProductInformation>"),
        '<metadataObject ID="processing" classification="PROVENANCE" category="PDI"><metadataWrap mimeType='
        '"text/xml" vocabularyName="Sentinel-SAFE"><xmlData><sentinel-safe:processing name="DataProcessing" '
        'outputLevel="2"><sentinel-safe:facility name="Marine Processing and Archiving Centre [MAR]">'
        f'<sentinel-safe:software name="IPF-OL-2" version="{software}"/></sentinel-safe:facility>'
        "</sentinel-safe:processing></xmlData></metadataWrap></metadataObject>",
        "</metadataSection><dataObjectSection>", *objects, "</dataObjectSection></xfdu:XFDU>", ""])


#: SNAP C2RCC-OLCI band numbers written as rrs_<n> (the real subset's 16 bands).
C2RCC_BANDS = (1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 16, 17, 18, 21)
C2RCC_FLAGS = ("Rtosa_OOS Rtosa_OOR Rhow_OOR Cloud_risk Iop_OOR Apig_at_max Adet_at_max Agelb_at_max Bpart_at_max "
               "Bwit_at_max Apig_at_min Adet_at_min Agelb_at_min Bpart_at_min Bwit_at_min Rhow_OOS Kd489_OOR "
               "Kdmin_OOR Kd489_at_max Kdmin_at_max Valid_PE").split()
#: ACOLITE Rrs_<nm> names per platform (band centre wavelengths) and l2_flags bits (flag_exponent_* defaults).
ACOLITE_BANDS = {"S2A": (443, 492, 560, 665, 704, 740, 783, 833, 865, 1614, 2202),
                 "S2B": (442, 492, 559, 665, 704, 739, 780, 833, 864, 1610, 2186)}


def write_snap_c2rcc(path_dir: str | Path, start: datetime, lat0: float, lon0: float,
                     shape: tuple[int, int] = (86, 100), seed: int = 0) -> Path:
    """Write a SNAP C2RCC-OLCI subset like ``O_L2_0001_SNS_2017105095839_v1.0.nc`` (xcube test data).

    Variables: ``lat``/``lon`` (y, x) float64, ``rrs_<n>`` (sr^-1, NaN fill, ``wavelength`` attribute),
    ``conc_chl`` (mg m^-3), ``kd489`` (m^-1), ``c2rcc_flags`` (int32 ``_Unsigned``, bit 31 ``Valid_PE``),
    tie-point ``SZA``/``OZA`` (tp_y, tp_x) with SNAP ``subsampling_x``/``offset_x``; global
    ``start_date``/``stop_date`` as ``15-APR-2017 10:01:35.533860``.

    Args:
        path_dir: output folder.
        start: sensing start (naive = UTC).
        lat0: scene centre latitude (degree_north).
        lon0: scene centre longitude (degree_east).
        shape: pixels (y, x).
        seed: random seed.

    Returns:
        The file path.
    """
    start = as_utc(start).replace(tzinfo=None)
    scene = swath_scene(start, lat0, lon0, shape, seed)
    path = Path(path_dir) / f"O_L2_0001_SNS_{start:%Y%j%H%M%S}_v1.0.nc"
    path.parent.mkdir(parents=True, exist_ok=True)
    snap_time = "%d-%b-%Y %H:%M:%S.%f"
    invalid = scene["land"] | scene["cloud"]
    with netCDF4.Dataset(path, "w") as ds:
        ds.setncatts({"Conventions": "CF-1.4", "product_type": "C2RCC_OLCI", "metadata_profile": "beam",
                      "start_date": start.strftime(snap_time).upper(),
                      "stop_date": (start + timedelta(seconds=3.74)).strftime(snap_time).upper()})
        n_tp = -(-(shape[1] + 58) // 64) + 1
        for dim, size in (("y", shape[0]), ("x", shape[1]), ("tp_y", shape[0]), ("tp_x", n_tp)):
            ds.createDimension(dim, size)
        for k, band in enumerate(C2RCC_BANDS):
            var = ds.createVariable(f"rrs_{band}", "f4", ("y", "x"), fill_value=np.float32(np.nan), zlib=True)
            var.setncatts({"long_name": "Atmospherically corrected angular dependent remote sensing reflectances",
                           "units": "sr^-1", "wavelength": np.float32(list(OLCI_WFR_BANDS.values())[k]),
                           "valid_pixel_expression": "c2rcc_flags.Valid_PE", "coordinates": "lat lon"})
            var[...] = np.where(invalid, np.nan, scene["rho_w"][k] / np.pi)
        kd = 0.05 + 0.06 * scene["chl"]
        for name, values, units in (("conc_chl", scene["chl"], "mg m^-3"), ("kd489", kd, "m^-1")):
            var = ds.createVariable(name, "f4", ("y", "x"), fill_value=np.float32(np.nan), zlib=True)
            var.setncatts({"units": units, "valid_pixel_expression": "c2rcc_flags.Valid_PE", "coordinates": "lat lon"})
            var[...] = np.where(invalid, np.nan, values)
        flags = np.where(invalid, 0, 1 << 31).astype(np.int64) | np.where(scene["cloud"], 8, 0)
        var = ds.createVariable("c2rcc_flags", "i4", ("y", "x"), zlib=True)
        var.setncatts({"flag_meanings": " ".join(C2RCC_FLAGS), "_Unsigned": "true", "coordinates": "lat lon",
                       "flag_masks": np.array([1 << b for b in range(20)] + [1 << 31], dtype=np.int64).astype(np.int32),
                       "long_name": "C2RCC quality flags"})
        var[...] = flags.astype(np.uint32).view(np.int32)
        for name in ("SZA", "OZA"):
            var = ds.createVariable(name, "f4", ("tp_y", "tp_x"), fill_value=np.float32(np.nan))
            var.setncatts({"offset_x": -58.0, "offset_y": 0.0, "subsampling_x": 64.0, "subsampling_y": 1.0})
            base = 47.5 if name == "SZA" else 37.0
            row = base - (0.11 if name == "SZA" else 1.0) * np.arange(n_tp)
            var[...] = np.broadcast_to(row, (shape[0], n_tp))
        for name, key, units in (("lat", "lat", "degrees_north"), ("lon", "lon", "degrees_east")):
            var = ds.createVariable(name, "f8", ("y", "x"), fill_value=np.nan, zlib=True)
            var.setncatts({"standard_name": "latitude" if name == "lat" else "longitude", "units": units})
            var[...] = scene[key]
    return path


def write_acolite_l2w(path_dir: str | Path, start: datetime, lat0: float, lon0: float,
                      shape: tuple[int, int] = (114, 102), platform: str = "S2A", seed: int = 0) -> Path:
    """Write an ACOLITE L2W file like ``S2A_MSI_L2W__20210218T103101_..._10m_BER__ACOLITE.nc``.

    Variables: ``lon``/``lat`` (y, x) float32, ``l2_flags`` int32 without CF attributes (bit 0
    non-water, 1 cirrus, 2 high TOA, 3 negative), ``Rrs_<nm>`` float32 (units attribute "1" as
    ACOLITE writes it, values in sr-1, NaN where flagged); global ``isodate`` and ``sensor``.

    Args:
        path_dir: output folder.
        start: overpass time (naive = UTC).
        lat0: scene centre latitude (degree_north).
        lon0: scene centre longitude (degree_east).
        shape: pixels (y, x), 10 m.
        platform: ``S2A`` or ``S2B`` (band names differ).
        seed: random seed.

    Returns:
        The file path.
    """
    start = as_utc(start).replace(tzinfo=None)
    scene = swath_scene(start, lat0, lon0, shape, seed, pixel_km=0.01)
    path = Path(path_dir) / f"{platform}_MSI_L2W__{start:%Y%m%dT%H%M%S}_N0209_R108_T31TFJ_10m_BER__ACOLITE.nc"
    path.parent.mkdir(parents=True, exist_ok=True)
    flags = np.where(scene["land"], 1, 0) | np.where(scene["cloud"], 4, 0)
    olci_wl = np.array(list(OLCI_WFR_BANDS.values()))
    with netCDF4.Dataset(path, "w") as ds:
        ds.setncatts({"generated_by": "ACOLITE", "sensor": f"{platform}_MSI", "metadata_profile": "beam",
                      "isodate": start.strftime("%Y-%m-%dT%H:%M:%S.%fZ")})
        ds.createDimension("x", shape[1])
        ds.createDimension("y", shape[0])
        for name in ("lon", "lat"):
            var = ds.createVariable(name, "f4", ("y", "x"), zlib=True)
            var.setncatts({"standard_name": "longitude" if name == "lon" else "latitude",
                           "units": "degree_east" if name == "lon" else "degree_north"})
            var[...] = scene[name]
        var = ds.createVariable("l2_flags", "i4", ("y", "x"), zlib=True)
        var.setncatts({"standard_name": "l2_flags", "units": "1"})
        var[...] = flags
        for wl in ACOLITE_BANDS[platform]:
            k = int(np.argmin(np.abs(olci_wl - wl)))
            var = ds.createVariable(f"Rrs_{wl}", "f4", ("y", "x"), zlib=True)
            var.setncatts({"dataset": "rhos", "parname": f"Rrs_{wl}", "long_name": "Remote sensing reflectance",
                           "units": "1", "wavelength": float(wl)})
            var[...] = np.where(flags > 0, np.nan, scene["rho_w"][k] / np.pi * (0.2 if wl > 1000 else 1.0))
    return path
