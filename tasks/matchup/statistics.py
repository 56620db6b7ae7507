"""Window statistics of satellite pixels around match-up points (vectorised over points and bands).

For every point and band: ``n_total`` pixels that exist in the window (padding beyond an edge
excluded), ``n_land`` of them flagged land, ``n_valid`` finite and not flagged invalid; over the
valid pixels ``mean``, ``median`` and ``std`` (sample, ddof=1); the outlier filter keeps valid
pixels within ``mean +- n_sigma * std`` (Bailey & Werdell 2006) and gives ``filtered_mean``,
``filtered_std`` and ``cv = filtered_std / filtered_mean``; ``center`` is the centre pixel value
(NaN when invalid).
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np


@dataclass
class WindowStats:
    """Arrays of shape ``(n_points, n_bands)`` (``n_bands`` = 1 for scalar variables)."""

    n_total: np.ndarray
    n_land: np.ndarray
    n_valid: np.ndarray
    n_filtered: np.ndarray
    mean: np.ndarray
    median: np.ndarray
    std: np.ndarray
    filtered_mean: np.ndarray
    filtered_std: np.ndarray
    cv: np.ndarray
    center: np.ndarray


def flag_bits(flags_attrs: dict, names: tuple[str, ...] | list[str]) -> tuple[int, list[str]]:
    """OR of the ``flag_masks`` of ``names`` in CF flag attributes, and the names not present.

    Args:
        flags_attrs: attributes of the flag variable (``flag_masks``, ``flag_meanings``).
        names: flag names.

    Returns:
        ``(bits, missing_names)``.
    """
    masks, meanings = flags_attrs.get("flag_masks"), flags_attrs.get("flag_meanings")
    if masks is None or meanings is None or not names:
        return 0, list(names)
    if isinstance(masks, str):
        masks = [int(m) for m in masks.replace(",", " ").split()]
    lookup = dict(zip(str(meanings).split(), np.atleast_1d(masks).astype(np.int64).tolist(), strict=True))
    bits = 0
    for name in names:
        bits |= lookup.get(name, 0)
    return bits, [n for n in names if n not in lookup]


def window_statistics(values: np.ndarray, inside: np.ndarray, flags: np.ndarray | None, invalid_bits: int,
                      land_bits: int, n_sigma: float) -> WindowStats:
    """Statistics of each point's window.

    Args:
        values: ``(n, wt, wy, wx)`` or ``(n, wt, wy, wx, n_bands)`` pixel values (NaN = missing).
        inside: bool ``(n, wt, wy, wx)``: pixel exists.
        flags: int ``(n, wt, wy, wx)`` raw flags, or None.
        invalid_bits: flag bits that make a pixel invalid.
        land_bits: flag bits of land pixels.
        n_sigma: outlier filter half-width in standard deviations.

    Returns:
        The statistics, each ``(n, n_bands)``.
    """
    n = values.shape[0]
    pixels = int(np.prod(values.shape[1:4]))
    data = values.reshape(n, pixels, -1).astype(np.float64, copy=False)
    exists = inside.reshape(n, pixels)
    bad = np.zeros((n, pixels), dtype=bool) if flags is None else (flags.reshape(n, pixels) & invalid_bits) != 0
    land = np.zeros((n, pixels), dtype=bool) if flags is None else (flags.reshape(n, pixels) & land_bits) != 0
    valid = np.isfinite(data) & (exists & ~bad)[:, :, None]
    masked = np.where(valid, data, np.nan)
    center_index = pixels // 2
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN windows give NaN, by design
        mean = np.nanmean(masked, axis=1)
        median = np.nanmedian(masked, axis=1)
        n_valid = valid.sum(axis=1)
        std = np.where(n_valid > 1, np.nanstd(masked, axis=1, ddof=1), np.where(n_valid == 1, 0.0, np.nan))
        tolerance = n_sigma * std + 1e-12 * np.abs(mean)  # rounding must not drop the pixels at the limit
        keep = valid & (np.abs(masked - mean[:, None, :]) <= tolerance[:, None, :])
        filtered = np.where(keep, masked, np.nan)
        n_filtered = keep.sum(axis=1)
        filtered_mean = np.nanmean(filtered, axis=1)
        filtered_std = np.where(n_filtered > 1, np.nanstd(filtered, axis=1, ddof=1),
                                np.where(n_filtered == 1, 0.0, np.nan))
        cv = filtered_std / np.abs(filtered_mean)
    n_bands = data.shape[2]
    return WindowStats(
        n_total=np.repeat(exists.sum(axis=1)[:, None], n_bands, axis=1),
        n_land=np.repeat((land & exists).sum(axis=1)[:, None], n_bands, axis=1),
        n_valid=n_valid, n_filtered=n_filtered, mean=mean, median=median, std=std,
        filtered_mean=filtered_mean, filtered_std=filtered_std, cv=cv, center=masked[:, center_index, :])
