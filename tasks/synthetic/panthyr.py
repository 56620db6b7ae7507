"""Writer of PANTHYR water L2A reflectance files (``wavelength x sequence x time`` layout)."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

import netCDF4
import numpy as np

from ._common import compressed_var
from .optics import water_reflectance


def write_panthyr_l2a(
    out: Path, site: str, time: datetime, lat: float, lon: float, rng: np.random.Generator, sza: float, drop
) -> Path:
    """Write one PANTHYR L2A file (237 bands 355-945 nm, float64, uint8 ``quality_flag`` fill 0).

    Args:
        out: existing output folder.
        site: 4-character site code.
        time: acquisition time (aware UTC).
        lat: site latitude in degree_north.
        lon: site longitude in degree_east.
        rng: random generator (seeded by the caller).
        sza: solar zenith angle in degrees.
        drop: variable names not to write (to build broken files).

    Returns:
        The path written, ``PANTHYR_W_<SITE>_L2A_REF_<yyyymmddThhmmss>_270_<proc>_v20230717_QA.nc``.

    """
    proc = time + timedelta(days=30)
    path = out / f"PANTHYR_W_{site}_L2A_REF_{time:%Y%m%dT%H%M%S}_270_{proc:%Y%m%dT%H%M%S}_v20230717_QA.nc"
    wl = np.arange(355.0, 945.1, 2.5)
    rho = water_reflectance(wl, rng)[:, None, None]
    fill = 9.969209968386869e36
    spec = ("wavelength", "sequence", "time")
    with netCDF4.Dataset(path, "w", format="NETCDF4") as ds:
        ds.setncatts(
            {
                "timestamp": f"{time:%Y-%m-%dT%H:%M:%S}",
                "processor_version": "v20230717",
                "azimuth": 270,
                "solar_zenith_angle": round(sza, 2),
                "rhow_units": "-",
                "latitude_average": float(lat),
                "longitude_average": float(lon),
                "platform_description": "oceanlake synthetic PANTHYR",
            }
        )
        for name, size in (("wavelength", wl.size), ("sequence", 1), ("time", 1)):
            ds.createDimension(name, size)
        compressed_var(ds, "wavelength", "f8", ("wavelength",), wl, {}, drop, np.nan)
        compressed_var(ds, "acquisition_time", "f8", (), time.timestamp(), {}, drop, np.nan)
        compressed_var(ds, "bandwidth", "u2", ("wavelength",), np.zeros(wl.size), {}, drop, np.uint16(0), 1.0)
        for name, value in [
            ("viewing_azimuth_angle", 270.0),
            ("viewing_zenith_angle", 40.0),
            ("solar_azimuth_angle", 0.0),
            ("solar_zenith_angle", round(sza, 1)),
        ]:
            compressed_var(
                ds,
                name,
                "u2",
                ("sequence",),
                [value],
                {"standard_name": name, "units": "degrees"},
                drop,
                np.uint16(0),
                0.1,
            )
        compressed_var(
            ds,
            "quality_flag",
            "u1",
            ("sequence",),
            [0],
            {
                "standard_name": "quality_flag",
                "flag_meanings": " ".join(f"flag{i}" for i in range(1, 9)),
                "flag_masks": "1, 2, 4, 8, 16, 32, 64, 128",
            },
            drop,
            np.uint8(0),
        )
        for name, value in [
            ("reflectance", rho),
            ("reflectance_std", rho * 0.02),
            ("reflectance_nosc", rho + 1e-3),
        ]:
            compressed_var(
                ds,
                name,
                "f8",
                spec,
                value,
                {"standard_name": "water_leaving_reflectance", "units": "-"},
                drop,
                fill,
            )
        seq = ds.createVariable("sequence", str, ("sequence",))
        seq[0] = f"SYN_{time:%Y%m%d_%H%M%S}_AZI_270.0"
        tvar = ds.createVariable("time", str, ("time",))
        tvar[0] = f"{time:%Y-%m-%dT%H:%M:%S}"
    return path
