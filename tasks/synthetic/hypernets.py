"""Writer of HYPERNETS water L2A reflectance files (``hypernets_processor`` v2, ``wavelength x series``).

PANTHYR files, the other layout the HYPERNETS reader accepts, come from :mod:`.panthyr`.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

import netCDF4
import numpy as np

from ._common import as_utc, compressed_var
from .optics import solar_angles, water_reflectance
from .panthyr import write_panthyr_l2a

#: hypernets_processor v2 quality bits, water network (docs table_flags_common.csv + table_flags_water.csv).
HYPERNETS_WATER_FLAGS = (
    "lon_default lat_default pt_ref_invalid bad_pointing outliers L0_threshold L0_discontinuity dark_masked "
    "half_of_scans_masked not_enough_dark_scans not_enough_rad_scans not_enough_irr_scans series_missing "
    "vza_irradiance no_clear_sky_irradiance variable_irradiance half_of_uncertainties_too_big "
    "single_irradiance_used no_clear_sky_sequence single_skyradiance_used lu_eq_missing rhof_angle_missing "
    "rhof_default temp_variability_irr temp_variability_rad min_nbred min_nbrlu min_nbrlsky def_wind_flag "
    "simil_fail"
).split()
_F4_FILL = np.float32(9.96921e36)


def write_hypernets_l2a(
    path_dir: str | Path,
    site: str,
    time: datetime,
    lat: float,
    lon: float,
    seed: int = 0,
    system: str = "HYPERNETS",
    network: str = "W",
    n_series: int = 1,
    drop: tuple[str, ...] = (),
) -> Path:
    """Write one water L2A reflectance file in the real layout of its system.

    ``system="HYPERNETS"``: hypernets_processor v2 layout (``wavelength x series``, 350-1000 nm at
    ~0.47 nm, float32 rho_w, relative random/systematic uncertainties in %, scaled uint16 angles,
    uint32 ``acquisition_time`` in s since 1970, uint32 ``quality_flag`` with CF masks), file name
    ``HYPERNETS_<network>_<SITE>_L2A_REF_<yyyymmddThhmm>_<proc yyyymmddThhmm>_v2.0.nc``.
    ``system="PANTHYR"``: PANTHYR layout (``wavelength x sequence x time``, 237 bands 355-945 nm,
    float64, ``reflectance_std``, uint8 ``quality_flag`` with ``_FillValue`` 0), file name
    ``PANTHYR_W_<SITE>_L2A_REF_<yyyymmddThhmmss>_<AZ>_<proc>_v20230717_QA.nc``.

    Args:
        path_dir: output folder.
        site: 4-character site code.
        time: acquisition start time (UTC).
        lat: site latitude in degree_north.
        lon: site longitude in degree_east.
        seed: random seed.
        system: ``"HYPERNETS"`` or ``"PANTHYR"``.
        network: ``"W"`` (water) or ``"L"`` (land; for refusal tests).
        n_series: spectra in the file (HYPERNETS layout; one viewing azimuth each).
        drop: variable names not to write (to build broken files).

    Returns:
        The path written.

    """
    time = as_utc(time)
    rng = np.random.default_rng([seed, sum(map(ord, site)), int(time.timestamp())])
    out = Path(path_dir)
    out.mkdir(parents=True, exist_ok=True)
    sza, saa = solar_angles(time, lat, lon)
    if system == "PANTHYR":
        return write_panthyr_l2a(out, site, time, lat, lon, rng, sza, drop)
    proc = time + timedelta(hours=5)
    path = out / f"HYPERNETS_{network}_{site}_L2A_REF_{time:%Y%m%dT%H%M}_{proc:%Y%m%dT%H%M}_v2.0.nc"
    wl = np.linspace(350.2, 999.8, 1400)
    variables = _l2a_variables(wl, time, n_series, sza, saa, rng)
    water = "W" if network == "W" else "L"
    with netCDF4.Dataset(path, "w", format="NETCDF4") as ds:
        ds.setncatts(_hypernets_attrs(path, site, time, lat, lon, seed, water))
        ds.createDimension("wavelength", wl.size)
        ds.createDimension("series", n_series)
        for name, dtype, dims, values, attrs, fill, scale in variables:
            compressed_var(ds, name, dtype, dims, values, attrs, drop, fill, scale)
    return path


def _l2a_variables(
    wl: np.ndarray, time: datetime, n_series: int, sza: float, saa: float, rng: np.random.Generator
) -> list[tuple]:
    """Variables of a HYPERNETS L2A file in file order: (name, dtype, dims, values, attrs, fill, scale)."""
    rho = np.stack([water_reflectance(wl, rng) for _ in range(n_series)], axis=1).astype(np.float32)
    u_rand = (1.0 + 2.0 * np.exp(-((wl - 350) / 40.0)) + 3.0 * np.clip((wl - 850) / 150, 0, 1))[:, None]
    u_rand = np.broadcast_to(u_rand, rho.shape) * rng.uniform(0.8, 1.2, (1, n_series))
    u_sys = np.full(rho.shape, rng.uniform(4.0, 7.0), np.float32)
    bits = rng.random(n_series) < 0.3
    flags = np.where(bits, 1 << rng.choice([19, 22, 28, 29], n_series), 0).astype(np.uint32)
    vaa = (saa + 90.0 + 45.0 * np.arange(n_series)) % 360.0
    ed = 1400.0 * np.exp(-(((wl - 480.0) / 350.0) ** 2))[:, None]
    nosc = rho + np.float32(rng.uniform(0.0005, 0.002))
    series, spec = ("series",), ("wavelength", "series")
    unc = {"units": "%", "pdf_shape": "gaussian"}
    bandwidth = {
        "standard_name": "bandwidth",
        "long_name": "bandwidth FWHM assuming a Gaussian SRF",
        "units": "nm",
        "preferred_symbol": "FWHM",
    }
    variables = [("bandwidth", "f4", ("wavelength",), np.full(wl.size, 3.0), bandwidth, _F4_FILL, 0.1)]
    for name, value, scale, symbol in [
        ("viewing_azimuth_angle", vaa, 0.0055, "vaa"),
        ("pointing_azimuth_angle", (vaa + 180) % 360, 0.0055, "vaa"),
        ("viewing_zenith_angle", np.full(n_series, 40.0), 0.0028, "vza"),
        ("solar_azimuth_angle", np.full(n_series, saa), 0.0055, "saa"),
        ("solar_zenith_angle", np.full(n_series, sza), 0.0028, "sza"),
    ]:
        attrs = {
            "standard_name": name,
            "long_name": name.replace("_", " "),
            "units": "degrees",
            "preferred_symbol": symbol,
        }
        variables.append((name, "u2", series, value, attrs, np.uint16(65535), scale))
    variables += [
        (
            "acquisition_time",
            "u4",
            series,
            int(time.timestamp()) + 40 * np.arange(n_series),
            {
                "standard_name": "time",
                "long_name": "Acquisition time in seconds since 1970-01-01 00:00:00",
                "units": "s",
            },
            None,
            None,
        ),
        (
            "series_id",
            "u2",
            series,
            7 + 2 * np.arange(n_series),
            {"standard_name": "series_id", "long_name": "Series id number", "units": "-"},
            None,
            None,
        ),
        (
            "quality_flag",
            "u4",
            series,
            flags,
            {
                "standard_name": "quality_flag",
                "long_name": "The quality flag field consists of 32 bits.",
                "flag_meanings": " ".join(HYPERNETS_WATER_FLAGS),
                "flag_masks": ", ".join(str(1 << i) for i in range(len(HYPERNETS_WATER_FLAGS))),
            },
            None,
            None,
        ),
    ]
    spectral = [
        (
            "u_rel_random_reflectance",
            u_rand,
            {
                "standard_name": "u_rel_random_water_leaving_reflectance",
                "long_name": "Random water leaving reflectance relative uncertainty",
                **unc,
            },
            0.01,
        ),
        (
            "u_rel_systematic_reflectance",
            u_sys,
            {
                "standard_name": "u_rel_systematic_water_leaving_reflectance",
                "long_name": "Systematic water leaving reflectance relative uncertainty",
                **unc,
            },
            0.01,
        ),
        (
            "reflectance",
            rho,
            {
                "standard_name": "water_leaving_reflectance",
                "units": "-",
                "preferred_symbol": "rhow",
                "long_name": "Reflectance of the water column at the surface with correction for the NIR "
                "similarity spectrum (see Ruddick et al. 2006)",
                "unc_comps": "['u_rel_random_reflectance', 'u_rel_systematic_reflectance']",
            },
            None,
        ),
        (
            "std_reflectance",
            np.abs(rho) * 0.02,
            {
                "standard_name": "std_reflectance",
                "units": "-",
                "long_name": "standard deviation on reflectance due to the variability in radiance",
            },
            None,
        ),
        (
            "reflectance_nosc",
            nosc,
            {
                "standard_name": "water_leaving_reflectance_nosc",
                "units": "-",
                "preferred_symbol": "rhow_nosc",
                "long_name": "Reflectance of the water column at the surface without correction for the NIR "
                "similarity spectrum (see Ruddick et al., 2006)",
            },
            None,
        ),
        (
            "water_leaving_radiance",
            nosc * ed / np.pi,
            {
                "standard_name": "water_leaving_radiance",
                "units": "mW m^-2 nm^-1 sr^-1",
                "preferred_symbol": "lw",
                "long_name": "water-leaving radiance",
            },
            None,
        ),
        (
            "irradiance",
            np.broadcast_to(ed, rho.shape),
            {"standard_name": "irradiance", "long_name": "downwelling irradiance", "units": "mW m^-2 nm^-1"},
            None,
        ),
    ]
    variables += [(name, "f4", spec, value, attrs, _F4_FILL, scale) for name, value, attrs, scale in spectral]
    for name, value, units in [
        ("epsilon", rng.normal(0, 5e-4, n_series), "-"),
        ("rhof", np.full(n_series, 0.0256), "-"),
        ("rhof_wind", rng.uniform(1, 8, n_series), "ms^-1"),
    ]:
        variables.append((name, "f4", series, value, {"standard_name": name, "units": units}, _F4_FILL, None))
    for name in ("n_valid_scans", "n_total_scans"):
        variables.append((name, "u1", series, np.full(n_series, 6), {"standard_name": name, "units": "-"}, None, None))
    variables.append(("wavelength", "f8", ("wavelength",), wl, {}, np.nan, None))
    return variables


def _hypernets_attrs(path: Path, site: str, time: datetime, lat: float, lon: float, seed: int, network: str) -> dict:
    """Global attributes of a HYPERNETS L2A file (``network`` ``"W"`` water or ``"L"`` land)."""
    return {
        "type": "dataset",
        "conventions": "CFv72, NVS2.0",
        "format_version": "v2.0",
        "netcdf_version": "1.6",
        "processor_name": "hypernets_processor",
        "processor_version": "2.0.0",
        "processor_atbd": "https://hypernets-processor.readthedocs.io/en/latest/",
        "product_name": path.stem,
        "product_level": f"{network}_L2A",
        "source": "surface observation",
        "title": f"HYPSTAR {'Water' if network == 'W' else 'Land'} network dataset of spectral surface reflectance",
        "licence": "Attribution-NonCommercial-NoDerivs CC BY-NC-ND",
        "comment": "oceanlake synthetic file, not a measurement",
        "sequence_id": f"SEQ{time:%Y%m%dT%H%M%S}",
        "system_id": f"HYPSTAR_{222300 + seed % 100}",
        "site_id": site,
        "site_latitude": float(lat),
        "site_longitude": float(lon),
        "topic_category": "oceans, environment, inland waters, geoscientific information",
        "locator": "https://github.com/HYPERNETS/hypernets_processor/",
    }
