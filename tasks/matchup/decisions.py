"""Match-up rows: window statistics, in situ values and the protocol decision, one row per band.

Criteria (each failing one is listed in ``failed_criteria``):

``time_difference``  |dt| > max_time_difference
``valid_pixels``     n_valid / denominator < min_fraction or n_valid < min_count (denominator:
                     pixels of the window, or its non-land pixels)
``homogeneity``      the protocol's CV statistic (e.g. median CV over Rrs 405-570 nm) > max_cv, or
                     not computable
``solar_zenith``     centre-pixel solar zenith angle > max (not evaluated without angles)
``viewing_zenith``   centre-pixel viewing zenith angle > max
``band_mismatch``    in situ wavelength farther than the tolerance from the band centre
``insitu_missing``   no in situ value for the variable/band
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np

from lake_schema.protocols_def import ProtocolDef
from tasks.matchup.statistics import WindowStats


@dataclass
class PairContext:
    """Per candidate pair (observation x granule) values shared by all its bands (arrays ``(p,)``)."""

    dt_seconds: np.ndarray
    solar_zenith: np.ndarray | None
    viewing_zenith: np.ndarray | None
    homogeneity_cv: np.ndarray | None


def homogeneity(protocol: ProtocolDef, stats: WindowStats, wavelengths: np.ndarray | None) -> np.ndarray | None:
    """The protocol's homogeneity statistic per pair from one variable's statistics, or None if not applied.

    Spectral variables use the bands inside ``cv_bands_nm``; scalar ones their own CV.
    """
    if protocol.cv_statistic is None or protocol.max_cv is None:
        return None
    cv = stats.cv
    if wavelengths is not None and protocol.cv_bands_nm is not None:
        low, high = protocol.cv_bands_nm
        tolerance = protocol.spectral_tolerance_nm
        in_range = (wavelengths >= low - 1e-6) & (wavelengths <= high + 1e-6)
        if not in_range.any():  # e.g. 560 nm asked, the sensor's band is at 559.7 nm: within the tolerance
            distance = np.abs(wavelengths - (low + high) / 2)
            in_range = (distance == distance.min()) & (distance <= (high - low) / 2 + tolerance)
        if not in_range.any():
            raise ValueError(f"protocol {protocol.id}: no band of the product within the homogeneity range "
                             f"{low:g}-{high:g} nm (+- {tolerance:g} nm); bands are {wavelengths.tolist()}")
        cv = cv[:, in_range]
    reduce = np.nanmedian if protocol.cv_statistic == "median" else np.nanmax
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN pairs: NaN, which fails the test
        return reduce(cv, axis=1)


def failed_criteria(protocol: ProtocolDef, stats: WindowStats, context: PairContext,
                    insitu_value: np.ndarray, band_mismatch: np.ndarray | None) -> list[list[str]]:
    """Failed criteria per row (rows = pairs x bands, band fastest).

    Args:
        protocol: the protocol.
        stats: window statistics ``(p, k)``.
        context: per-pair values ``(p,)``.
        insitu_value: ``(p, k)`` in situ values.
        band_mismatch: ``(p, k)`` band mismatch (nm), None for scalar variables.

    Returns:
        One list of criterion names per row, in row order.
    """
    p, k = stats.n_valid.shape
    checks: dict[str, np.ndarray] = {}
    per_pair = lambda mask: np.repeat(np.asarray(mask)[:, None], k, axis=1)  # noqa: E731
    checks["time_difference"] = per_pair(np.abs(context.dt_seconds) > protocol.max_time_difference_s)
    denominator = stats.n_total - (stats.n_land if protocol.valid_denominator == "non_land" else 0)
    bad_pixels = np.zeros((p, k), dtype=bool)
    if protocol.min_valid_fraction is not None:
        with np.errstate(invalid="ignore", divide="ignore"):
            fraction = np.where(denominator > 0, stats.n_valid / np.maximum(denominator, 1), 0.0)
        bad_pixels |= fraction < protocol.min_valid_fraction - 1e-12
    if protocol.min_valid_count is not None:
        bad_pixels |= stats.n_valid < protocol.min_valid_count
    checks["valid_pixels"] = bad_pixels | (stats.n_valid == 0)
    if context.homogeneity_cv is not None:
        checks["homogeneity"] = per_pair(~(context.homogeneity_cv <= protocol.max_cv))
    if protocol.max_solar_zenith is not None and context.solar_zenith is not None:
        checks["solar_zenith"] = per_pair(context.solar_zenith > protocol.max_solar_zenith)
    if protocol.max_viewing_zenith is not None and context.viewing_zenith is not None:
        checks["viewing_zenith"] = per_pair(context.viewing_zenith > protocol.max_viewing_zenith)
    if band_mismatch is not None and protocol.spectral_method is not None:
        tolerance = protocol.spectral_tolerance_nm if protocol.spectral_method == "nearest" else 0.0
        checks["band_mismatch"] = ~(band_mismatch <= tolerance + 1e-9)
    checks["insitu_missing"] = ~np.isfinite(insitu_value)
    names = list(checks)
    stacked = np.stack([checks[n].reshape(-1) for n in names], axis=1)
    return [[names[j] for j in np.flatnonzero(row)] if row.any() else [] for row in stacked]


def not_evaluated(protocol: ProtocolDef, context: PairContext) -> list[str]:
    """Criteria of the protocol that could not be evaluated (the product lacks the inputs)."""
    missing = []
    if protocol.max_solar_zenith is not None and context.solar_zenith is None:
        missing.append("solar_zenith")
    if protocol.max_viewing_zenith is not None and context.viewing_zenith is None:
        missing.append("viewing_zenith")
    return missing
