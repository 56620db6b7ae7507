"""SOURCE arguments: folders, globs, explicit files and an Argo GDAC mirror over HTTP on 127.0.0.1."""

from __future__ import annotations

import gzip
import shutil
import threading
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from tasks.errors import SourceNotFound
from tasks.ingest import ingest_insitu
from tasks.query import run_query
from tasks.sources import IndexFilter, discover

GDAC_FILES = {  # real file -> its path under dac/ on the GDAC
    "SD3902131_001.nc": "coriolis/3902131/profiles/SD3902131_001.nc",
    "SR6903247_001.nc": "coriolis/6903247/profiles/SR6903247_001.nc",
    "SR6903247_002.nc": "coriolis/6903247/profiles/SR6903247_002.nc",
}
MISSING_ON_MIRROR = "coriolis/6903247/profiles/SR6903247_003.nc"


class _QuietHandler(SimpleHTTPRequestHandler):
    def log_message(self, *args):  # keep test output clean
        pass


@pytest.fixture
def gdac_mirror(realdata, tmp_path):
    """A GDAC-like tree of the real files, served over HTTP on 127.0.0.1 (random port)."""
    root = tmp_path / "gdac"
    for name, rel in GDAC_FILES.items():
        target = root / "dac" / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(realdata / "argo" / name, target)
    # the real synthetic index, trimmed to the files on this mirror plus one that is absent
    with gzip.open(realdata / "argo" / "argo_synthetic-profile_index.txt.gz", "rt") as fh:
        lines = fh.read().splitlines()
    keep = set(GDAC_FILES.values()) | {MISSING_ON_MIRROR}
    header = [ln for ln in lines if ln.startswith("#") or ln.startswith("file,")]
    rows = list(dict.fromkeys(ln for ln in lines if ln.split(",", 1)[0] in keep))
    with gzip.open(root / "argo_synthetic-profile_index.txt.gz", "wt") as fh:
        fh.write("\n".join(header + rows) + "\n")
    server = ThreadingHTTPServer(("127.0.0.1", 0), partial(_QuietHandler, directory=str(root)))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}", rows
    server.shutdown()
    server.server_close()


def test_gdac_mirror_ingest_is_selective_and_idempotent(gdac_mirror, settings):
    url, rows = gdac_mirror
    assert any(MISSING_ON_MIRROR in r for r in rows), "the trimmed index must list the absent file"
    summary = ingest_insitu("argo", [url], settings, gdac=IndexFilter(wmo=("6903247",)))
    assert summary.files_found == 3
    assert summary.files_ingested == 2
    assert summary.files_quarantined == 1  # SR6903247_003.nc is listed but not on the mirror
    out = run_query(settings, "SELECT object, stage, reason FROM quarantine WHERE stage = 'fetch'").to_pylist()
    assert len(out) == 1 and out[0]["object"].endswith(MISSING_ON_MIRROR)
    assert "SR6903247_003.nc" in out[0]["reason"]
    profiles = run_query(settings, "SELECT cycle_number, latitude, longitude, source_file FROM argo_profiles "
                                   "WHERE platform_number = '6903247' ORDER BY cycle_number").to_pylist()
    assert [p["cycle_number"] for p in profiles] == [1, 2]
    assert profiles[0]["latitude"] == pytest.approx(34.2, abs=0.01)
    assert profiles[0]["longitude"] == pytest.approx(26.01, abs=0.01)
    assert profiles[0]["source_file"] == f"{url}/dac/{GDAC_FILES['SR6903247_001.nc']}"

    again = ingest_insitu("argo", [url], settings, gdac=IndexFilter(wmo=("6903247",)))
    assert (again.files_ingested, again.files_skipped) == (0, 2)
    n = run_query(settings, "SELECT count(*) AS n FROM argo_profiles").column("n").to_pylist()[0]
    assert n == 2


def test_gdac_mirror_date_filter(gdac_mirror, settings):
    url, _ = gdac_mirror
    summary = ingest_insitu("argo", [url], settings,
                            gdac=IndexFilter(start="2018-10-20", end="2018-10-21"))
    assert summary.files_found == 1  # only cycle 2 of 6903247 (2018-10-20)


def test_gdac_mirror_bbox_filter(gdac_mirror, settings):
    url, _ = gdac_mirror
    east_med = discover([url], ("*.nc",), settings, IndexFilter(bbox=(20.0, 30.0, 30.0, 40.0)))
    assert [u.rsplit("/", 1)[1] for u in east_med] == ["SR6903247_001.nc", "SR6903247_002.nc", "SR6903247_003.nc"]
    gulf_of_guinea = discover([url], ("*.nc",), settings, IndexFilter(bbox=(0.0, -10.0, 10.0, 0.0)))
    assert [u.rsplit("/", 1)[1] for u in gulf_of_guinea] == ["SD3902131_001.nc"]


def test_url_without_index_is_a_clear_error(tmp_path, settings):
    server = ThreadingHTTPServer(("127.0.0.1", 0), partial(_QuietHandler, directory=str(tmp_path)))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        with pytest.raises(SourceNotFound, match="GDAC mirror"):
            discover([f"http://127.0.0.1:{server.server_address[1]}"], ("*.nc",), settings)
    finally:
        server.shutdown()
        server.server_close()


def test_folder_glob_and_file_sources(realdata, settings):
    patterns = ("*_Sprof.nc", "[RDBS]*_[0-9][0-9][0-9]*.nc")
    folder = discover([str(realdata / "argo")], patterns, settings)
    assert {Path(p).name for p in folder} >= {"3902131_Sprof.nc", "SR6903247_001.nc", "D5900865_001.nc"}
    assert not any(p.endswith(".txt.gz") for p in folder)
    globbed = discover([str(realdata / "argo" / "SR*.nc")], patterns, settings)
    assert [Path(p).name for p in globbed] == ["SR6903247_001.nc", "SR6903247_002.nc"]
    single = discover([str(realdata / "argo" / "3902131_meta.nc")], patterns, settings)
    assert len(single) == 1  # an explicitly named file is always taken
    with pytest.raises(SourceNotFound, match="no such file"):
        discover([str(realdata / "nope")], patterns, settings)
