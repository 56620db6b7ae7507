"""Plain HTTP for the remote adapters (stdlib ``urllib``): retries, redirects with per-host auth, streamed downloads.

Redirects are followed here, one hop at a time, so that credentials go only where the adapter
allows: an ``auth`` callable gives the headers for each URL (bearer token for the catalogue's own
site, netrc basic auth for the login host, nothing for a pre-signed S3 URL). Cookies (Earthdata
Login sessions) are kept for the life of the client. Transient failures (HTTP 408/425/429/5xx,
connection resets, timeouts, truncated bodies) are retried with exponential backoff, honouring
``Retry-After``; after the last retry a :class:`~tasks.errors.TransientError` is raised, which the
flows' retry condition treats as transient.
"""

from __future__ import annotations

import http.client
import json
import logging
import netrc
import os
import re
import shutil
import time
import urllib.error
import urllib.request
from base64 import b64encode
from collections.abc import Callable, Mapping
from http.cookiejar import CookieJar
from pathlib import Path
from typing import TypeVar
from urllib.parse import parse_qsl, urlencode, urljoin, urlsplit, urlunsplit

from tasks.config import RemoteSettings
from tasks.errors import ConfigError, OceanlakeError, SourceNotFound, TransientError

log = logging.getLogger(__name__)

T = TypeVar("T")
Auth = Callable[[str], dict[str, str]]

RETRY_STATUS = frozenset({408, 425, 429, 500, 502, 503, 504})
REDIRECT_STATUS = frozenset({301, 302, 303, 307, 308})
MAX_REDIRECTS = 10
MAX_DELAY = 60.0  # seconds
CHUNK = 1 << 20
USER_AGENT = "oceanlake (remote acquisition; python urllib)"
SECRET_PARAM = re.compile(r"signature|token|credential|secret|password|api_?key|access_?key|^code$|^sig$",
                          re.IGNORECASE)  # query parameters masked in messages


class _Retryable(Exception):
    """A failure worth another attempt (internal; becomes TransientError after the last retry)."""

    def __init__(self, message: str, retry_after: float | None = None):
        super().__init__(message)
        self.retry_after = retry_after


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    """Redirects are followed by :meth:`HttpClient._follow`, hop by hop."""

    def redirect_request(self, req, fp, code, msg, headers, newurl):  # noqa: D102 - urllib hook
        return None


def host_of(url: str) -> str:
    """Host (lower case, with port) of ``url``."""
    return urlsplit(url).netloc.lower().rsplit("@", 1)[-1]


def same_site(url: str, other: str) -> bool:
    """True when both URLs are on the same host, or on sibling hosts of one parent domain.

    ``download.dataspace.copernicus.eu`` and ``zipper.dataspace.copernicus.eu`` are siblings;
    ``obdaac-tea.earthdatacloud.nasa.gov`` and a pre-signed ``*.s3.amazonaws.com`` URL are not.
    """
    a, b = urlsplit(url).hostname or "", urlsplit(other).hostname or ""
    if a == b:
        return True
    parts_a, parts_b = a.split("."), b.split(".")
    if len(parts_a) < 3 or len(parts_b) < 3 or parts_a[-1].isdigit() or parts_b[-1].isdigit():
        return False
    return parts_a[1:] == parts_b[1:]


def bearer_auth(token: str, site: str) -> Auth:
    """``Authorization: Bearer`` for URLs on the site of ``site`` (see :func:`same_site`), nothing elsewhere."""
    return lambda url: {"Authorization": f"Bearer {token}"} if same_site(url, site) else {}


def netrc_auth(path: Path | None) -> Auth:
    """HTTP basic auth from the netrc entry of each URL's host (like ``requests``), nothing for other hosts."""
    entries = _netrc_entries(path)

    def auth(url: str) -> dict[str, str]:
        entry = entries.get(urlsplit(url).hostname or "")
        if not entry:
            return {}
        return {"Authorization": "Basic " + b64encode(f"{entry[0]}:{entry[1]}".encode()).decode()}

    return auth


def netrc_has(path: Path | None, host: str) -> bool:
    """True when the netrc file at ``path`` has a login for ``host``."""
    return host in _netrc_entries(path)


def _netrc_entries(path: Path | None) -> dict[str, tuple[str, str]]:
    if path is None or not Path(path).is_file():
        return {}
    try:
        parsed = netrc.netrc(os.fspath(path))
    except (netrc.NetrcParseError, OSError) as exc:
        raise ConfigError(f"netrc file {path}: cannot be read ({exc.__class__.__name__}); fix it or set "
                          "OCEANLAKE_NETRC to another file") from None
    return {host: (login or "", password or "") for host, (login, _, password) in parsed.hosts.items()}


class HttpClient:
    """HTTP client of one remote service; error messages name the service and the credentials to check.

    Args:
        service: service name used in messages and logs (e.g. ``"NASA CMR"``).
        settings: retries, backoff and timeout.
        credentials_hint: what to check when the service refuses the credentials (names env vars,
            never their values).
    """

    def __init__(self, service: str, settings: RemoteSettings, credentials_hint: str = ""):
        self.service = service
        self.retries = settings.retries
        self.backoff = settings.backoff
        self.timeout = settings.timeout
        self.hint = credentials_hint
        self._opener = urllib.request.build_opener(_NoRedirect(), urllib.request.HTTPCookieProcessor(CookieJar()))

    def get_json(self, url: str, headers: Mapping[str, str] | None = None,
                 auth: Auth | None = None) -> tuple[dict | list, Mapping[str, str]]:
        """GET ``url`` and decode its JSON body; returns the body and the response headers."""
        return self._retrying(lambda: self._json(url, "GET", headers, None, auth))

    def post_form(self, url: str, fields: Mapping[str, str], refused: frozenset[int] = frozenset({401, 403})) -> dict:
        """POST a form (``application/x-www-form-urlencoded``) and decode the JSON answer.

        Args:
            url: endpoint.
            fields: form fields (may hold secrets: they are never logged).
            refused: statuses that mean "credentials refused" (raise ConfigError with the hint).
        """
        data = urlencode(dict(fields)).encode()
        headers = {"Content-Type": "application/x-www-form-urlencoded"}
        body, _ = self._retrying(lambda: self._json(url, "POST", headers, data, None, refused))
        return body

    def get_text(self, url: str, headers: Mapping[str, str] | None = None, auth: Auth | None = None) -> str:
        """GET ``url`` and return its body as text (UTF-8)."""

        def call() -> str:
            with self._open(url, "GET", headers, None, auth) as resp:
                return _read_all(resp).decode("utf-8")

        return self._retrying(call)

    def download(self, url: str, target: Path, auth: Auth | None = None) -> Path:
        """Stream ``url`` to ``target`` (through ``target.part``); a truncated body is retried."""
        part = target.with_name(target.name + ".part")

        def call() -> Path:
            with self._open(url, "GET", None, None, auth) as resp, open(part, "wb") as out:
                expected = resp.headers.get("Content-Length")
                try:
                    shutil.copyfileobj(resp, out, length=CHUNK)
                except (TimeoutError, http.client.IncompleteRead, ConnectionError) as exc:
                    raise _Retryable(f"download of {redact(url)} interrupted: {exc.__class__.__name__}") from None
                written = out.tell()
            if expected is not None and expected.isdigit() and int(expected) != written:
                raise _Retryable(f"download of {redact(url)} truncated: {written} of {expected} bytes")
            part.replace(target)
            return target

        try:
            return self._retrying(call)
        finally:
            part.unlink(missing_ok=True)

    # -- internals -------------------------------------------------------------------------------

    def _json(self, url, method, headers, data, auth, refused=frozenset({401, 403})):
        with self._open(url, method, headers, data, auth, refused) as resp:
            raw = _read_all(resp)
            response_headers = resp.headers
        try:
            return json.loads(raw), response_headers
        except ValueError:
            raise OceanlakeError(f"{self.service}: {redact(url)} did not answer JSON ({raw[:120]!r})") from None

    def _retrying(self, call: Callable[[], T]) -> T:
        attempt = 0
        while True:
            try:
                return call()
            except _Retryable as exc:
                if attempt >= self.retries:
                    raise TransientError(f"{self.service}: {exc} (gave up after {attempt + 1} attempts)") from None
                delay = min(MAX_DELAY, exc.retry_after if exc.retry_after is not None
                            else self.backoff * 2 ** attempt)
                log.warning("%s: %s; retry %d/%d in %.1f s", self.service, exc, attempt + 1, self.retries, delay)
                time.sleep(delay)
                attempt += 1

    def _open(self, url, method, headers, data, auth, refused=frozenset({401, 403})):
        """Open ``url``, following redirects hop by hop with the auth headers of each hop."""
        for _ in range(MAX_REDIRECTS + 1):
            request_headers = {"User-Agent": USER_AGENT, **(headers or {}), **(auth(url) if auth else {})}
            request = urllib.request.Request(url, data=data, method=method, headers=request_headers)
            try:
                return self._opener.open(request, timeout=self.timeout)
            except urllib.error.HTTPError as err:
                if err.code not in REDIRECT_STATUS or not err.headers.get("Location"):
                    raise self._error(err, url, refused) from None
                location = err.headers["Location"]
                err.close()
                url = urljoin(url, location)
                if err.code == 303 or (err.code in (301, 302) and method == "POST"):
                    method, data = "GET", None
            except (TimeoutError, urllib.error.URLError, http.client.HTTPException, ConnectionError) as exc:
                reason = getattr(exc, "reason", exc)
                raise _Retryable(f"{redact(url)}: {reason.__class__.__name__}: {reason}") from None
        raise OceanlakeError(f"{self.service}: more than {MAX_REDIRECTS} redirects from {redact(url)}")

    def _error(self, err: urllib.error.HTTPError, url: str, refused: frozenset[int]) -> Exception:
        """The exception for an HTTP error status (retryable, credentials refused, not found, other)."""
        code, shown = err.code, redact(url)
        body = _snippet(err)
        detail = f": {body}" if body else ""
        if code in RETRY_STATUS:
            return _Retryable(f"{shown}: HTTP {code} {err.reason}", _retry_after(err.headers.get("Retry-After")))
        if code in refused:
            return ConfigError(f"{self.service} refused the credentials for {shown} (HTTP {code} {err.reason}"
                               f"{detail}); {self.hint or 'check the credentials'}")
        if code in (404, 410):
            return SourceNotFound(f"{self.service}: {shown} not found (HTTP {code})")
        return OceanlakeError(f"{self.service}: HTTP {code} {err.reason} for {shown}{detail}")


def redact(url: str) -> str:
    """``url`` for messages: values of signature, token, key and credential query parameters masked."""
    parts = urlsplit(url)
    if not parts.query:
        return url
    pairs = [(k, "***" if SECRET_PARAM.search(k) else v) for k, v in parse_qsl(parts.query, keep_blank_values=True)]
    return urlunsplit(parts._replace(query=urlencode(pairs, safe="*/:,")))


def _read_all(resp) -> bytes:
    try:
        return resp.read()
    except (TimeoutError, http.client.IncompleteRead, ConnectionError) as exc:
        raise _Retryable(f"{redact(resp.url)}: body interrupted ({exc.__class__.__name__})") from None


def _snippet(err: urllib.error.HTTPError, size: int = 300) -> str:
    """Start of an error body, on one line (services explain refusals there: CMR errors, keycloak)."""
    try:
        text = err.read(size).decode("utf-8", "replace")
    except Exception:  # noqa: BLE001 - the body is only a hint
        return ""
    finally:
        err.close()
    return " ".join(text.split())


def _retry_after(value: str | None) -> float | None:
    if value is None:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        return None  # an HTTP date: fall back to the backoff
