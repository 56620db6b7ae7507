"""``cmr://<short_name or collection concept id>?...``: NASA CMR granule search, Earthdata downloads (PACE, MODIS).

This is what ``earthaccess.search_data`` / ``earthaccess.download`` do, in plain HTTP:

1. ``GET {cmr}/search/granules.umm_json?short_name=...&temporal=...&bounding_box=...&page_size=...``;
   the next page is asked with the ``CMR-Search-After`` header the previous answer carried.
2. Each item's ``umm.RelatedUrls`` entries of ``Type`` ``"GET DATA"`` with an https URL are the files.
3. The file is downloaded with ``Authorization: Bearer <Earthdata Login token>`` (sent only to the
   data host's site, never to the pre-signed S3 URL it redirects to), or through the Earthdata
   Login OAuth redirect with the netrc login of ``urs.earthdata.nasa.gov``.

Other query parameters are passed to CMR as they are (``version``, ``provider``,
``readable_granule_name``, ``day_night_flag``, ``options[...]``...).
"""

from __future__ import annotations

import logging
import os
import re
from pathlib import Path
from urllib.parse import urlencode, urlsplit

from tasks.config import Settings
from tasks.errors import ConfigError
from tasks.remote.base import RemoteFile
from tasks.remote.http import HttpClient, bearer_auth, netrc_auth, netrc_has
from tasks.remote.query import RemoteQuery, iso, number

log = logging.getLogger(__name__)

EDL_HOST = "urs.earthdata.nasa.gov"
PAGE_SIZE = 2000  # CMR's maximum
KNOWN = frozenset({"page_size"})
HINT = ("check OCEANLAKE_EARTHDATA_TOKEN (Earthdata Login tokens expire after 60 days: make a new one at "
        f"https://{EDL_HOST}/profile) or the {EDL_HOST} login of the netrc file (OCEANLAKE_NETRC); the "
        "collection's data provider may also need to be authorised in your Earthdata profile")


def check_credentials(query: RemoteQuery, settings: Settings) -> None:
    """Fail before searching when downloads could not be authenticated.

    Raises:
        ConfigError: neither a token nor a netrc login for Earthdata is configured.
    """
    remote = settings.remote
    if not remote.earthdata_token and not netrc_has(remote.netrc, EDL_HOST):
        raise ConfigError(f"SOURCE {query.source!r}: NASA Earthdata downloads need a login: set "
                          f"OCEANLAKE_EARTHDATA_TOKEN (an Earthdata Login token) or add 'machine {EDL_HOST} login "
                          f"... password ...' to {remote.netrc or '~/.netrc'} (OCEANLAKE_NETRC)")


def search(query: RemoteQuery, settings: Settings) -> list[RemoteFile]:
    """Granule files of a CMR collection, all pages, in start-time order."""
    remote = settings.remote
    client = HttpClient("NASA CMR", remote, HINT)
    url = f"{remote.cmr_url}/search/granules.umm_json?{urlencode(_params(query), doseq=True)}"
    auth = bearer_auth(remote.earthdata_token, remote.cmr_url) if remote.earthdata_token else None
    files: list[RemoteFile] = []
    headers: dict[str, str] = {}
    hits = None
    while True:
        body, response_headers = client.get_json(url, headers=headers, auth=auth)
        items = body.get("items") or []
        hits = body.get("hits", hits)
        for item in items:
            files.extend(_data_files(item))
        search_after = response_headers.get("CMR-Search-After")
        if not items or not search_after:
            break
        headers = {"CMR-Search-After": search_after}
    log.info("CMR %s: %s granules, %d data files", query.name, hits, len(files))
    return files


def _params(query: RemoteQuery) -> list[tuple[str, str]]:
    key = "collection_concept_id" if re.fullmatch(r"C\d+-[A-Z0-9_]+", query.name) else "short_name"
    params = [(key, query.name)]
    params += [(k, v) for k, values in query.other_params(KNOWN).items() for v in values]
    if query.start or query.end:
        params.append(("temporal", f"{iso(query.start) if query.start else ''},{iso(query.end) if query.end else ''}"))
    if query.bbox:
        params.append(("bounding_box", ",".join(number(v) for v in query.bbox)))
    page_size = min(int(query.first("page_size") or PAGE_SIZE), PAGE_SIZE)
    return params + [("page_size", str(page_size)), ("sort_key", "start_date")]


def _data_files(item: dict) -> list[RemoteFile]:
    """The https "GET DATA" links of one UMM-G item (not the s3:// direct-access ones, not services)."""
    files = []
    for link in (item.get("umm") or {}).get("RelatedUrls") or []:
        url = link.get("URL") or ""
        if link.get("Type") == "GET DATA" and url.startswith(("https://", "http://")):
            files.append(RemoteFile(name=os.path.basename(urlsplit(url).path), url=url))
    return files


def download(url: str, name: str, folder: Path, settings: Settings) -> Path:
    """Download one granule file into ``folder`` with the Earthdata credentials."""
    remote = settings.remote
    auth = bearer_auth(remote.earthdata_token, url) if remote.earthdata_token else netrc_auth(remote.netrc)
    return HttpClient("NASA Earthdata", remote, HINT).download(url, folder / name, auth=auth)
