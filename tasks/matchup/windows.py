"""Pixel windows around in situ points: the common result of grid and swath extraction."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

#: Mean Earth radius (m) used for every great-circle distance in the match-up engine.
EARTH_RADIUS_M = 6_371_008.8


@dataclass
class Windows:
    """Windows of ``(2t+1, 2y+1, 2x+1)`` pixels around ``n`` points.

    Attributes:
        values: variable name -> float64 array ``(n, wt, wy, wx)``, or ``(n, wt, wy, wx, n_wavelength)``
            for spectral variables; NaN where the pixel is missing, invalid in the source or outside
            the grid/swath (padding). Swath windows have ``wt == 1``. A ``flags`` entry, when
            requested, holds the raw integer flags as int64 (0 in padded cells).
        wavelengths: spectral variable name -> wavelengths (nm) of its last axis.
        inside: bool ``(n, wt, wy, wx)``: the pixel exists (False = padding beyond an edge).
        found: bool ``(n,)``: the point has a centre pixel (inside the grid or swath, within the
            distance/time limits); windows of points not found are all padding.
        center_lat: latitude of the centre pixel (degree_north), NaN when not found.
        center_lon: longitude of the centre pixel (degree_east, [-180, 180)), NaN when not found.
        center_time: time of the centre slice (datetime64[ns]; NaT for swaths and points not found).
        distance_m: great-circle distance point -> centre pixel (m), NaN when not found.
        center_index: int64 ``(n, 3)`` index (t, y, x) of the centre pixel in the source arrays
            (-1 when not found).
    """

    values: dict[str, np.ndarray]
    wavelengths: dict[str, np.ndarray] = field(default_factory=dict)
    inside: np.ndarray | None = None
    found: np.ndarray | None = None
    center_lat: np.ndarray | None = None
    center_lon: np.ndarray | None = None
    center_time: np.ndarray | None = None
    distance_m: np.ndarray | None = None
    center_index: np.ndarray | None = None

    @property
    def partial(self) -> np.ndarray:
        """Found points whose window crosses an edge and is padded with NaN, bool ``(n,)``."""
        n = len(self.found)
        return self.found & ~self.inside.reshape(n, -1 if n else 0).all(axis=1)


def haversine_m(lat1: np.ndarray, lon1: np.ndarray, lat2: np.ndarray, lon2: np.ndarray) -> np.ndarray:
    """Great-circle distance (m) between points given in degrees (broadcasting)."""
    p1, p2 = np.radians(lat1), np.radians(lat2)
    dlat, dlon = p2 - p1, np.radians(np.asarray(lon2) - np.asarray(lon1))
    a = np.sin(dlat / 2) ** 2 + np.cos(p1) * np.cos(p2) * np.sin(dlon / 2) ** 2
    return 2 * EARTH_RADIUS_M * np.arcsin(np.sqrt(np.clip(a, 0.0, 1.0)))
