"""Surface chlorophyll-a of a BGC-Argo profile, for satellite match-ups.

BGC-Argo community practice (Organelli et al., 2017, ESSD 9, 861-880,
doi:10.5194/essd-9-861-2017): a satellite ocean-colour sensor sees the first optical (penetration)
depth z_pd = 1/Kd(490) (Morel & Maritorena, 2001, JGR 106(C4), 7163-7180; Gordon & McCluney,
1975). When the float carries a radiometer and the profile was taken in daylight, Kd(490) is the
slope of a least-squares fit of ln(Ed490) against pressure over the upper layer (1-20 dbar,
Ed490 above 1 % of its surface value, r² >= 0.6), and the surface
CHLA is the median of good CHLA in 0..z_pd. Otherwise the median of good CHLA over the top
10 dbar is used. Good means Argo QC 1, 2, 5 or 8.

Pressure is used as depth (1 dbar ~ 1.02 m in the upper ocean; the <2 % difference is below the
uncertainty of the Kd fit), so ``first_optical_depth`` is in dbar.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

#: Argo QC flags accepted as good for CHLA and Ed490 (good, probably good, changed, interpolated).
GOOD_QC = frozenset({"1", "2", "5", "8"})
#: Deepest pressure (dbar) of the top layer used without radiometry.
TOP_LAYER_DBAR = 10.0
#: Pressure range (dbar) of the ln(Ed490) fit; the first metre is left out because wave focusing
#: and the float's own shading make near-surface Ed490 noisy (it can drop r² from 0.9 to 0.7).
FIT_MIN_DBAR = 1.0
FIT_MAX_DBAR = 20.0
#: Minimum number of good Ed490 points in the fit.
FIT_MIN_POINTS = 3
#: Minimum coefficient of determination of the ln(Ed490) fit.
FIT_MIN_R2 = 0.6
#: Ed490 points below this fraction of the surface value are left out of the fit.
ED_MIN_FRACTION = 0.01
#: Surface Ed490 (W m-2 nm-1) below which the profile is considered a night/twilight profile.
DAYLIGHT_MIN_ED490 = 0.01
#: Pure-water diffuse attenuation at 490 nm (m-1, Morel & Maritorena 2001); smaller Kd is not physical.
KD_WATER_490 = 0.0166


@dataclass(frozen=True)
class SurfaceChla:
    """Result of :func:`surface_chla`.

    Attributes:
        value: median surface CHLA (mg m-3), ``None`` when no good value is in the layer.
        rule: ``"first_optical_depth"``, ``"top_10dbar"``, ``"none"`` (CHLA present but no good
            value in the layer) or ``None`` (no CHLA in the profile).
        n: number of CHLA values in the median.
        first_optical_depth: z_pd = 1/Kd(490) in dbar, ``None`` when Ed490 could not give it.

    """

    value: float | None
    rule: str | None
    n: int
    first_optical_depth: float | None


def _good(qc: np.ndarray | None, size: int) -> np.ndarray:
    if qc is None:
        return np.zeros(size, dtype=bool)
    return np.isin(np.asarray(qc, dtype=object), list(GOOD_QC))


def first_optical_depth(pres: np.ndarray, ed490: np.ndarray, ed490_qc: np.ndarray) -> float | None:
    """First optical depth z_pd = 1/Kd(490) from a log-linear fit of Ed490 (dbar), or ``None``.

    Args:
        pres: pressure of the levels (dbar).
        ed490: downwelling irradiance at 490 nm (W m-2 nm-1), NaN when missing.
        ed490_qc: Argo QC characters of ``ed490``.

    Returns:
        ``None`` at night (surface Ed490 below :data:`DAYLIGHT_MIN_ED490`), with fewer than
        :data:`FIT_MIN_POINTS` good positive values between :data:`FIT_MIN_DBAR` and
        :data:`FIT_MAX_DBAR`, a Kd below pure water, or r² below :data:`FIT_MIN_R2`.

    """
    pres = np.asarray(pres, dtype=float)
    ed = np.asarray(ed490, dtype=float)
    ok = _good(ed490_qc, ed.size) & np.isfinite(ed) & np.isfinite(pres) & (ed > 0)
    ok &= (pres >= FIT_MIN_DBAR) & (pres <= FIT_MAX_DBAR)
    if ok.sum() < FIT_MIN_POINTS:
        return None
    surface = ed[ok][np.argmin(pres[ok])]
    if surface < DAYLIGHT_MIN_ED490:
        return None
    ok &= ed >= ED_MIN_FRACTION * surface
    if ok.sum() < FIT_MIN_POINTS:
        return None
    z, y = pres[ok], np.log(ed[ok])
    slope, intercept = np.polyfit(z, y, 1)
    residual = y - (slope * z + intercept)
    total = np.sum((y - y.mean()) ** 2)
    r2 = 1.0 - np.sum(residual**2) / total if total > 0 else 0.0
    kd = -slope
    if kd < KD_WATER_490 or r2 < FIT_MIN_R2:
        return None
    return float(1.0 / kd)


def _median_in(pres: np.ndarray, chla: np.ndarray, good: np.ndarray, top: float) -> tuple[float | None, int]:
    sel = good & (pres <= top)
    n = int(sel.sum())
    return (float(np.median(chla[sel])) if n else None), n


def surface_chla(
    pres: np.ndarray,
    chla: np.ndarray | None,
    chla_qc: np.ndarray | None,
    ed490: np.ndarray | None = None,
    ed490_qc: np.ndarray | None = None,
) -> SurfaceChla:
    """Surface CHLA of one profile (median of good CHLA over the first optical depth or top 10 dbar).

    Args:
        pres: pressure of the levels (dbar), NaN when missing.
        chla: CHLA (mg m-3) on the same levels, NaN when missing; ``None`` if the profile has no CHLA.
        chla_qc: Argo QC characters of ``chla`` (``None`` entries for fill).
        ed490: DOWN_IRRADIANCE490 (W m-2 nm-1) on the same levels, or ``None``.
        ed490_qc: QC characters of ``ed490``.

    Returns:
        A :class:`SurfaceChla`; see the module docstring for the rules.

    """
    if chla is None:
        return SurfaceChla(None, None, 0, None)
    pres = np.asarray(pres, dtype=float)
    values = np.asarray(chla, dtype=float)
    good = _good(chla_qc, values.size) & np.isfinite(values) & np.isfinite(pres)
    z_pd = None
    if ed490 is not None:
        z_pd = first_optical_depth(pres, ed490, ed490_qc)
    if z_pd is not None:
        value, n = _median_in(pres, values, good, z_pd)
        if n:
            return SurfaceChla(value, "first_optical_depth", n, z_pd)
    value, n = _median_in(pres, values, good, TOP_LAYER_DBAR)
    if n:
        return SurfaceChla(value, "top_10dbar", n, z_pd)
    return SurfaceChla(None, "none", 0, z_pd)
