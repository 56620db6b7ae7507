"""The lake on s3:// and sources on s3:// against a real HTTP S3 endpoint (moto server on 127.0.0.1)."""

from __future__ import annotations

from tasks.ingest import ingest_insitu
from tasks.query import run_query


def test_ingest_from_s3_prefix_into_s3_lake(realdata, s3_settings):
    settings, fs, bucket = s3_settings
    for name in ("SR6903247_001.nc", "SR6903247_002.nc", "6903247_meta.nc"):
        fs.put(str(realdata / "argo" / name), f"{bucket}/incoming/argo/{name}")
    fs.pipe(f"{bucket}/incoming/argo/README.txt", b"not a profile")  # ignored by the file patterns

    summary = ingest_insitu("argo", [f"s3://{bucket}/incoming/argo/"], settings)
    assert (summary.files_found, summary.files_ingested, summary.files_quarantined) == (3, 3, 0)
    parquet = fs.glob(f"{bucket}/oceanlake/tables/**/*.parquet")
    assert parquet, "table data files must be written to the S3 lake"

    rows = run_query(settings, "SELECT cycle_number, chla_surface_rule FROM argo_profiles ORDER BY 1").to_pylist()
    assert [r["cycle_number"] for r in rows] == [1, 2]
    floats = run_query(settings, "SELECT platform_number FROM argo_floats").column("platform_number").to_pylist()
    assert floats == ["6903247"]

    again = ingest_insitu("argo", [f"s3://{bucket}/incoming/argo/"], settings)
    assert again.files_skipped == 3 and again.files_ingested == 0


def test_credentials_are_not_in_settings_repr(s3_settings):
    settings, _, _ = s3_settings
    assert "testing-secret" not in repr(settings)
