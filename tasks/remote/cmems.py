"""``cmems://<dataset_id>?...``: Copernicus Marine original ("native") files (GlobColour), read anonymously.

The HTTP calls of ``copernicusmarine get`` (toolbox 2.x):

1. ``GET clients-config-v1`` → ``catalogues[].stac`` (STAC metadata root) and ``idMapping``
   (JSON object dataset id → product id; skipped when the SOURCE names the product).
2. ``GET {stac}/{product}/product.stac.json`` → ``links`` of rel ``item`` named
   ``<dataset_id>_<version>/dataset.stac.json``; the newest version unless ``version=`` is given.
3. The dataset item's ``assets.native.href``: ``https://<endpoint>/<bucket>/native/<product>/<dataset>_<version>``.
4. S3 ``ListObjectsV2`` (path style, unsigned) on that bucket and prefix, page by page
   (``IsTruncated`` / ``NextContinuationToken``); with ``start``/``end`` only the ``YYYY/MM/``
   folders of the range are listed, and file names are filtered on their ``YYYYMMDD`` date.
5. ``GET https://<endpoint>/<bucket>/<key>`` for each file.
"""

from __future__ import annotations

import logging
import os
import re
import xml.etree.ElementTree as ET
from datetime import datetime
from pathlib import Path
from urllib.parse import quote, urlencode, urljoin, urlsplit

from tasks.config import Settings
from tasks.errors import OceanlakeError, SourceNotFound
from tasks.remote.base import RemoteFile
from tasks.remote.http import HttpClient
from tasks.remote.query import RemoteQuery, months

log = logging.getLogger(__name__)

KNOWN = frozenset({"product", "version"})
HINT = ("Copernicus Marine original files are read anonymously: a refusal means the dataset has no open "
        "native files (check the dataset id and version at https://data.marine.copernicus.eu)")
DATE = re.compile(r"(?<!\d)(\d{8})(?!\d)")


def check_credentials(query: RemoteQuery, settings: Settings) -> None:
    """Nothing to check: native files are public."""


def search(query: RemoteQuery, settings: Settings) -> list[RemoteFile]:
    """Native files of a Copernicus Marine dataset, in key (date) order."""
    query.check_params(KNOWN)
    if query.bbox:
        log.warning("SOURCE %s: bbox ignored, Copernicus Marine original files are not split by area", query.source)
    client = HttpClient("Copernicus Marine", settings.remote, HINT)
    dataset = query.subname or query.name
    native = _native_href(client, query, dataset, settings.remote.cmems_config_url)
    parts = urlsplit(native)
    bucket, _, prefix = parts.path.strip("/").partition("/")
    endpoint = f"{parts.scheme}://{parts.netloc}"
    keys = _list_range(client, endpoint, bucket, prefix.rstrip("/") + "/", query)
    files = [RemoteFile(name=os.path.basename(key), url=f"{endpoint}/{bucket}/{quote(key)}")
             for key in keys if _in_range(os.path.basename(key), query)]
    log.info("Copernicus Marine %s: %d native files in range", dataset, len(files))
    return files


def _native_href(client: HttpClient, query: RemoteQuery, dataset: str, config_url: str) -> str:
    config, _ = client.get_json(config_url)
    catalogues = config.get("catalogues") or []
    if not catalogues:
        raise OceanlakeError(f"Copernicus Marine: {config_url} lists no catalogue")
    for catalogue in catalogues:
        for product in _products(client, catalogue, query, dataset):
            product_url = f"{catalogue['stac'].rstrip('/')}/{product}/product.stac.json"
            item_href = _dataset_item(client, product_url, dataset, query.first("version"))
            if item_href:
                item, _ = client.get_json(urljoin(product_url, item_href))
                href = ((item.get("assets") or {}).get("native") or {}).get("href")
                if not href:
                    raise SourceNotFound(f"SOURCE {query.source!r}: dataset {dataset} has no original files "
                                         "(no 'native' asset in its STAC item)")
                return href.split("?", 1)[0].rstrip("/")
    raise SourceNotFound(f"SOURCE {query.source!r}: dataset {dataset} (version {query.first('version') or 'latest'})"
                         " is not in the Copernicus Marine catalogue; check the id at https://data.marine.copernicus.eu")


def _products(client: HttpClient, catalogue: dict, query: RemoteQuery, dataset: str) -> list[str]:
    """Product ids to look the dataset up in: named in the SOURCE, else from the catalogue's id mapping."""
    if query.subname:
        return [query.name]
    if "product" in query.params:
        return [query.first("product")]
    mapping, _ = client.get_json(catalogue["idMapping"])
    value = mapping.get(dataset)
    return [p.strip() for p in value.split(",")] if value else []


def _dataset_item(client: HttpClient, product_url: str, dataset: str, version: str | None) -> str | None:
    """Relative href of the dataset's STAC item (newest version, or ``version``), or None."""
    try:
        product, _ = client.get_json(product_url)
    except SourceNotFound:
        return None
    pattern = re.compile(rf"(?:\./)?{re.escape(dataset)}_(\d{{6}})/dataset\.stac\.json")
    found = {}
    for link in product.get("links") or []:
        hit = pattern.fullmatch(link.get("href") or "")
        if link.get("rel") == "item" and hit:
            found[hit.group(1)] = link["href"]
    if version:
        return found.get(version)
    return found[max(found)] if found else None


def _list_range(client: HttpClient, endpoint: str, bucket: str, prefix: str, query: RemoteQuery) -> list[str]:
    """Keys under ``prefix``; only the ``YYYY/MM/`` folders of the time range when it is bounded."""
    if query.start and query.end:
        keys = [k for year, month in months(query.start, query.end)
                for k in list_objects(client, endpoint, bucket, f"{prefix}{year:04d}/{month:02d}/")]
        if keys:
            return keys
        log.info("Copernicus Marine: no YYYY/MM folders under %s, listing it all", prefix)
    return list_objects(client, endpoint, bucket, prefix)


def list_objects(client: HttpClient, endpoint: str, bucket: str, prefix: str) -> list[str]:
    """All keys under ``prefix`` (S3 ListObjectsV2, path style, unsigned, every page)."""
    keys: list[str] = []
    token: str | None = None
    while True:
        params = {"list-type": "2", "prefix": prefix, **({"continuation-token": token} if token else {})}
        root = ET.fromstring(client.get_text(f"{endpoint}/{bucket}?{urlencode(params)}"))
        keys += [el.text for el in root.iter() if _local(el.tag) == "Key" and el.text and not el.text.endswith("/")]
        truncated = next((el.text for el in root if _local(el.tag) == "IsTruncated"), "false")
        token = next((el.text for el in root if _local(el.tag) == "NextContinuationToken"), None)
        if truncated != "true" or not token:
            return sorted(keys)


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def _in_range(name: str, query: RemoteQuery) -> bool:
    hit = DATE.search(name)
    if not hit or not (query.start or query.end):
        return True
    try:
        day = datetime.strptime(hit.group(1), "%Y%m%d")
    except ValueError:
        return True
    start = query.start.replace(hour=0, minute=0, second=0, microsecond=0) if query.start else None
    return (start is None or day >= start) and (query.end is None or day <= query.end)


def download(url: str, name: str, folder: Path, settings: Settings) -> Path:
    """Download one native file into ``folder`` (anonymous)."""
    return HttpClient("Copernicus Marine", settings.remote, HINT).download(url, folder / name)
