"""Turn SOURCE arguments into files: a file, a folder, a glob, an ``s3://`` prefix or an Argo GDAC mirror.

Catalogue searches (``cmr://``, ``cdse://``, ``cmems://``) are delegated to :mod:`tasks.remote`.

Remote files (S3, HTTP) are fetched to a private temporary copy so readers always open a local
path; the copy is deleted once the file has been ingested or quarantined.
"""

from __future__ import annotations

import contextlib
import fnmatch
import glob
import hashlib
import logging
import os
import shutil
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import fsspec

from tasks import remote
from tasks.config import Settings
from tasks.errors import SourceNotFound

log = logging.getLogger(__name__)

GDAC_INDEX_FILES = {
    "core": "ar_index_global_prof.txt.gz",
    "synthetic": "argo_synthetic-profile_index.txt.gz",
    "bio": "argo_bio-profile_index.txt.gz",
}


@dataclass(frozen=True)
class IndexFilter:
    """Selection applied to a GDAC index (all optional)."""

    wmo: tuple[str, ...] = ()
    start: str | None = None
    end: str | None = None
    bbox: tuple[float, float, float, float] | None = None  # lon_min, lat_min, lon_max, lat_max
    index: str = "synthetic"


def _is_url(source: str) -> bool:
    return "://" in source


def _matches(name: str, patterns: tuple[str, ...]) -> bool:
    return any(fnmatch.fnmatch(name, p) for p in patterns)


def _filesystem(url: str, settings: Settings) -> fsspec.AbstractFileSystem:
    protocol = url.split("://", 1)[0]
    if protocol == "s3":
        return fsspec.filesystem("s3", **settings.s3.storage_options())
    return fsspec.filesystem(protocol)


def _gdac_files(root: str, selection: IndexFilter, settings: Settings) -> list[str]:
    from tasks.readers.argo_index import filter_index, read_gdac_index

    index_name = GDAC_INDEX_FILES[selection.index]
    index_url = f"{root.rstrip('/')}/{index_name}"
    fs = _filesystem(index_url, settings)
    try:
        with fs.open(index_url, "rb") as fh:
            index = read_gdac_index(fh)
    except FileNotFoundError as exc:
        raise SourceNotFound(f"{root} does not look like an Argo GDAC mirror: {index_name} not found") from exc
    box = None
    if selection.bbox:  # ours: lon_min, lat_min, lon_max, lat_max -> argopy's lon_min, lon_max, lat_min, lat_max
        lon_min, lat_min, lon_max, lat_max = selection.bbox
        box = (lon_min, lon_max, lat_min, lat_max)
    index = filter_index(index, wmo=list(selection.wmo) or None, start=selection.start, end=selection.end, bbox=box)
    log.info("GDAC %s: %d profiles selected from %s", root, index.num_rows, index_name)
    return [f"{root.rstrip('/')}/dac/{name}" for name in index.column("file").to_pylist()]


def discover(sources: list[str], patterns: tuple[str, ...], settings: Settings,
             gdac: IndexFilter | None = None) -> list[str]:
    """Expand SOURCE arguments into a sorted, de-duplicated list of file paths/URLs.

    Args:
        sources: files, folders (searched recursively), globs, ``s3://bucket/prefix``, an
            ``http(s)://`` Argo GDAC mirror root (its index selects the files) or a remote catalogue
            search (``cmr://``, ``cdse://``, ``cmems://``, see :mod:`tasks.remote`).
        patterns: file-name globs of the source kind (e.g. ``("*.nc",)``), applied to folders,
            prefixes and globs; an explicitly named file is always taken.
        settings: credentials for S3.
        gdac: index selection for GDAC mirrors.

    Raises:
        SourceNotFound: when a SOURCE matches nothing.
    """
    found: list[str] = []
    for source in sources:
        matched: list[str]
        if remote.is_remote_source(source):  # cmr://, cdse://, cmems:// catalogue searches
            matched = remote.discover(source, patterns, settings)
        elif source.startswith(("http://", "https://")):
            matched = _gdac_files(source, gdac or IndexFilter(), settings)
        elif _is_url(source):
            fs = _filesystem(source, settings)
            path = source.split("://", 1)[1]
            if fs.isfile(path) or (fs.isdir(path) and _matches(os.path.basename(path.rstrip("/")), patterns)):
                matched = [source.rstrip("/")]
            else:
                found_paths = fs.find(path, withdirs=True) if not glob.has_magic(path) else fs.glob(path)
                matched = [f"s3://{p}" for p in _take_matching(found_paths, patterns)]
        elif glob.has_magic(source):
            matched = _take_matching(sorted(glob.glob(source, recursive=True)), patterns)
        elif os.path.isdir(source) and _matches(os.path.basename(source.rstrip("/")), patterns):
            matched = [source.rstrip("/")]  # a product folder named explicitly (e.g. a SEN3 SAFE folder)
        elif os.path.isdir(source):
            matched = _walk(source, patterns)
        elif os.path.isfile(source):
            matched = [source]
        else:
            raise SourceNotFound(f"SOURCE {source!r}: no such file, folder, glob match or URL")
        if not matched:
            raise SourceNotFound(f"SOURCE {source!r}: no file matching {', '.join(patterns)}")
        found.extend(os.path.abspath(m) if not _is_url(m) else m for m in matched)
    return sorted(dict.fromkeys(found))


def _take_matching(paths: list[str], patterns: tuple[str, ...]) -> list[str]:
    """Paths whose name matches, skipping the inside of matched folders (SAFE products)."""
    taken: list[str] = []
    for p in sorted(paths):
        if taken and p.startswith(taken[-1].rstrip("/") + "/"):
            continue
        if _matches(os.path.basename(p.rstrip("/")), patterns):
            taken.append(p.rstrip("/"))
    return taken


def _walk(folder: str, patterns: tuple[str, ...]) -> list[str]:
    """Files and product folders under ``folder`` whose name matches (product folders not entered)."""
    found = []
    for root, dirs, files in os.walk(folder):
        for d in [d for d in dirs if _matches(d, patterns)]:
            found.append(os.path.join(root, d))
            dirs.remove(d)
        found.extend(os.path.join(root, f) for f in files if _matches(f, patterns))
    return found


def sha256_file(path: str | Path, chunk: int = 1 << 20) -> str:
    """SHA-256 of a local file, hex; for a product folder, of its files' relative names and checksums."""
    path = Path(path)
    if path.is_dir():
        digest = hashlib.sha256()
        for member in sorted(p for p in path.rglob("*") if p.is_file()):
            digest.update(f"{member.relative_to(path).as_posix()}\0{sha256_file(member)}\n".encode())
        return digest.hexdigest()
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        while block := fh.read(chunk):
            digest.update(block)
    return digest.hexdigest()


def size_bytes(path: str | Path) -> int:
    """Size of a file, or the total size of a product folder, in bytes."""
    path = Path(path)
    if path.is_dir():
        return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())
    return path.stat().st_size


def fetch(url: str, settings: Settings) -> tuple[Path, Path | None]:
    """A local path for ``url`` and the temporary folder to delete afterwards (None for local files)."""
    if not _is_url(url):
        return Path(url), None
    if remote.is_remote_url(url):  # a granule found by a cmr://, cdse:// or cmems:// SOURCE
        return remote.fetch(url, _cache(settings), settings)
    tmp_dir = Path(tempfile.mkdtemp(prefix="fetch-", dir=_cache(settings)))
    target = tmp_dir / os.path.basename(url.rstrip("/"))
    try:
        fs = _filesystem(url, settings)
        if not url.startswith(("http://", "https://")) and fs.isdir(url):
            fs.get(url.rstrip("/") + "/", str(target), recursive=True)
        else:
            with fs.open(url, "rb") as src, open(target, "wb") as dst:
                shutil.copyfileobj(src, dst, length=1 << 20)
    except BaseException:
        shutil.rmtree(tmp_dir, ignore_errors=True)
        raise
    return target, tmp_dir


@contextlib.contextmanager
def local_copy(url: str, settings: Settings) -> Iterator[Path]:
    """A local path for ``url``: the file itself, or a temporary download removed on exit."""
    path, tmp_dir = fetch(url, settings)
    try:
        yield path
    finally:
        if tmp_dir is not None:
            shutil.rmtree(tmp_dir, ignore_errors=True)


def _cache(settings: Settings) -> Path:
    path = settings.cache_dir / "downloads"
    path.mkdir(parents=True, exist_ok=True)
    return path
