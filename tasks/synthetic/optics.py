"""Sun position and water reflectance spectra for the synthetic radiometry files."""

from __future__ import annotations

from datetime import datetime

import numpy as np

from ._common import as_utc


def solar_angles(time: datetime, lat: float, lon: float) -> tuple[float, float]:
    """Approximate solar zenith and azimuth (degrees, azimuth clockwise from north) at a UTC time."""
    time = as_utc(time)
    doy = time.timetuple().tm_yday
    decl = np.radians(23.44 * np.sin(2 * np.pi * (284 + doy) / 365.0))
    hour_angle = np.radians(15.0 * (time.hour + time.minute / 60.0 + lon / 15.0 - 12.0))
    phi = np.radians(lat)
    cos_z = np.sin(phi) * np.sin(decl) + np.cos(phi) * np.cos(decl) * np.cos(hour_angle)
    zenith = float(np.degrees(np.arccos(np.clip(cos_z, -1, 1))))
    az = np.degrees(np.arctan2(np.sin(hour_angle), np.cos(hour_angle) * np.sin(phi) - np.tan(decl) * np.cos(phi)))
    return zenith, float((az + 180.0) % 360.0)


def water_reflectance(wavelength: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Return a coastal-water rho_w spectrum (dimensionless): peak 0.01-0.04 near 560-570 nm."""
    peak, centre = rng.uniform(0.012, 0.04), rng.uniform(558, 572)
    wl = wavelength
    green = np.exp(-(((wl - centre) / 85.0) ** 2))
    red = 0.25 * np.exp(-(((wl - 690.0) / 25.0) ** 2)) + 0.08 * np.exp(-(((wl - 810.0) / 20.0) ** 2))
    blue = 0.45 + 0.1 * np.exp(-(((wl - 360.0) / 40.0) ** 2))
    shape = np.where(wl < centre, np.maximum(green, blue * (wl < 450) + green * (wl >= 450)), green)
    nir = np.exp(-np.clip(wl - 720.0, 0, None) / 60.0)
    rho = peak * (shape * np.where(wl > 700, nir, 1.0) + red * 0.6)
    return rho * (1 + rng.normal(0, 0.004, wl.size))
