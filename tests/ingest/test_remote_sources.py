"""Remote SOURCEs (cmr://, cdse://, cmems://) against recorded catalogue answers served on 127.0.0.1.

The catalogue answers in ``tests/data/remote`` copy the shape of the real APIs (CMR UMM-G JSON with
``CMR-Search-After`` paging, CDSE OData with ``@odata.nextLink``, Keycloak token answers, Copernicus
Marine clients config / STAC / S3 ListObjectsV2 XML); ``{BASE}`` in them is replaced by the URL of
the local server. The granule files are written by the synthetic generators.
"""

from __future__ import annotations

import base64
import dataclasses
import json
import logging
import re
import threading
import zipfile
from collections.abc import Callable
from datetime import date, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest

from tasks import remote
from tasks.config import RemoteSettings, load_settings
from tasks.errors import ConfigError, OceanlakeError, SourceNotFound, TransientError
from tasks.ingest_satellite import ingest_satellite
from tasks.query import run_query
from tasks.remote import cdse
from tasks.sources import discover, fetch
from tasks.synthetic import write_globcolour_l3, write_olci_wfr_sen3, write_pace_l3m

DATA = Path(__file__).resolve().parents[1] / "data" / "remote"
TOKEN = "edl-test-token-0123456789"
CDSE_USER, CDSE_PASSWORD = "ocean@example.org", "pw-Secret-123"
CDSE_TOKEN = json.loads((DATA / "cdse_token.json").read_text())["access_token"]
PACE_PATTERNS = ("PACE_OCI.*.L3m.*.nc",)
PACE_DAYS = ("PACE_OCI.20240614.L3m.DAY.CHL.V3_0.chlor_a.0p1deg.nc",
             "PACE_OCI.20240615.L3m.DAY.CHL.V3_0.chlor_a.0p1deg.nc")
CMR_SOURCE = "cmr://PACE_OCI_L3M_CHL?start=2024-06-14&end=2024-06-15&bbox=-40,30,-20,50&match=*.0p1deg.nc"
CDSE_SOURCE = "cdse://SENTINEL-3?product_type=OL_2_WFR___&start=2024-06-14&end=2024-06-14&bbox=-6,43,-2,46"
CMEMS_DATASET = "cmems_obs-oc_glo_bgc-plankton_my_l3-multi-4km_P1D"
CMEMS_SOURCE = f"cmems://{CMEMS_DATASET}?start=2024-06-14&end=2024-06-15"
NATIVE = f"/mdl-native-14/native/OCEANCOLOUR_GLO_BGC_L3_MY_009_103/{CMEMS_DATASET}_202311"
SEN3 = {"3f9c2b7e-5d1a-4c8e-9b0f-2a6d7e8c1f43": (datetime(2024, 6, 14, 10, 3, 17), "S3A", 44.5, -4.0),
        "b84e0d2c-71f3-4a6b-8e95-d3c0f1a27b68": (datetime(2024, 6, 14, 10, 41, 52), "S3B", 45.0, -2.5)}


# -- a scripted HTTP server -------------------------------------------------------------------------

@dataclasses.dataclass
class Seen:
    """One request received by the fake server."""

    method: str
    host: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    body: bytes


Reply = tuple[int, dict[str, str], bytes]


class FakeRemote:
    """HTTP server on 127.0.0.1 answering scripted routes (regex on the path); records every request.

    It is reachable as ``base`` (http://127.0.0.1:PORT) and ``alt`` (http://localhost:PORT): two hosts
    for the client, to check where credentials go on redirects.
    """

    def __init__(self):
        self.routes: list[tuple[str, Callable[[Seen], Reply]]] = []
        self.seen: list[Seen] = []
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def _answer(self):
                parts = urlsplit(self.path)
                length = int(self.headers.get("Content-Length") or 0)
                seen = Seen(self.command, self.headers.get("Host", ""), parts.path, parse_qs(parts.query),
                            {k.lower(): v for k, v in self.headers.items()}, self.rfile.read(length))
                fake.seen.append(seen)
                status, headers, body = fake.dispatch(seen)
                self.send_response(status)
                for key, value in {"Content-Length": str(len(body)), **headers}.items():
                    self.send_header(key, value)
                self.end_headers()
                self.wfile.write(body)

            do_GET = do_POST = _answer

            def log_message(self, *args):  # keep test output clean
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        self.base = f"http://127.0.0.1:{self.port}"
        self.alt = f"http://localhost:{self.port}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def route(self, pattern: str, *answers: Reply | Callable[[Seen], Reply]) -> None:
        """Answer requests whose path matches ``pattern`` with ``answers`` in turn (the last one repeats)."""
        queue = list(answers)

        def answer(seen: Seen) -> Reply:
            current = queue.pop(0) if len(queue) > 1 else queue[0]
            return current(seen) if callable(current) else current

        self.routes.insert(0, (pattern, answer))

    def dispatch(self, seen: Seen) -> Reply:
        for pattern, answer in self.routes:
            if re.fullmatch(pattern, seen.path):
                return answer(seen)
        return 404, {}, b"not found"

    def fixture(self, name: str) -> bytes:
        return (DATA / name).read_text().replace("{BASE}", self.base).encode()

    def to(self, pattern: str) -> list[Seen]:
        return [s for s in self.seen if re.fullmatch(pattern, s.path)]

    def close(self):
        self.server.shutdown()
        self.server.server_close()


def _json(body: bytes, status: int = 200, **headers: str) -> Reply:
    return status, {"Content-Type": "application/json;charset=utf-8", **headers}, body


@pytest.fixture
def fake():
    server = FakeRemote()
    yield server
    server.close()


@pytest.fixture(autouse=True)
def _fresh_tokens():
    cdse.forget_tokens()
    yield
    cdse.forget_tokens()


@pytest.fixture
def remote_settings(settings, fake, tmp_path):
    """Lake settings whose remote endpoints are the fake server (fast retries)."""
    base = fake.base
    return dataclasses.replace(settings, remote=RemoteSettings(
        earthdata_token=TOKEN, netrc=tmp_path / "no-netrc", cmr_url=base, cdse_user=CDSE_USER,
        cdse_password=CDSE_PASSWORD, cdse_catalogue_url=f"{base}/odata/v1",
        cdse_download_url=f"{base}/download/odata/v1",
        cdse_token_url=f"{base}/auth/realms/CDSE/protocol/openid-connect/token",
        cmems_config_url=f"{base}/clients-config-v1", retries=3, backoff=0.01, timeout=10))


@pytest.fixture(scope="module")
def granule_files(tmp_path_factory):
    """Small synthetic granules in the real formats: PACE L3m files, zipped SEN3 folders, GlobColour files."""
    root = tmp_path_factory.mktemp("remote-granules")
    pace = {p.name: p.read_bytes() for p in (write_pace_l3m(root, date(2024, 6, d)) for d in (14, 15))}
    zips = {}
    for product_id, (start, platform, lat0, lon0) in SEN3.items():
        folder = write_olci_wfr_sen3(root, start, lat0, lon0, shape=(60, 50), platform=platform)
        archive = root / f"{product_id}.zip"
        with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as zf:
            zf.writestr(f"{folder.name}/", "")
            for member in sorted(folder.iterdir()):
                zf.write(member, f"{folder.name}/{member.name}")
        zips[product_id] = (folder.name, archive.read_bytes())
    glob = {p.name: p.read_bytes() for p in (write_globcolour_l3(root / "gc", f"202406{d}") for d in (14, 15))}
    return {"pace": pace, "sen3": zips, "globcolour": glob}


# -- recorded catalogue answers ---------------------------------------------------------------------

def serve_cmr(fake: FakeRemote, files: dict[str, bytes]) -> None:
    """CMR granule search (two pages) and the OB.DAAC data host, which wants the bearer token."""
    after = '["pace_oci_l3m_chl",1718322540000,3089413304]'

    def search(seen: Seen) -> Reply:
        if seen.headers.get("cmr-search-after") == after:
            return _json(fake.fixture("cmr_granules_page2.json"), **{"CMR-Hits": "3"})
        return _json(fake.fixture("cmr_granules_page1.json"), **{"CMR-Hits": "3", "CMR-Search-After": after})

    def data(seen: Seen) -> Reply:
        if seen.headers.get("authorization") != f"Bearer {TOKEN}":
            return 401, {"Content-Type": "text/plain"}, b"HTTP Basic: Access denied."
        return 307, {"Location": f"{fake.alt}/presigned{seen.path}?X-Amz-Signature=abc"}, b""

    def presigned(seen: Seen) -> Reply:
        if "authorization" in seen.headers:  # S3 refuses a second auth mechanism
            return 400, {"Content-Type": "application/xml"}, b"<Error><Code>InvalidArgument</Code></Error>"
        return 200, {"Content-Type": "application/x-netcdf"}, files[seen.path.rsplit("/", 1)[1]]

    fake.route(r"/search/granules\.umm_json", search)
    fake.route(r"/ob-cumulus-prod-public/[^/]+", data)
    fake.route(r"/presigned/ob-cumulus-prod-public/[^/]+", presigned)


def serve_cdse(fake: FakeRemote, zips: dict[str, tuple[str, bytes]]) -> None:
    """CDSE OData catalogue (two pages), Keycloak token endpoint and the download service."""

    def products(seen: Seen) -> Reply:
        page = "cdse_products_page2.json" if seen.query.get("$skip") == ["1"] else "cdse_products_page1.json"
        return _json(fake.fixture(page))

    def token(seen: Seen) -> Reply:
        form = parse_qs(seen.body.decode())
        if form.get("username") == [CDSE_USER] and form.get("password") == [CDSE_PASSWORD]:
            return _json(fake.fixture("cdse_token.json"))
        return _json(fake.fixture("cdse_token_refused.json"), status=401)

    def download(seen: Seen) -> Reply:
        if seen.headers.get("authorization") != f"Bearer {CDSE_TOKEN}":
            return _json(b'{"detail": "Expired signature!"}', status=401)
        product_id = re.search(r"Products\(([^)]+)\)", seen.path).group(1)
        return 200, {"Content-Type": "application/zip"}, zips[product_id][1]

    fake.route(r"/odata/v1/Products", products)
    fake.route(r"/auth/realms/CDSE/protocol/openid-connect/token", token)
    fake.route(r"/download/odata/v1/Products\([^)]+\)/\$value", download)


def serve_cmems(fake: FakeRemote, files: dict[str, bytes]) -> None:
    """Copernicus Marine clients config, id mapping, STAC product and dataset, S3 listing and files."""

    def listing(seen: Seen) -> Reply:
        if seen.query.get("list-type") != ["2"] or not seen.query.get("prefix", [""])[0].endswith("/2024/06/"):
            body = b'<?xml version="1.0"?><ListBucketResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/">' \
                   b"<IsTruncated>false</IsTruncated><KeyCount>0</KeyCount></ListBucketResult>"
            return 200, {"Content-Type": "application/xml"}, body
        page = "cmems_list_page2.xml" if "continuation-token" in seen.query else "cmems_list_page1.xml"
        return 200, {"Content-Type": "application/xml"}, fake.fixture(page)

    fake.route(r"/clients-config-v1", _json(fake.fixture("cmems_clients_config.json")))
    fake.route(r"/mdl-metadata/dataset_product_id_mapping\.json",
               _json(fake.fixture("cmems_dataset_product_id_mapping.json")))
    fake.route(r"/mdl-metadata/metadata/OCEANCOLOUR_GLO_BGC_L3_MY_009_103/product\.stac\.json",
               _json(fake.fixture("cmems_product.stac.json")))
    fake.route(rf"/mdl-metadata/metadata/OCEANCOLOUR_GLO_BGC_L3_MY_009_103/{CMEMS_DATASET}_202311/dataset\.stac\.json",
               _json(fake.fixture("cmems_dataset.stac.json")))
    fake.route(r"/mdl-native-14", listing)
    fake.route(rf"{NATIVE}/2024/06/[^/]+",
               lambda seen: (200, {"Content-Type": "application/x-netcdf"}, files[seen.path.rsplit("/", 1)[1]]))


# -- SOURCE syntax -----------------------------------------------------------------------------------

def test_remote_source_syntax_is_parsed_and_checked():
    query = remote.parse("cmr://PACE_OCI_L3M_CHL?start=2024-06-14&end=2024-06-15&bbox=-40,30,-20,50&limit=5"
                         "&match=*.0p1deg.nc&version=3.0")
    assert (query.scheme, query.name, query.subname) == ("cmr", "PACE_OCI_L3M_CHL", None)
    assert query.start == datetime(2024, 6, 14) and query.end == datetime(2024, 6, 15, 23, 59, 59, 999999)
    assert query.bbox == (-40.0, 30.0, -20.0, 50.0) and query.limit == 5 and query.match == ("*.0p1deg.nc",)
    assert query.other_params() == {"version": ["3.0"]}
    assert remote.parse("cmems://OCEANCOLOUR_GLO_BGC_L3_MY_009_103/cmems_x").subname == "cmems_x"
    assert remote.parse("cdse://S?start=2024-06-14T10:00:00Z").start == datetime(2024, 6, 14, 10)
    for bad, word in (("cmr://X?bbox=10,0,5,1", "bbox"), ("cmr://X?start=14/06/2024", "start"),
                      ("cmr://X?limit=0", "limit"), ("cmr://?start=2024-01-01", "nothing after")):
        with pytest.raises(ConfigError, match=word):
            remote.parse(bad)
    with pytest.raises(ConfigError, match="productype.*valid: .*product_type"):
        remote.parse("cdse://SENTINEL-3?productype=OL_2_WFR___").check_params(cdse.KNOWN)
    assert remote.is_remote_source("cmr://X") and not remote.is_remote_source("s3://bucket/x")
    assert remote.is_remote_url("cdse+https://host/x") and not remote.is_remote_url("https://host/x")


def test_remote_settings_come_from_env_only_and_hide_secrets(monkeypatch, tmp_path):
    monkeypatch.setenv("OCEANLAKE_EARTHDATA_TOKEN", "tok-very-secret")
    monkeypatch.setenv("OCEANLAKE_CDSE_USER", "me")
    monkeypatch.setenv("OCEANLAKE_CDSE_PASSWORD", "pw-very-secret")
    monkeypatch.setenv("OCEANLAKE_CMR_URL", "http://127.0.0.1:1/")
    monkeypatch.setenv("OCEANLAKE_HTTP_RETRIES", "2")
    monkeypatch.setenv("OCEANLAKE_NETRC", str(tmp_path / "netrc"))
    settings = load_settings(lake=str(tmp_path / "lake"))
    assert settings.remote.earthdata_token == "tok-very-secret" and settings.remote.cdse_user == "me"
    assert settings.remote.cmr_url == "http://127.0.0.1:1" and settings.remote.retries == 2
    assert settings.remote.netrc == tmp_path / "netrc"
    assert "very-secret" not in repr(settings)
    assert settings.with_lake(str(tmp_path / "other")).remote == settings.remote
    monkeypatch.setenv("OCEANLAKE_CDSE_TOKEN_URL", "identity.example.org/token")
    with pytest.raises(ConfigError, match="OCEANLAKE_CDSE_TOKEN_URL"):
        load_settings(lake=str(tmp_path / "lake"))


# -- NASA CMR / Earthdata ----------------------------------------------------------------------------

def test_remote_cmr_search_follows_pages_and_applies_patterns(fake, remote_settings):
    serve_cmr(fake, {})
    urls = discover([CMR_SOURCE], PACE_PATTERNS, remote_settings)
    assert urls == [f"cmr+{fake.base}/ob-cumulus-prod-public/{name}" for name in PACE_DAYS]
    first, second = fake.to(r"/search/granules\.umm_json")
    assert first.query["short_name"] == ["PACE_OCI_L3M_CHL"] and first.query["page_size"] == ["2000"]
    assert first.query["temporal"] == ["2024-06-14T00:00:00.000Z,2024-06-15T23:59:59.999Z"]
    assert first.query["bounding_box"] == ["-40,30,-20,50"] and first.query["sort_key"] == ["start_date"]
    assert "match" not in first.query and "cmr-search-after" not in first.headers
    assert second.headers["cmr-search-after"] == '["pace_oci_l3m_chl",1718322540000,3089413304]'
    assert first.headers["authorization"] == f"Bearer {TOKEN}"  # CMR itself accepts the EDL token

    concept = discover(["cmr://C3620140255-OB_CLOUD?limit=1&version=3.0"], PACE_PATTERNS, remote_settings)
    assert len(concept) == 1 and concept[0].endswith(PACE_DAYS[0])
    assert fake.seen[-1].query["collection_concept_id"] == ["C3620140255-OB_CLOUD"]
    assert fake.seen[-1].query["version"] == ["3.0"]  # other parameters go to CMR as they are
    with pytest.raises(SourceNotFound, match="none matching"):
        discover(["cmr://PACE_OCI_L3M_CHL?match=*.9km.nc"], PACE_PATTERNS, remote_settings)


def test_remote_cmr_download_sends_token_only_to_the_data_host(fake, remote_settings, granule_files):
    serve_cmr(fake, granule_files["pace"])
    url = f"cmr+{fake.base}/ob-cumulus-prod-public/{PACE_DAYS[0]}"
    path, tmp_dir = fetch(url, remote_settings)
    assert path.name == PACE_DAYS[0] and path.read_bytes() == granule_files["pace"][PACE_DAYS[0]]
    assert tmp_dir.parent == remote_settings.cache_dir / "downloads" and not list(tmp_dir.glob("*.part"))
    data, presigned = fake.to(r"/ob-cumulus-prod-public/.+")[0], fake.to(r"/presigned/.+")[0]
    assert data.headers["authorization"] == f"Bearer {TOKEN}" and data.host == f"127.0.0.1:{fake.port}"
    assert "authorization" not in presigned.headers and presigned.host == f"localhost:{fake.port}"


def test_remote_transient_errors_are_retried_with_backoff(fake, remote_settings, granule_files, caplog):
    serve_cmr(fake, granule_files["pace"])
    page1 = _json(fake.fixture("cmr_granules_page1.json"))
    fake.route(r"/search/granules\.umm_json", (503, {}, b"Service Unavailable"),
               (429, {"Retry-After": "0"}, b"slow down"), page1)
    fake.route(r"/presigned/.+", (502, {}, b"Bad Gateway"),
               lambda seen: (200, {}, granule_files["pace"][seen.path.rsplit("/", 1)[1]]))
    with caplog.at_level(logging.WARNING, logger="tasks.remote"):
        assert len(discover(["cmr://PACE_OCI_L3M_CHL"], PACE_PATTERNS, remote_settings)) == 2
        path, _ = fetch(f"cmr+{fake.base}/ob-cumulus-prod-public/{PACE_DAYS[0]}", remote_settings)
    assert len(fake.to(r"/search/granules\.umm_json")) == 3 and len(fake.to(r"/presigned/.+")) == 2
    assert path.read_bytes() == granule_files["pace"][PACE_DAYS[0]]
    assert "HTTP 503" in caplog.text and "HTTP 429" in caplog.text and "HTTP 502" in caplog.text
    assert TOKEN not in caplog.text
    assert "X-Amz-Signature=***" in caplog.text and "X-Amz-Signature=abc" not in caplog.text  # pre-signed URL masked

    fake.route(r"/search/granules\.umm_json", (500, {}, b"Internal Server Error"))
    with pytest.raises(TransientError, match=r"NASA CMR: .*HTTP 500.*gave up after 4 attempts"):
        discover(["cmr://PACE_OCI_L3M_CHL"], PACE_PATTERNS, remote_settings)


def test_remote_cmr_refusals_are_clear_errors(fake, remote_settings, tmp_path):
    serve_cmr(fake, {})
    wrong = dataclasses.replace(remote_settings, remote=dataclasses.replace(remote_settings.remote,
                                                                            earthdata_token="expired-token"))
    with pytest.raises(ConfigError, match="NASA Earthdata refused.*HTTP 401.*OCEANLAKE_EARTHDATA_TOKEN") as info:
        fetch(f"cmr+{fake.base}/ob-cumulus-prod-public/{PACE_DAYS[0]}", wrong)
    assert "expired-token" not in str(info.value)
    assert not list((remote_settings.cache_dir / "downloads").iterdir())  # the temp folder is removed

    fake.route(r"/search/granules\.umm_json", _json(fake.fixture("cmr_error_400.json"), status=400))
    with pytest.raises(OceanlakeError, match=r"HTTP 400.*Parameter \[shortname\] was not recognized"):
        discover(["cmr://PACE_OCI_L3M_CHL?shortname=x"], PACE_PATTERNS, remote_settings)

    anonymous = dataclasses.replace(remote_settings, remote=dataclasses.replace(remote_settings.remote,
                                                                                earthdata_token=None))
    n_requests = len(fake.seen)
    with pytest.raises(ConfigError, match="OCEANLAKE_EARTHDATA_TOKEN.*urs.earthdata.nasa.gov.*OCEANLAKE_NETRC"):
        discover([CMR_SOURCE], PACE_PATTERNS, anonymous)
    assert len(fake.seen) == n_requests  # refused before any request


def test_remote_cmr_netrc_login_follows_the_earthdata_redirects(fake, remote_settings, granule_files, tmp_path):
    """Without a token: data host -> Earthdata Login (basic auth from netrc) -> session cookie -> file."""
    netrc = tmp_path / "netrc"
    netrc.write_text("machine urs.earthdata.nasa.gov login alice password s3cret\n"
                     "machine localhost login alice password s3cret\n")
    netrc.chmod(0o600)
    settings = dataclasses.replace(remote_settings, remote=dataclasses.replace(
        remote_settings.remote, earthdata_token=None, netrc=netrc))
    files = granule_files["pace"]

    def data(seen: Seen) -> Reply:
        if "edl_session=ok" in seen.headers.get("cookie", ""):
            return 200, {}, files[seen.path.rsplit("/", 1)[1]]
        return 302, {"Location": f"{fake.alt}/oauth/authorize?client_id=abc&response_type=code&state={seen.path}"}, b""

    def authorize(seen: Seen) -> Reply:
        expected = "Basic " + base64.b64encode(b"alice:s3cret").decode()
        if seen.headers.get("authorization") != expected:
            return 401, {}, b"Unauthorized"
        return 302, {"Location": f"{fake.base}/login?code=xyz&state={seen.query['state'][0]}"}, b""

    def login(seen: Seen) -> Reply:
        return 302, {"Location": seen.query["state"][0], "Set-Cookie": "edl_session=ok; Path=/; HttpOnly"}, b""

    fake.route(r"/ob-cumulus-prod-public/[^/]+", data)
    fake.route(r"/oauth/authorize", authorize)
    fake.route(r"/login", login)
    path, _ = fetch(f"cmr+{fake.base}/ob-cumulus-prod-public/{PACE_DAYS[1]}", settings)
    assert path.read_bytes() == files[PACE_DAYS[1]]
    assert [s.path for s in fake.seen[-4:]] == [f"/ob-cumulus-prod-public/{PACE_DAYS[1]}", "/oauth/authorize",
                                                "/login", f"/ob-cumulus-prod-public/{PACE_DAYS[1]}"]
    assert all("authorization" not in s.headers for s in fake.seen[-4:] if s.host.startswith("127.0.0.1"))


def test_remote_cmr_ingest_end_to_end_is_idempotent(fake, remote_settings, granule_files):
    serve_cmr(fake, granule_files["pace"])
    summary = ingest_satellite("pace-oci-l3m", [CMR_SOURCE], remote_settings)
    assert (summary.files_found, summary.files_ingested, summary.files_quarantined) == (2, 2, 0)
    rows = run_query(remote_settings, "SELECT granule_id, source_file FROM granules ORDER BY time_start").to_pylist()
    assert [r["granule_id"] for r in rows] == [name[:-3] for name in PACE_DAYS]
    assert all(r["source_file"].startswith(f"cmr+{fake.base}/ob-cumulus-prod-public/") for r in rows)
    again = ingest_satellite("pace-oci-l3m", [CMR_SOURCE], remote_settings)
    assert (again.files_found, again.files_skipped, again.files_ingested) == (2, 2, 0)
    assert not list((remote_settings.cache_dir / "downloads").iterdir())  # downloads cleaned up


# -- Copernicus Data Space Ecosystem -----------------------------------------------------------------

def test_remote_cdse_search_token_and_unzipped_download(fake, remote_settings, granule_files):
    serve_cdse(fake, granule_files["sen3"])
    urls = discover([CDSE_SOURCE], ("S3?_OL_2_WFR____*.SEN3",), remote_settings)
    names = [name for name, _ in granule_files["sen3"].values()]
    assert urls == sorted(f"cdse+{fake.base}/download/odata/v1/Products({pid})/$value#{name}"
                          for pid, (name, _) in granule_files["sen3"].items())  # the offline product is skipped
    token_request = fake.to(r"/auth/realms/CDSE/protocol/openid-connect/token")[0]
    form = parse_qs(token_request.body.decode())
    assert form["grant_type"] == ["password"] and form["client_id"] == ["cdse-public"]
    assert form["username"] == [CDSE_USER] and token_request.method == "POST"
    first, second = fake.to(r"/odata/v1/Products")
    odata = first.query["$filter"][0]
    assert "Collection/Name eq 'SENTINEL-3'" in odata
    assert "att/OData.CSC.StringAttribute/Value eq 'OL_2_WFR___'" in odata
    assert "ContentDate/Start ge 2024-06-14T00:00:00.000Z" in odata and "le 2024-06-14T23:59:59.999Z" in odata
    assert "OData.CSC.Intersects(area=geography'SRID=4326;POLYGON((-6 43,-2 43,-2 46,-6 46,-6 43))')" in odata
    assert first.query["$orderby"] == ["ContentDate/Start asc"] and second.query["$skip"] == ["1"]

    path, tmp_dir = fetch(urls[0], remote_settings)
    assert path.is_dir() and path.name in names and (path / "xfdumanifest.xml").is_file()
    assert sorted(p.name for p in tmp_dir.iterdir()) == [path.name]  # the zip is removed after unpacking
    assert fake.to(r"/download/.+")[0].headers["authorization"] == f"Bearer {CDSE_TOKEN}"
    assert len(fake.to(r"/auth/.+")) == 1  # the token is reused until it expires


def test_remote_cdse_refused_or_missing_credentials_name_the_env_vars(fake, remote_settings, caplog):
    serve_cdse(fake, {})
    wrong = dataclasses.replace(remote_settings, remote=dataclasses.replace(remote_settings.remote,
                                                                            cdse_password="wrong-password"))
    with caplog.at_level(logging.DEBUG), pytest.raises(ConfigError) as info:
        discover([CDSE_SOURCE], ("*.SEN3",), wrong)
    message = str(info.value)
    assert "OCEANLAKE_CDSE_USER" in message and "OCEANLAKE_CDSE_PASSWORD" in message
    assert "Invalid user credentials" in message and "HTTP 401" in message
    assert "wrong-password" not in message and "wrong-password" not in caplog.text
    assert not fake.to(r"/odata/v1/Products")  # nothing searched with bad credentials

    missing = dataclasses.replace(remote_settings, remote=dataclasses.replace(remote_settings.remote, cdse_user=None))
    with pytest.raises(ConfigError, match="set OCEANLAKE_CDSE_USER and OCEANLAKE_CDSE_PASSWORD"):
        discover([CDSE_SOURCE], ("*.SEN3",), missing)


def test_remote_cdse_renews_a_refused_token_once(fake, remote_settings, granule_files):
    serve_cdse(fake, granule_files["sen3"])
    pid, (name, _) = next(iter(granule_files["sen3"].items()))
    fake.route(r"/download/odata/v1/Products\([^)]+\)/\$value", _json(b'{"detail": "Expired signature!"}', 401),
               lambda seen: (200, {}, granule_files["sen3"][pid][1]))
    path, _ = fetch(f"cdse+{fake.base}/download/odata/v1/Products({pid})/$value#{name}", remote_settings)
    assert path.name == name and len(fake.to(r"/auth/.+")) == 2


def test_remote_cdse_ingest_end_to_end(fake, remote_settings, granule_files):
    serve_cdse(fake, granule_files["sen3"])
    summary = ingest_satellite("olci-l2-wfr", [CDSE_SOURCE], remote_settings)
    assert (summary.files_found, summary.files_ingested, summary.files_quarantined) == (2, 2, 0)
    again = ingest_satellite("olci-l2-wfr", [CDSE_SOURCE], remote_settings)
    assert again.files_skipped == 2 and again.files_ingested == 0


# -- Copernicus Marine -------------------------------------------------------------------------------

def test_remote_cmems_lists_native_files_of_the_range(fake, remote_settings, granule_files):
    serve_cmems(fake, granule_files["globcolour"])
    urls = discover([CMEMS_SOURCE], ("*_cmems_obs-oc_glo_bgc-*_l3-multi-4km_P1D.nc",), remote_settings)
    assert urls == [f"cmems+{fake.base}{NATIVE}/2024/06/202406{d}_{CMEMS_DATASET}.nc" for d in (14, 15)]
    first, second = fake.to(r"/mdl-native-14")
    assert first.query["list-type"] == ["2"]
    assert first.query["prefix"] == [NATIVE.removeprefix("/mdl-native-14/") + "/2024/06/"]
    assert "continuation-token" not in first.query and second.query["continuation-token"][0].startswith("1Xn0")
    assert len(fake.to(r".*dataset_product_id_mapping\.json")) == 1
    assert all("authorization" not in s.headers for s in fake.seen)  # anonymous, like the toolbox

    named = discover([f"cmems://OCEANCOLOUR_GLO_BGC_L3_MY_009_103/{CMEMS_DATASET}?start=2024-06-14&end=2024-06-14"],
                     ("*.nc",), remote_settings)
    assert len(named) == 1 and len(fake.to(r".*dataset_product_id_mapping\.json")) == 1  # no mapping needed
    with pytest.raises(SourceNotFound, match="version 202001.*not in the Copernicus Marine catalogue"):
        discover([f"{CMEMS_SOURCE}&version=202001"], ("*.nc",), remote_settings)


def test_remote_cmems_ingest_end_to_end(fake, remote_settings, granule_files):
    serve_cmems(fake, granule_files["globcolour"])
    summary = ingest_satellite("globcolour-l3", [CMEMS_SOURCE], remote_settings)
    assert (summary.files_found, summary.files_ingested, summary.files_quarantined) == (2, 2, 0)
