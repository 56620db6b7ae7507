"""``cdse://<collection>?...``: Copernicus Data Space Ecosystem OData search and product download (OLCI).

1. ``GET {catalogue}/Products?$filter=Collection/Name eq 'SENTINEL-3' and <product type> and
   ContentDate/Start ge ... and OData.CSC.Intersects(area=geography'SRID=4326;POLYGON(...)')
   &$orderby=ContentDate/Start asc&$top=...``; further pages follow ``@odata.nextLink``.
2. An access token from the CDSE Keycloak token endpoint (password grant, client ``cdse-public``)
   with ``OCEANLAKE_CDSE_USER`` / ``OCEANLAKE_CDSE_PASSWORD``; kept until shortly before it expires.
3. ``GET {download}/Products(<Id>)/$value`` with ``Authorization: Bearer``: a zip of the SAFE folder
   (``*.SEN3``), unpacked next to it so the reader sees the folder.
"""

from __future__ import annotations

import logging
import threading
import time
import zipfile
from pathlib import Path
from urllib.parse import quote, urlencode

from tasks.config import RemoteSettings, Settings
from tasks.errors import ConfigError, InvalidFile
from tasks.remote.base import RemoteFile
from tasks.remote.http import HttpClient, bearer_auth
from tasks.remote.query import RemoteQuery, iso, number

log = logging.getLogger(__name__)

CLIENT_ID = "cdse-public"
PAGE_SIZE = 100  # the catalogue accepts up to 1000
KNOWN = frozenset({"product_type", "contains", "filter", "page_size"})
HINT = ("check OCEANLAKE_CDSE_USER and OCEANLAKE_CDSE_PASSWORD (an account of https://dataspace.copernicus.eu; "
        "accounts with two-factor authentication cannot use the password grant)")
TOKEN_MARGIN = 30.0  # seconds: renew a token this long before it expires

_tokens: dict[tuple[str, str], tuple[str, float]] = {}
_tokens_lock = threading.Lock()


def check_credentials(query: RemoteQuery, settings: Settings) -> None:
    """Fail before searching when downloads could not be authenticated: get (and keep) a token.

    Raises:
        ConfigError: credentials missing or refused (the message names the env vars).
    """
    access_token(settings.remote)


def search(query: RemoteQuery, settings: Settings) -> list[RemoteFile]:
    """Online products of a CDSE collection, all pages, in sensing-start order."""
    query.check_params(KNOWN)
    remote = settings.remote
    client = HttpClient("CDSE catalogue", remote)
    page_size = min(int(query.first("page_size") or PAGE_SIZE), 1000)
    params = {"$filter": odata_filter(query), "$orderby": "ContentDate/Start asc", "$top": str(page_size)}
    url: str | None = f"{remote.cdse_catalogue_url}/Products?{urlencode(params, quote_via=quote)}"
    files: list[RemoteFile] = []
    while url:
        body, _ = client.get_json(url)
        for product in body.get("value") or []:
            if product.get("Online") is False:
                log.warning("CDSE %s: %s is offline (long-term archive), skipped", query.name, product.get("Name"))
                continue
            files.append(RemoteFile(name=product["Name"],
                                    url=f"{remote.cdse_download_url}/Products({product['Id']})/$value"))
        url = body.get("@odata.nextLink")
    log.info("CDSE %s: %d online products", query.name, len(files))
    return files


def odata_filter(query: RemoteQuery) -> str:
    """The OData ``$filter`` of a ``cdse://`` SOURCE."""
    clauses = [f"Collection/Name eq {_literal(query.name)}"]
    for product_type in query.params.get("product_type", []):
        clauses.append("Attributes/OData.CSC.StringAttribute/any(att:att/Name eq 'productType' and "
                       f"att/OData.CSC.StringAttribute/Value eq {_literal(product_type)})")
    clauses += [f"contains(Name,{_literal(text)})" for text in query.params.get("contains", [])]
    if query.start:
        clauses.append(f"ContentDate/Start ge {iso(query.start)}")
    if query.end:
        clauses.append(f"ContentDate/Start le {iso(query.end)}")
    if query.bbox:
        west, south, east, north = (number(v) for v in query.bbox)
        ring = f"{west} {south},{east} {south},{east} {north},{west} {north},{west} {south}"
        clauses.append(f"OData.CSC.Intersects(area=geography'SRID=4326;POLYGON(({ring}))')")
    clauses += [f"({extra})" for extra in query.params.get("filter", [])]
    return " and ".join(clauses)


def _literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def access_token(remote: RemoteSettings, renew: bool = False) -> str:
    """A CDSE access token for the configured user (cached per token endpoint and user).

    Raises:
        ConfigError: user or password missing, or refused by the token endpoint.
    """
    if not remote.cdse_user or not remote.cdse_password:
        raise ConfigError("CDSE downloads need an account: set OCEANLAKE_CDSE_USER and OCEANLAKE_CDSE_PASSWORD "
                          "(register at https://dataspace.copernicus.eu)")
    key = (remote.cdse_token_url, remote.cdse_user)
    with _tokens_lock:
        cached = _tokens.get(key)
        if cached and not renew and cached[1] > time.monotonic():
            return cached[0]
        client = HttpClient("CDSE login", remote, HINT)
        answer = client.post_form(remote.cdse_token_url, {
            "client_id": CLIENT_ID, "grant_type": "password", "username": remote.cdse_user,
            "password": remote.cdse_password}, refused=frozenset({400, 401, 403}))
        token = answer.get("access_token")
        if not token:
            raise ConfigError(f"CDSE login: the token endpoint {remote.cdse_token_url} gave no access_token; {HINT}")
        lifetime = float(answer.get("expires_in") or 600)
        _tokens[key] = (token, time.monotonic() + max(0.0, lifetime - TOKEN_MARGIN))
        log.info("CDSE login: token for %s valid %d s", remote.cdse_user, lifetime)
        return token


def forget_tokens() -> None:
    """Drop the cached access tokens (tests, or after a password change)."""
    with _tokens_lock:
        _tokens.clear()


def download(url: str, name: str, folder: Path, settings: Settings) -> Path:
    """Download one product and unpack it into ``folder/<name>``; a refused token is renewed once."""
    remote = settings.remote
    client = HttpClient("CDSE download", remote, HINT)
    archive = folder / f"{name}.zip"
    try:
        client.download(url, archive, auth=bearer_auth(access_token(remote), url))
    except ConfigError:  # the token may have been revoked or expired early: one fresh login
        log.info("CDSE download: token refused for %s, logging in again", name)
        client.download(url, archive, auth=bearer_auth(access_token(remote, renew=True), url))
    return unpack(archive, name)


def unpack(archive: Path, name: str) -> Path:
    """Unpack a product zip next to it as ``<name>`` (a SAFE folder); a non-zip is renamed to ``name``.

    Raises:
        InvalidFile: a corrupt zip, or one whose members would land outside the folder.
    """
    folder, target = archive.parent, archive.parent / name
    if not zipfile.is_zipfile(archive):
        archive.replace(target)
        return target
    try:
        with zipfile.ZipFile(archive) as zf:
            members = [m for m in zf.namelist() if not m.endswith("/")]
            inside = all(m.startswith(f"{name}/") for m in members)
            root = folder if inside else target  # zips of CDSE hold the SAFE folder itself
            base = root.resolve()
            for member in members:
                if not (root / member).resolve().is_relative_to(base):
                    raise InvalidFile(f"{archive.name}: member {member!r} points outside the product folder")
            zf.extractall(root)
    except zipfile.BadZipFile as exc:
        raise InvalidFile(f"{archive.name}: corrupt zip ({exc})") from None
    finally:
        archive.unlink(missing_ok=True)
    return target
