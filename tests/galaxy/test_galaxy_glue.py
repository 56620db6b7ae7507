"""oceanlake_galaxy.py: staging Galaxy datasets, lake archives that relocate, shared-lake checks."""

from __future__ import annotations

import importlib.util
import json
import sqlite3
import zipfile
from pathlib import Path

import pytest

TOOLS = Path(__file__).resolve().parents[2] / "galaxy" / "tools" / "oceanlake"
_spec = importlib.util.spec_from_file_location("oceanlake_galaxy", TOOLS / "oceanlake_galaxy.py")
glue = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(glue)


@pytest.mark.parametrize(("name", "expected"), [
    ("6903247_Sprof.nc", "6903247_Sprof.nc"),
    ("../../etc/passwd", "passwd"),
    ("my file (1).nc", "my_file__1_.nc"),
    (".hidden", "hidden"),
    ("$(rm -rf ~)", "__rm_-rf___"),
    ("", "dataset"),
])
def test_safe_name(name, expected):
    assert glue.safe_name(name) == expected


def test_stage_links_under_real_names_and_adds_nc(tmp_path):
    src = tmp_path / "dataset_12.dat"
    src.write_bytes(b"CDF\x01")
    staged = glue.stage(tmp_path / "in", [(str(src), "6903247_Sprof.nc", "netcdf"),
                                          (str(src), "6903247_Sprof.nc", "netcdf"),
                                          (str(src), "PACE_OCI.L2", "h5")])
    assert [p.relative_to(tmp_path / "in").as_posix() for p in staged] == [
        "0/6903247_Sprof.nc", "1/6903247_Sprof.nc", "2/PACE_OCI.L2.nc"]
    assert all(p.is_symlink() and p.read_bytes() == b"CDF\x01" for p in staged)


def _zip(path, members):
    with zipfile.ZipFile(path, "w") as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return path


def test_stage_zip_of_a_safe_folder_and_of_loose_files(tmp_path):
    folder = _zip(tmp_path / "a.dat", {"S3A_OL_2_WFR____X.SEN3/xfdumanifest.xml": "m",
                                       "S3A_OL_2_WFR____X.SEN3/Oa01_reflectance.nc": "r"})
    loose = _zip(tmp_path / "b.dat", {"xfdumanifest.xml": "m", "Oa01_reflectance.nc": "r"})
    staged = glue.stage(tmp_path / "in", [(str(folder), "S3A_OL_2_WFR____X.SEN3.zip", "zip"),
                                          (str(loose), "S3B_OL_2_WFR____Y.SEN3.zip", "zip")])
    assert [p.name for p in staged] == ["S3A_OL_2_WFR____X.SEN3", "S3B_OL_2_WFR____Y.SEN3"]
    assert all((p / "xfdumanifest.xml").is_file() for p in staged)


def test_stage_refuses_a_zip_writing_outside(tmp_path):
    bad = _zip(tmp_path / "evil.dat", {"../../outside.txt": "x"})
    with pytest.raises(glue.GalaxyGlueError, match="outside"):
        glue.stage(tmp_path / "in", [(str(bad), "evil.zip", "zip")])
    assert not (tmp_path / "outside.txt").exists()


def _fake_lake(root, data_path):
    (root / "tables" / "main" / "t").mkdir(parents=True)
    (root / "tables" / "main" / "t" / "f.parquet").write_bytes(b"PAR1")
    (root / "cubes" / "c").mkdir(parents=True)
    (root / "cubes" / "c" / "repo").write_bytes(b"ic")
    con = sqlite3.connect(root / "catalog.sqlite")
    con.execute("CREATE TABLE ducklake_metadata (key VARCHAR, value VARCHAR, scope VARCHAR, scope_id BIGINT)")
    con.executemany("INSERT INTO ducklake_metadata VALUES (?, ?, NULL, NULL)",
                    [("version", "1.0"), ("data_path", data_path)])
    con.commit()
    con.close()
    return root


def test_pack_then_unpack_relocates_the_catalog(tmp_path):
    lake = _fake_lake(tmp_path / "job1" / "lake", "/somewhere/else/tables/")
    archive = tmp_path / "lake.zip"
    assert glue.pack(lake, archive) == 3
    names = set(zipfile.ZipFile(archive).namelist())
    assert {"oceanlake-lake.json", "catalog.sqlite", "tables/main/t/f.parquet", "cubes/c/repo"} <= names
    assert json.loads(zipfile.ZipFile(archive).read("oceanlake-lake.json"))["format"] == "oceanlake-lake-archive"
    dest = tmp_path / "job2" / "lake"
    data_path = glue.unpack(archive, dest)
    assert data_path == f"{dest.resolve()}/tables/"
    with sqlite3.connect(dest / "catalog.sqlite") as con:
        stored = con.execute("SELECT value FROM ducklake_metadata WHERE key = 'data_path'").fetchone()[0]
    assert stored == data_path
    assert (dest / "tables" / "main" / "t" / "f.parquet").read_bytes() == b"PAR1"
    assert not (dest / "oceanlake-lake.json").exists()


def test_pack_includes_what_is_still_in_the_catalogs_write_ahead_log(tmp_path):
    lake = _fake_lake(tmp_path / "lake", "/x/tables/")
    writer = sqlite3.connect(lake / "catalog.sqlite")  # lakes keep SQLite catalogs in WAL mode
    assert writer.execute("PRAGMA journal_mode=WAL").fetchone()[0] == "wal"
    writer.execute("INSERT INTO ducklake_metadata VALUES ('written_last', 'yes', NULL, NULL)")
    writer.commit()  # in catalog.sqlite-wal while the writer is open
    assert (lake / "catalog.sqlite-wal").stat().st_size > 0
    archive = tmp_path / "lake.zip"
    glue.pack(lake, archive)
    writer.close()
    assert not {n for n in zipfile.ZipFile(archive).namelist() if n.endswith(("-wal", "-shm"))}
    glue.unpack(archive, tmp_path / "copy")
    with sqlite3.connect(tmp_path / "copy" / "catalog.sqlite") as con:
        assert con.execute("SELECT value FROM ducklake_metadata WHERE key = 'written_last'").fetchone() == ("yes",)


def test_unpack_refuses_what_is_not_a_lake_archive(tmp_path):
    not_zip = tmp_path / "x.dat"
    not_zip.write_text("hello")
    with pytest.raises(glue.GalaxyGlueError, match="not a zip"):
        glue.unpack(not_zip, tmp_path / "lake")
    with pytest.raises(glue.GalaxyGlueError, match="no catalog.sqlite"):
        glue.unpack(_zip(tmp_path / "y.zip", {"a.txt": "a"}), tmp_path / "lake2")


def test_pack_refuses_an_empty_lake(tmp_path):
    with pytest.raises(glue.GalaxyGlueError, match="nothing was ingested"):
        glue.pack(tmp_path, tmp_path / "out.zip")


SERVER = {"OCEANLAKE_LAKE": "s3://ifremer-oc/lake", "OCEANLAKE_CATALOG": "postgres:dbname=lake host=db",
          "OCEANLAKE_GALAXY_LAKES": "s3://ifremer-oc/ /home/datawork-oc/lakes"}


@pytest.mark.parametrize(("uri", "env", "expected"), [
    ("", SERVER, "s3://ifremer-oc/lake"),
    ("s3://ifremer-oc/lake/", SERVER, "s3://ifremer-oc/lake"),
    ("s3://ifremer-oc/projects/chl", SERVER, "s3://ifremer-oc/projects/chl"),
    ("/home/datawork-oc/lakes/study1", SERVER, "/home/datawork-oc/lakes/study1"),
    ("", {"OCEANLAKE_LAKE": "/shared/lake"}, "/shared/lake"),
])
def test_shared_lake_accepts(uri, env, expected):
    assert glue.shared_lake(uri, env) == expected


@pytest.mark.parametrize(("uri", "env", "message"), [
    ("", {}, "no shared lake"),
    ("s3://other-bucket/lake", SERVER, "not allowed"),
    ("s3://ifremer-oc-evil/lake", SERVER, "not allowed"),
    ("/home/datawork-oc/lakes-other", SERVER, "not allowed"),
    ("/tmp/lake", {"OCEANLAKE_LAKE": "/shared/lake"}, "only the default lake"),
    ("", {"OCEANLAKE_LAKE": "s3://b/lake"}, "no shared DuckLake catalog"),
    ("", {"OCEANLAKE_LAKE": "relative/lake"}, "absolute path"),
])
def test_shared_lake_refuses(uri, env, message):
    with pytest.raises(glue.GalaxyGlueError, match=message):
        glue.shared_lake(uri, env)


def test_field_and_main_exit_status(tmp_path, capsys):
    summary = tmp_path / "s.json"
    summary.write_text(json.dumps({"run_id": "abc", "rows": 3}))
    assert glue.main(["field", str(summary), "run_id"]) == 0
    assert capsys.readouterr().out == "abc\n"
    assert glue.main(["field", str(summary), "nope"]) == 1
    assert "no 'nope' in the run summary" in capsys.readouterr().err
