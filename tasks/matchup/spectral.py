"""Spectral matching of hyperspectral in situ reflectance to a sensor's bands.

``nearest``: the in situ wavelength closest to the band centre; the band mismatch is their
distance (nm). ``srf``: the in situ spectrum weighted by a Gaussian spectral response of the
band's FWHM (the band's equivalent reflectance); the mismatch is 0 when the in situ spectrum
covers the band centre +- FWHM, else the uncovered distance.
"""

from __future__ import annotations

import numpy as np

FWHM_TO_SIGMA = 1.0 / (2.0 * np.sqrt(2.0 * np.log(2.0)))


def match_bands(insitu_wavelength: np.ndarray, insitu_values: np.ndarray, band_centres: np.ndarray,
                method: str = "nearest", fwhm_nm: float | np.ndarray = 10.0,
                ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """In situ values at the sensor bands.

    Args:
        insitu_wavelength: ``(m,)`` in situ wavelengths (nm), ascending.
        insitu_values: ``(n, m)`` spectra (NaN = missing).
        band_centres: ``(k,)`` sensor band centres (nm).
        method: ``nearest`` or ``srf``.
        fwhm_nm: band full width at half maximum (nm), scalar or ``(k,)`` (``srf`` only).

    Returns:
        ``(values, matched_wavelength, mismatch_nm)``, each ``(n, k)``; ``nearest`` only considers
        finite in situ values (mismatch ``inf`` when a spectrum has none); ``srf`` gives NaN
        matched wavelengths.
    """
    wl = np.asarray(insitu_wavelength, dtype=float)
    spectra = np.atleast_2d(np.asarray(insitu_values, dtype=float))
    centres = np.asarray(band_centres, dtype=float)
    if method == "nearest":
        distance = np.where(np.isfinite(spectra)[:, None, :], np.abs(wl[None, :] - centres[:, None])[None], np.inf)
        index = distance.argmin(axis=2)
        mismatch = np.take_along_axis(distance, index[..., None], axis=2)[..., 0]
        values = np.where(np.isfinite(mismatch), np.take_along_axis(spectra, index, axis=1), np.nan)
        return values, np.where(np.isfinite(mismatch), wl[index], np.nan), mismatch
    if method != "srf":
        raise ValueError(f"unknown spectral matching method {method!r}: use nearest or srf")
    fwhm = np.broadcast_to(np.asarray(fwhm_nm, dtype=float), centres.shape)
    weights = np.exp(-0.5 * ((wl[None, :] - centres[:, None]) / (fwhm[:, None] * FWHM_TO_SIGMA)) ** 2)
    finite = np.isfinite(spectra)
    numerator = np.where(finite, spectra, 0.0) @ weights.T
    denominator = finite.astype(float) @ weights.T
    with np.errstate(invalid="ignore", divide="ignore"):
        values = numerator / denominator
    uncovered = np.maximum(wl.min() - (centres - fwhm), 0.0) + np.maximum((centres + fwhm) - wl.max(), 0.0)
    n = spectra.shape[0]
    return values, np.full((n, len(centres)), np.nan), np.broadcast_to(uncovered, (n, len(centres))).copy()
