"""Unit tests of tasks.chla_surface.surface_chla (synthetic profiles, one scenario per rule)."""

from __future__ import annotations

import numpy as np
import pytest

from tasks.chla_surface import SurfaceChla, first_optical_depth, surface_chla

PRES = np.arange(0.5, 60.0, 1.0)  # levels off the layer boundaries
KD = 0.1  # m-1 -> z_pd = 10 m


def _ed(kd=KD, surface=1.2):
    return surface * np.exp(-kd * PRES)


def _chla():
    return np.where(PRES <= 10, 0.3, 1.0) + 0.01 * PRES  # deeper layer is richer


def test_first_optical_depth_rule():
    """Daylight Ed490 with Kd 0.1 m-1 -> z_pd 10 dbar, median of CHLA in 0..10 dbar."""
    qc = np.full(PRES.size, "1", dtype=object)
    result = surface_chla(PRES, _chla(), qc, _ed(), qc)
    assert result.rule == "first_optical_depth"
    assert result.first_optical_depth == pytest.approx(10.0, rel=1e-6)
    assert result.n == 10 and result.value == pytest.approx(np.median(_chla()[PRES <= 10]))


def test_deep_first_optical_depth_takes_more_levels():
    """Kd 0.04 -> z_pd 25 dbar: the median covers 25 levels, differently from the top-10 rule."""
    qc = np.full(PRES.size, "1", dtype=object)
    result = surface_chla(PRES, _chla(), qc, _ed(kd=0.04), qc)
    assert result.first_optical_depth == pytest.approx(25.0, rel=1e-6)
    assert result.n == 25 and result.value == pytest.approx(np.median(_chla()[PRES <= 25]))


def test_top_10dbar_without_ed490():
    """No radiometer: median of good CHLA over pres <= 10 dbar."""
    result = surface_chla(PRES, _chla(), np.full(PRES.size, "2", dtype=object))
    assert result == SurfaceChla(pytest.approx(np.median(_chla()[PRES <= 10])), "top_10dbar", 10, None)


def test_night_profile_falls_back():
    """Night: Ed490 ~1e-5 W m-2 nm-1 -> no z_pd, top 10 dbar rule."""
    qc = np.full(PRES.size, "1", dtype=object)
    result = surface_chla(PRES, _chla(), qc, _ed(surface=1e-5), qc)
    assert (result.rule, result.first_optical_depth, result.n) == ("top_10dbar", None, 10)


def test_qc_filtering():
    """CHLA QC 3/4/fill and bad Ed490 QC are ignored; good QC is 1, 2, 5, 8."""
    chla = _chla()
    qc = np.full(PRES.size, "4", dtype=object)
    qc[[0, 3]] = "5"
    qc[5] = "8"
    qc[6] = None
    bad_ed_qc = np.full(PRES.size, "4", dtype=object)
    result = surface_chla(PRES, chla, qc, _ed(), bad_ed_qc)
    assert result.rule == "top_10dbar" and result.first_optical_depth is None
    assert result.n == 3 and result.value == pytest.approx(np.median(chla[[0, 3, 5]]))


def test_z_pd_layer_without_chla_falls_back_to_top_10dbar():
    """Good Ed490 but CHLA only good deeper than z_pd (5 dbar) and above 10 dbar -> top_10dbar."""
    qc = np.full(PRES.size, "1", dtype=object)
    chla_qc = np.where((PRES > 5) & (PRES <= 10), "1", "4").astype(object)
    result = surface_chla(PRES, _chla(), chla_qc, _ed(kd=0.2), qc)
    assert result.rule == "top_10dbar" and result.first_optical_depth == pytest.approx(5.0, rel=1e-6)
    assert result.n == 5


def test_no_good_value_and_no_chla():
    """CHLA all bad -> rule 'none'; no CHLA parameter -> rule None."""
    bad = surface_chla(PRES, _chla(), np.full(PRES.size, "4", dtype=object))
    assert bad == SurfaceChla(None, "none", 0, None)
    assert surface_chla(PRES, None, None) == SurfaceChla(None, None, 0, None)


def test_fit_rejections():
    """Too few points, Kd below pure water, or a noisy fit give no z_pd."""
    qc = np.full(PRES.size, "1", dtype=object)
    assert first_optical_depth(PRES[:3], _ed()[:3], qc[:3]) is None  # only 1..2 dbar in the fit layer
    assert first_optical_depth(PRES, _ed(kd=0.005), qc) is None
    noisy = _ed(kd=0.02) * np.random.default_rng(1).lognormal(0, 0.5, PRES.size)
    assert first_optical_depth(PRES, noisy, qc) is None
    with_nan = _ed().copy()
    with_nan[2] = np.nan
    assert first_optical_depth(PRES, with_nan, qc) == pytest.approx(10.0, rel=1e-6)
