"""Remote acquisition adapters behind the SOURCE interface: ``cmr://``, ``cdse://``, ``cmems://``.

A remote SOURCE is a catalogue search (see ``docs/remote-sources.md``)::

    cmr://PACE_OCI_L3M_CHL?start=2024-06-14&end=2024-06-15&match=*.DAY.*.0p1deg.nc
    cdse://SENTINEL-3?product_type=OL_2_WFR___&start=2024-06-14&end=2024-06-14&bbox=-6,43,-2,46
    cmems://cmems_obs-oc_glo_bgc-plankton_my_l3-multi-4km_P1D?start=2024-06-14&end=2024-06-15

:func:`discover` runs the search and returns one *granule URL* per file, ``<scheme>+<https URL>``
(plus ``#<name>`` when the URL does not end with the file name, as for CDSE products), which is
recorded as the granule's ``source_file``; :func:`fetch` downloads it with the scheme's
credentials. Only the standard library is used (no earthaccess, eumdac or copernicusmarine).
"""

from __future__ import annotations

import logging
import os
import shutil
import tempfile
from pathlib import Path
from types import ModuleType
from urllib.parse import urlsplit

from tasks.config import Settings
from tasks.errors import ConfigError, SourceNotFound
from tasks.remote import cdse, cmems, cmr
from tasks.remote.base import RemoteFile
from tasks.remote.query import RemoteQuery, parse

log = logging.getLogger(__name__)

#: Scheme of a remote SOURCE -> its adapter (``check_credentials``, ``search``, ``download``).
ADAPTERS: dict[str, ModuleType] = {"cmr": cmr, "cdse": cdse, "cmems": cmems}

__all__ = ["ADAPTERS", "RemoteFile", "RemoteQuery", "adapter", "discover", "fetch", "is_remote_source",
           "is_remote_url", "parse"]


def _scheme(text: str) -> str:
    return text.split("://", 1)[0].lower() if "://" in text else ""


def is_remote_source(source: str) -> bool:
    """True for a catalogue search SOURCE (``cmr://``, ``cdse://``, ``cmems://``)."""
    return _scheme(source) in ADAPTERS


def is_remote_url(url: str) -> bool:
    """True for a granule URL returned by :func:`discover` (``cmr+https://...``)."""
    scheme, _, transport = _scheme(url).partition("+")
    return scheme in ADAPTERS and transport in ("http", "https")


def adapter(scheme: str) -> ModuleType:
    """The adapter module of ``scheme``.

    Raises:
        ConfigError: unknown scheme (the message lists the valid ones).
    """
    try:
        return ADAPTERS[scheme]
    except KeyError:
        raise ConfigError(f"unknown remote scheme {scheme!r}; valid: {', '.join(s + '://' for s in ADAPTERS)}") \
            from None


def discover(source: str, patterns: tuple[str, ...], settings: Settings) -> list[str]:
    """Search a remote catalogue and return the granule URLs whose file names match ``patterns``.

    Args:
        source: a remote SOURCE string.
        patterns: file-name globs of the product (its definition's ``file_patterns``).
        settings: endpoints, credentials and HTTP retry settings.

    Raises:
        ConfigError: malformed SOURCE, or credentials missing or refused.
        SourceNotFound: nothing found, or nothing matching ``patterns`` (the message says which).
        TransientError: the catalogue kept failing after the retries.
    """
    query = parse(source)
    module = adapter(query.scheme)
    module.check_credentials(query, settings)
    found = module.search(query, settings)
    if not found:
        raise SourceNotFound(f"SOURCE {source!r}: the catalogue found no granule (check the name, dates and box)")
    selected = list(dict.fromkeys(f for f in found if query.selects(f.name, patterns)))
    if not selected:
        examples = ", ".join(f.name for f in found[:3])
        wanted = ", ".join(patterns + query.match)
        raise SourceNotFound(f"SOURCE {source!r}: {len(found)} files found (e.g. {examples}), none matching {wanted}")
    if query.limit:
        selected = selected[:query.limit]
    log.info("SOURCE %s: %d of %d files selected", source, len(selected), len(found))
    return [granule_url(query.scheme, f) for f in selected]


def granule_url(scheme: str, found: RemoteFile) -> str:
    """``<scheme>+<url>``, with ``#<name>`` when the URL's last path segment is not the file name."""
    url = f"{scheme}+{found.url}"
    return url if os.path.basename(urlsplit(found.url).path) == found.name else f"{url}#{found.name}"


def fetch(url: str, cache_dir: Path, settings: Settings) -> tuple[Path, Path]:
    """Download a granule URL into a new temporary folder under ``cache_dir``.

    Args:
        url: a granule URL from :func:`discover`.
        cache_dir: parent of the temporary folder (the download cache).
        settings: endpoints, credentials and HTTP retry settings.

    Returns:
        The local file or product folder, and the temporary folder to delete afterwards.
    """
    scheme, _, real = url.partition("+")
    real, _, name = real.partition("#")
    name = name or os.path.basename(urlsplit(real).path)
    if not name or name in (".", "..") or "/" in name:
        raise ConfigError(f"granule URL {url!r}: no usable file name")
    tmp_dir = Path(tempfile.mkdtemp(prefix="fetch-", dir=cache_dir))
    try:
        path = adapter(scheme.lower()).download(real, name, tmp_dir, settings)
    except BaseException:
        shutil.rmtree(tmp_dir, ignore_errors=True)
        raise
    return path, tmp_dir
