"""In situ ingestion end to end on generated files: bad input quarantined, rest ingested, idempotent, atomic."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from tasks.errors import UnknownSourceKind
from tasks.ingest import ingest_insitu
from tasks.lake import Lake
from tasks.query import run_query
from tasks.synthetic import write_argo_profile, write_bad_files, write_sample_dataset


def _q(settings, sql, **params):
    return run_query(settings, sql, params).to_pylist()


@pytest.fixture(scope="module")
def sample(tmp_path_factory):
    out = tmp_path_factory.mktemp("sample")
    written = write_sample_dataset(out, n_floats=2, n_profiles=6, n_sites=2, n_sequences=3)
    bad = write_bad_files(out / "bad")
    return out, written, bad


EXPECTED_ARGO_REASONS = {  # bad case -> (quarantined object suffix, words the reason must contain)
    "truncated_netcdf": ("6990901_Sprof.nc", "6990901_Sprof.nc"),
    "text_as_nc": ("R6990902_001.nc", "R6990902_001.nc"),
    "sprof_missing_latitude": ("6990903_Sprof.nc", "LATITUDE"),
    "sprof_all_fill_profile": ("6990904_Sprof.nc#", "fill"),
    "sprof_bad_juld": ("6990905_Sprof.nc#", "JULD"),
    "sprof_bad_latitude": ("6990906_Sprof.nc#", "latitude"),
}


def test_argo_bad_files_are_quarantined_and_the_rest_ingested(sample, settings):
    out, written, bad = sample
    sources = [str(out / "argo")] + [str(bad[k]) for k in EXPECTED_ARGO_REASONS]
    summary = ingest_insitu("argo", sources, settings)
    assert summary.files_quarantined == 3  # truncated, text, missing LATITUDE
    assert summary.objects_quarantined >= 3  # one profile in each of the 3 partly bad files
    quarantine = _q(settings, "SELECT object, stage, reason FROM quarantine")
    for case, (suffix, word) in EXPECTED_ARGO_REASONS.items():
        hits = [q for q in quarantine if suffix in q["object"]]
        assert hits, f"{case}: no quarantine row for {suffix}"
        assert any(word.lower() in q["reason"].lower() for q in hits), (case, hits)
        assert all(str(bad[case].name) in q["reason"] or str(bad[case]) in q["object"] for q in hits)
    # the good profiles of the partly bad files are in, the bad one is not
    for wmo in ("6990904", "6990905", "6990906"):
        n = _q(settings, "SELECT count(*) AS n FROM argo_profiles WHERE platform_number = $w", w=wmo)[0]["n"]
        assert n == 2, wmo
    n_floats = _q(settings, "SELECT count(DISTINCT platform_number) AS n FROM argo_profiles "
                            "WHERE platform_number NOT LIKE '69909%'")[0]["n"]
    assert n_floats == 2


def test_rerun_is_idempotent(sample, settings):
    out, _, bad = sample
    sources = [str(out / "argo"), str(bad["text_as_nc"])]
    first = ingest_insitu("argo", sources, settings)
    counts = {t: _q(settings, f"SELECT count(*) AS n FROM {t}")[0]["n"]
              for t in ("argo_profiles", "argo_measurements", "ingested_files", "quarantine")}
    second = ingest_insitu("argo", sources, settings)
    assert second.files_ingested == 0 and second.files_skipped == first.files_ingested
    assert {t: _q(settings, f"SELECT count(*) AS n FROM {t}")[0]["n"] for t in counts} == counts


def test_hypernets_ingest_with_land_and_broken_files(sample, settings):
    out, written, bad = sample
    sources = [str(out / "hypernets"), str(bad["hypernets_land"]), str(bad["hypernets_truncated"]),
               str(bad["hypernets_no_reflectance"])]
    summary = ingest_insitu("hypernets", sources, settings)
    assert summary.files_ingested == len(written["hypernets"])
    assert summary.files_quarantined == 3
    reasons = " ".join(q["reason"] for q in _q(settings, "SELECT reason FROM quarantine"))
    assert "land network" in reasons.lower() and "reflectance" in reasons
    seq = _q(settings, "SELECT count(*) AS n, count(DISTINCT site) AS sites FROM hypernets_sequences")[0]
    assert seq["sites"] == 2 and seq["n"] == len(written["hypernets"])
    check = _q(settings, "SELECT max(abs(rrs - rho_w / pi())) AS err FROM hypernets_reflectance")[0]
    assert check["err"] < 1e-12


def test_delayed_mode_file_replaces_real_time_rows(tmp_path, settings):
    t = datetime(2024, 6, 1, 9, tzinfo=UTC)
    rt = write_argo_profile(tmp_path / "rt", "6990990", 5, t, 40.0, 5.0, kind="bgc-s",
                            modes={"TEMP": "R", "PSAL": "R", "CHLA": "R"})
    dm = write_argo_profile(tmp_path / "dm", "6990990", 5, t, 40.0, 5.0, kind="bgc-s",
                            modes={"TEMP": "D", "PSAL": "D", "CHLA": "D"})
    ingest_insitu("argo", [str(rt)], settings)
    ingest_insitu("argo", [str(dm)], settings)
    rows = _q(settings, "SELECT source_file, parameter_data_modes['TEMP'] AS temp_mode FROM argo_profiles")
    assert rows == [{"source_file": str(dm), "temp_mode": "D"}]
    modes = _q(settings, "SELECT DISTINCT data_mode FROM argo_measurements WHERE parameter = 'TEMP'")
    assert modes == [{"data_mode": "D"}]


def test_crash_during_commit_leaves_nothing_and_next_run_completes(sample, settings, monkeypatch):
    out, _, _ = sample
    real_upsert = Lake.upsert

    def crashing_upsert(self, con, tables):
        real_upsert(self, con, {k: v for k, v in tables.items() if k == "argo_profiles"})
        raise KeyboardInterrupt("process killed during the commit")

    monkeypatch.setattr(Lake, "upsert", crashing_upsert)
    with pytest.raises(KeyboardInterrupt):
        ingest_insitu("argo", [str(out / "argo")], settings)
    monkeypatch.setattr(Lake, "upsert", real_upsert)
    assert _q(settings, "SELECT count(*) AS n FROM argo_profiles")[0]["n"] == 0
    assert _q(settings, "SELECT count(*) AS n FROM ingested_files")[0]["n"] == 0
    summary = ingest_insitu("argo", [str(out / "argo")], settings)
    assert summary.files_ingested > 0
    assert _q(settings, "SELECT count(*) AS n FROM argo_profiles")[0]["n"] > 0


def test_unknown_kind_lists_valid_kinds(settings):
    with pytest.raises(UnknownSourceKind, match="argo, hypernets"):
        ingest_insitu("ctd", ["x"], settings)
