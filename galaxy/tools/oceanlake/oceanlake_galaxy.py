#!/usr/bin/env python3
"""Glue between Galaxy jobs and the ``oceanlake`` command line (standard library only).

Galaxy hands a tool its inputs as ``dataset_<n>.dat`` files and keeps every output as one
dataset; ``oceanlake`` wants files under their real names (satellite product definitions read
the granule id, time and processing version from the file name) and a lake that outlives the
job. The subcommands below do that and nothing else; the science stays in ``oceanlake``.

``stage DEST --file PATH NAME EXT ...``
    Link each input dataset as ``DEST/<k>/<sanitised NAME>`` (``.nc`` appended to NetCDF/HDF5
    datasets whose name lost it); a ``zip`` dataset (a zipped ``*.SEN3`` folder) is extracted
    there instead, into a folder named after the archive when its members are not in one folder.
``unpack ARCHIVE DEST``
    Extract a lake archive (``pack``'s output) into DEST and point the DuckLake catalog at DEST:
    DuckLake stores the absolute data path of the lake in its catalog, every other path is
    relative, so rewriting that one value makes the lake relocatable between Galaxy jobs.
``pack LAKE ARCHIVE``
    Write the lake folder (catalog, Parquet tables, Icechunk cubes) as one zip archive.
``shared-lake URI``
    Print the shared lake to use (URI, else the server's ``OCEANLAKE_LAKE``) after checking it
    against what the Galaxy administrator allows (``OCEANLAKE_GALAXY_LAKES``) and that an
    ``s3://`` lake has a shared catalog (``OCEANLAKE_CATALOG``).
``field JSON KEY``
    Print one top-level field of a JSON run summary (e.g. ``run_id``).

Exit status 1 with a one-line message on stderr on any refusal, so Galaxy marks the job failed.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sqlite3
import sys
import zipfile
from collections.abc import Mapping
from pathlib import Path, PurePosixPath

#: Name of the DuckLake catalog inside a local lake (``tasks.config`` default ``<lake>/catalog.sqlite``).
CATALOG = "catalog.sqlite"
#: Small JSON file written at the root of every lake archive, so an archive can be recognised.
MANIFEST = "oceanlake-lake.json"
ARCHIVE_FORMAT = {"format": "oceanlake-lake-archive", "version": 1, "catalog": CATALOG, "tables": "tables/",
                  "cubes": "cubes/"}
#: Galaxy datatypes staged as NetCDF files, and the suffixes that already say so.
NETCDF_TYPES = {"netcdf", "h5"}
NETCDF_SUFFIXES = (".nc", ".nc4", ".cdf", ".h5", ".he5")


class GalaxyGlueError(Exception):
    """Raised when an input, an archive or a lake setting is refused; the message says what to do."""


def safe_name(name: str, fallback: str = "dataset") -> str:
    """A file name made of letters, digits, ``.``, ``_`` and ``-`` only (no path, no leading dot).

    Args:
        name: Galaxy element identifier or dataset name.
        fallback: name used when nothing usable is left.

    Returns:
        The sanitised name.
    """
    base = PurePosixPath(name.replace("\\", "/")).name
    cleaned = re.sub(r"[^A-Za-z0-9._-]", "_", base).lstrip(".")
    return cleaned or fallback


def _safe_extract(archive: zipfile.ZipFile, dest: Path) -> None:
    root = dest.resolve()
    for member in archive.namelist():
        target = (dest / member).resolve()
        if target != root and root not in target.parents:
            raise GalaxyGlueError(f"archive member {member!r} would be written outside {dest}; refusing the archive")
    archive.extractall(dest)


def stage(dest: Path, files: list[tuple[str, str, str]]) -> list[Path]:
    """Place Galaxy datasets under their real names, one sub-folder per dataset.

    Args:
        dest: staging folder (created).
        files: ``(path, name, galaxy_ext)`` per dataset.

    Returns:
        The staged files or extracted folders, in input order.
    """
    staged = []
    for k, (path, name, ext) in enumerate(files):
        folder = dest / str(k)
        folder.mkdir(parents=True, exist_ok=True)
        clean = safe_name(name, fallback=f"dataset_{k}")
        if ext == "zip":
            staged.append(_stage_zip(Path(path), folder, clean))
            continue
        if ext in NETCDF_TYPES and not clean.lower().endswith(NETCDF_SUFFIXES):
            clean += ".nc"
        link = folder / clean
        link.symlink_to(os.path.abspath(path))
        staged.append(link)
    return staged


def _stage_zip(path: Path, folder: Path, name: str) -> Path:
    with zipfile.ZipFile(path) as archive:
        tops = {PurePosixPath(m).parts[0] for m in archive.namelist() if PurePosixPath(m).parts}
        nested = len(tops) == 1 and any(m.endswith("/") or "/" in m for m in archive.namelist())
        target = folder if nested else folder / re.sub(r"\.zip$", "", name, flags=re.IGNORECASE)
        target.mkdir(parents=True, exist_ok=True)
        _safe_extract(archive, target)
    return folder / tops.pop() if nested else target


def pack(lake: Path, archive_path: Path) -> int:
    """Zip a local lake folder (catalog, tables, cubes) with a manifest at its root.

    Args:
        lake: the lake folder.
        archive_path: zip file to write.

    Returns:
        Number of files archived (manifest excluded).
    """
    if not (lake / CATALOG).is_file():
        raise GalaxyGlueError(f"{lake} has no {CATALOG}: not a local oceanlake lake (nothing was ingested?)")
    _checkpoint(lake / CATALOG)
    wal_files = {lake / f"{CATALOG}-wal", lake / f"{CATALOG}-shm"}
    count = 0
    with zipfile.ZipFile(archive_path, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.writestr(MANIFEST, json.dumps(ARCHIVE_FORMAT, indent=1) + "\n")
        for path in sorted(p for p in lake.rglob("*") if p.is_file() and p not in wal_files):
            archive.write(path, path.relative_to(lake).as_posix())
            count += 1
    return count


def _checkpoint(catalog: Path) -> None:
    """Move the catalog's write-ahead log into the file itself (lakes keep SQLite catalogs in WAL mode)."""
    con = sqlite3.connect(catalog, timeout=30)
    try:
        busy = con.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()[0]
    finally:
        con.close()
    if busy:
        raise GalaxyGlueError(f"{catalog} is being written by another process; pack the lake once it has finished")


def unpack(archive_path: Path, dest: Path) -> str:
    """Extract a lake archive into ``dest`` and make its DuckLake catalog point at ``dest/tables/``.

    Args:
        archive_path: zip written by :func:`pack`.
        dest: folder to extract into (created).

    Returns:
        The new DuckLake data path.
    """
    if not zipfile.is_zipfile(archive_path):
        raise GalaxyGlueError(f"{archive_path} is not a zip archive: choose the 'lake' output of an oceanlake tool")
    dest.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(archive_path) as archive:
        names = set(archive.namelist())
        if CATALOG not in names:
            raise GalaxyGlueError(f"{archive_path} has no {CATALOG} at its root: not an oceanlake lake archive "
                                  "(choose the 'lake' output of an oceanlake tool)")
        _safe_extract(archive, dest)
    (dest / MANIFEST).unlink(missing_ok=True)
    data_path = str(dest.resolve() / "tables") + "/"
    with sqlite3.connect(dest / CATALOG) as con:
        updated = con.execute("UPDATE ducklake_metadata SET value = ? WHERE key = 'data_path'", (data_path,)).rowcount
    con.close()
    if updated != 1:
        raise GalaxyGlueError(f"{archive_path}: the catalog has no DuckLake data_path; not an oceanlake lake archive")
    return data_path


def _allowed(uri: str, prefixes: list[str]) -> bool:
    return any(uri == p.rstrip("/") or uri.startswith(p.rstrip("/") + "/") for p in prefixes)


def shared_lake(uri: str, env: Mapping[str, str]) -> str:
    """The shared lake a job may use: ``uri`` if the administrator allows it, else ``OCEANLAKE_LAKE``.

    Args:
        uri: the tool's lake parameter (may be empty).
        env: job environment (``OCEANLAKE_LAKE``, ``OCEANLAKE_GALAXY_LAKES``, ``OCEANLAKE_CATALOG``).

    Returns:
        The lake root (``s3://bucket/prefix`` or an absolute path).
    """
    default = env.get("OCEANLAKE_LAKE", "").strip()
    uri = uri.strip().rstrip("/")
    prefixes = [p for p in re.split(r"[\s,]+", env.get("OCEANLAKE_GALAXY_LAKES", "")) if p]
    lake = uri or default
    if not lake:
        raise GalaxyGlueError("no shared lake: give its URI, or ask the Galaxy administrator to set OCEANLAKE_LAKE "
                              "in the job environment (see galaxy/README.md)")
    if uri and uri != default.rstrip("/") and not _allowed(uri, prefixes):
        allowed = ", ".join(prefixes) or "only the default lake"
        raise GalaxyGlueError(f"lake {uri!r} is not allowed on this server (allowed: {allowed}); the administrator "
                              "lists allowed lake prefixes in OCEANLAKE_GALAXY_LAKES")
    if lake.startswith("s3://"):
        if not env.get("OCEANLAKE_CATALOG"):
            raise GalaxyGlueError(f"lake {lake!r} is on object storage but no shared DuckLake catalog is set: the "
                                  "administrator sets OCEANLAKE_CATALOG=postgres:... in the job environment, "
                                  "otherwise every job would write to its own private catalog")
    elif "://" in lake or not os.path.isabs(lake):
        raise GalaxyGlueError(f"lake {lake!r}: use s3://bucket/prefix or an absolute path on a shared file system")
    return lake


def field(summary: Path, key: str) -> str:
    """One top-level field of a JSON run summary, as text.

    Args:
        summary: JSON file printed by ``oceanlake ... --json``.
        key: field name.

    Returns:
        The value as text.
    """
    data = json.loads(summary.read_text())
    if key not in data:
        raise GalaxyGlueError(f"{summary}: no {key!r} in the run summary (fields: {', '.join(sorted(data))})")
    return str(data[key])


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("stage", help="place input datasets under their real names")
    p.add_argument("dest", type=Path)
    p.add_argument("--file", nargs=3, action="append", default=[], metavar=("PATH", "NAME", "EXT"))
    p = sub.add_parser("unpack", help="extract a lake archive and relocate its catalog")
    p.add_argument("archive", type=Path)
    p.add_argument("dest", type=Path)
    p = sub.add_parser("pack", help="zip a lake folder")
    p.add_argument("lake", type=Path)
    p.add_argument("archive", type=Path)
    p = sub.add_parser("shared-lake", help="check and print the shared lake")
    p.add_argument("uri", nargs="?", default="")
    p = sub.add_parser("field", help="print a field of a JSON run summary")
    p.add_argument("summary", type=Path)
    p.add_argument("key")
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run one subcommand; return the process exit status."""
    args = _parser().parse_args(argv)
    try:
        if args.command == "stage":
            out = [str(p) for p in stage(args.dest, [tuple(f) for f in args.file])]
        elif args.command == "unpack":
            out = [unpack(args.archive, args.dest)]
        elif args.command == "pack":
            out = [f"{pack(args.lake, args.archive)} files archived"]
        elif args.command == "shared-lake":
            out = [shared_lake(args.uri, os.environ)]
        else:
            out = [field(args.summary, args.key)]
    except (GalaxyGlueError, OSError, zipfile.BadZipFile, sqlite3.Error, json.JSONDecodeError) as exc:
        sys.stderr.write(f"error: {exc}\n")
        return 1
    stream = sys.stderr if args.command in ("stage", "unpack", "pack") else sys.stdout
    stream.write("\n".join(out) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
