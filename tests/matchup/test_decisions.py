"""Window statistics and protocol decisions, criterion by criterion, against hand computations."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

import lake_schema
from lake_schema.protocols_def import parse_duration, parse_protocol
from tasks.matchup.decisions import PairContext, failed_criteria, homogeneity
from tasks.matchup.spectral import match_bands
from tasks.matchup.statistics import flag_bits, window_statistics

BW = lake_schema.protocol("bailey-werdell-2006")
FLAG_ATTRS = {"flag_masks": np.array([1, 2, 4], dtype=np.int32), "flag_meanings": "LAND CLDICE HIGLINT"}


def window(values, flags=None, inside=None):
    """One point, one band: (1, 1, 5, 5) from a 5x5 list."""
    v = np.asarray(values, dtype=float).reshape(1, 1, 5, 5)
    f = None if flags is None else np.asarray(flags, dtype=np.int64).reshape(1, 1, 5, 5)
    ins = np.ones((1, 1, 5, 5), bool) if inside is None else np.asarray(inside, bool).reshape(1, 1, 5, 5)
    return v, f, ins


def test_statistics_match_hand_computation():
    rng = np.random.default_rng(1)
    values = rng.lognormal(0, 0.1, 25)
    values[3] = 50.0  # outlier removed by the 1.5 sigma filter
    values[7] = np.nan  # missing
    flags = np.zeros(25, dtype=int)
    flags[10] = 2  # cloud: invalid
    flags[11] = 1  # land: invalid (LAND is in the invalid list) and counted as land
    v, f, ins = window(values, flags)
    invalid, missing = flag_bits(FLAG_ATTRS, list(BW.invalid_flags))
    land, _ = flag_bits(FLAG_ATTRS, ["LAND"])
    assert invalid == 7 and "ATMFAIL" in missing
    stats = window_statistics(v, ins, f, invalid, land, n_sigma=1.5)
    valid = np.ones(25, bool)
    valid[[7, 10, 11]] = False
    x = values[valid]
    mean, std = x.mean(), x.std(ddof=1)
    kept = x[np.abs(x - mean) <= 1.5 * std]
    assert stats.n_total[0, 0] == 25 and stats.n_land[0, 0] == 1 and stats.n_valid[0, 0] == 22
    assert stats.mean[0, 0] == pytest.approx(mean)
    assert stats.median[0, 0] == pytest.approx(np.median(x))
    assert stats.std[0, 0] == pytest.approx(std)
    assert stats.n_filtered[0, 0] == len(kept) == 21
    assert stats.filtered_mean[0, 0] == pytest.approx(kept.mean())
    assert stats.cv[0, 0] == pytest.approx(kept.std(ddof=1) / kept.mean())
    assert stats.center[0, 0] == pytest.approx(values[12])


def test_statistics_edge_cases_padding_and_empty_windows():
    inside = np.ones(25, bool)
    inside[:5] = False  # first row beyond the grid edge
    values = np.where(inside, 1.0, np.nan)
    v, f, ins = window(values, inside=inside)
    stats = window_statistics(v, ins, None, 0, 0, 1.5)
    assert stats.n_total[0, 0] == 20 and stats.n_valid[0, 0] == 20 and stats.cv[0, 0] == 0.0
    v, f, ins = window(np.full(25, np.nan))
    stats = window_statistics(v, ins, None, 0, 0, 1.5)
    assert stats.n_valid[0, 0] == 0 and np.isnan(stats.mean[0, 0]) and np.isnan(stats.cv[0, 0])
    v, f, ins = window(np.r_[np.full(24, np.nan), 2.0])
    stats = window_statistics(v, ins, None, 0, 0, 1.5)
    assert stats.n_valid[0, 0] == 1 and stats.std[0, 0] == 0 and stats.filtered_mean[0, 0] == 2.0


def _stats(n_valid=25, n_land=0, cv=0.05):
    v, f, ins = window(np.ones(25))
    stats = window_statistics(v, ins, None, 0, 0, 1.5)
    stats.n_valid[:] = n_valid
    stats.n_land[:] = n_land
    stats.cv[:] = cv
    return stats


def _context(dt=0.0, sza=30.0, vza=20.0, cv=0.05):
    return PairContext(np.array([dt]), np.array([sza]), np.array([vza]), np.array([cv]))


@pytest.mark.parametrize(("case", "stats_kw", "context_kw", "insitu", "mismatch", "expected"), [
    ("all good", {}, {}, 1.0, 0.0, []),
    ("time", {}, {"dt": 3 * 3600 + 1}, 1.0, 0.0, ["time_difference"]),
    ("time at the limit passes", {}, {"dt": -3 * 3600}, 1.0, 0.0, []),
    ("valid pixels", {"n_valid": 12}, {}, 1.0, 0.0, ["valid_pixels"]),
    ("land leaves the denominator", {"n_valid": 12, "n_land": 1}, {}, 1.0, 0.0, []),
    ("homogeneity", {}, {"cv": 0.16}, 1.0, 0.0, ["homogeneity"]),
    ("homogeneity not computable", {}, {"cv": np.nan}, 1.0, 0.0, ["homogeneity"]),
    ("solar zenith", {}, {"sza": 70.5}, 1.0, 0.0, ["solar_zenith"]),
    ("viewing zenith", {}, {"vza": 61.0}, 1.0, 0.0, ["viewing_zenith"]),
    ("band mismatch", {}, {}, 1.0, 5.5, ["band_mismatch"]),
    ("in situ missing", {}, {}, np.nan, 0.0, ["insitu_missing"]),
])
def test_bailey_werdell_each_criterion_alone(case, stats_kw, context_kw, insitu, mismatch, expected):
    failed = failed_criteria(BW, _stats(**stats_kw), _context(**context_kw), np.array([[insitu]]),
                             np.array([[mismatch]]))
    assert failed == [expected], case


def test_eumetsat_needs_all_nine_pixels_and_cv_at_560():
    protocol = lake_schema.protocol("eumetsat-olci")
    v, f, ins = window(np.ones(25))
    stats = window_statistics(v[:, :, 1:4, 1:4], ins[:, :, 1:4, 1:4], None, 0, 0, 1.5)
    ok = failed_criteria(protocol, stats, _context(cv=0.1), np.array([[1.0]]), None)
    stats.n_valid[:] = 8
    assert ok == [[]]
    assert failed_criteria(protocol, stats, _context(cv=0.1), np.array([[1.0]]), None) == [["valid_pixels"]]
    # CV statistic: the 560 nm band only
    spectral = window_statistics(np.ones((1, 1, 3, 3, 3)), np.ones((1, 1, 3, 3), bool), None, 0, 0, 1.5)
    spectral.cv[:] = [[0.5, 0.1, 0.9]]
    assert homogeneity(protocol, spectral, np.array([490.0, 560.0, 665.0]))[0] == pytest.approx(0.1)
    # Bailey-Werdell: median over the 405-570 nm bands
    spectral.cv[:] = [[0.1, 0.3, 0.9]]
    assert homogeneity(BW, spectral, np.array([412.0, 443.0, 670.0]))[0] == pytest.approx(0.2)


def test_nearest_and_srf_band_matching():
    wl = np.arange(400.0, 701.0, 2.5)
    spectrum = (wl / 1000.0)[None, :]
    spectrum[0, wl == 442.5] = np.nan  # the nearest finite wavelength is used instead
    values, matched, mismatch = match_bands(wl, spectrum, np.array([442.5, 560.0, 720.0]), "nearest")
    assert matched[0].tolist() == [440.0, 560.0, 700.0]
    assert mismatch[0].tolist() == pytest.approx([2.5, 0.0, 20.0])
    assert values[0, 1] == pytest.approx(0.56)
    values, matched, mismatch = match_bands(wl, spectrum, np.array([560.0, 695.0]), "srf", fwhm_nm=10.0)
    assert values[0, 0] == pytest.approx(0.56, rel=1e-6)  # linear spectrum: SRF mean = centre value
    assert mismatch[0, 0] == 0 and mismatch[0, 1] == pytest.approx(5.0) and np.isnan(matched).all()


def test_protocol_definitions_are_checked_and_hashed():
    assert parse_duration("90min") == 5400 and parse_duration("1d") == 86400 and parse_duration(30) == 30
    with pytest.raises(ValueError, match="invalid duration"):
        parse_duration("3 hours")
    spec = {"id": "mine", "window": {"size": 4}, "pairs": {"chlor_a": ["chla"]}}
    with pytest.raises(ValueError, match="positive odd"):
        parse_protocol(spec, "mine.yaml")
    with pytest.raises(ValueError, match="pairs"):
        parse_protocol({"id": "x"}, "x.yaml")
    assert replace(BW, max_cv=0.2).config_hash != BW.config_hash
    assert replace(BW, title="other title").config_hash == BW.config_hash
    with pytest.raises(KeyError, match="bailey-werdell-2006"):
        lake_schema.protocol("no-such-protocol")


def test_user_protocol_folder(tmp_path):
    (tmp_path / "mine.yaml").write_text("id: my-protocol\nwindow: {size: 7}\nmax_time_difference: 1h\n"
                                        "pairs: {chlor_a: [chla]}\n")
    mine = lake_schema.protocol("my-protocol", (str(tmp_path),))
    assert mine.window_size == 7 and mine.half_size == 3 and mine.max_time_difference_s == 3600


def test_homogeneity_band_outside_the_product_is_a_clear_error():
    spectral = window_statistics(np.ones((1, 1, 3, 3, 2)), np.ones((1, 1, 3, 3), bool), None, 0, 0, 1.5)
    protocol = replace(lake_schema.protocol("eumetsat-olci"), cv_bands_nm=(2000.0, 2000.0))
    with pytest.raises(ValueError, match="no band of the product within the homogeneity range 2000-2000 nm"):
        homogeneity(protocol, spectral, np.array([443.0, 560.0]))
    near = replace(lake_schema.protocol("eumetsat-olci"), cv_bands_nm=(561.0, 561.0))
    spectral.cv[:] = [[0.9, 0.1]]
    assert homogeneity(near, spectral, np.array([443.0, 559.7]))[0] == pytest.approx(0.1)
