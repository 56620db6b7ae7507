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


def test_satellite_granules_into_s3_lake(realdata, s3_settings):
    from tasks.cubes import open_cube
    from tasks.ingest_satellite import ingest_satellite

    settings, fs, bucket = s3_settings
    name = "PACE_OCI.20240614.L3m.DAY.CHL.V3_0.chlor_a.0p1deg.nc"
    fs.put(str(realdata / "satellite_pace" / name), f"{bucket}/incoming/pace/{name}")
    summary = ingest_satellite("pace-oci-l3m", [f"s3://{bucket}/incoming/pace/"], settings)
    assert summary.files_ingested == 1
    [row] = run_query(settings, "SELECT cube, valid_fraction FROM granules").to_pylist()
    assert fs.exists(f"{bucket}/oceanlake/cubes/{row['cube']}")
    cube = open_cube(settings, row["cube"])
    import netCDF4
    import numpy as np

    with netCDF4.Dataset(realdata / "satellite_pace" / name) as src:
        expected = src["chlor_a"][800:810, 1000:1010].filled(np.nan)
    np.testing.assert_array_equal(cube.chlor_a.isel(time=0).values[800:810, 1000:1010], expected)
    again = ingest_satellite("pace-oci-l3m", [f"s3://{bucket}/incoming/pace/"], settings)
    assert again.files_skipped == 1
