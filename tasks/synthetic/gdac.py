"""The demo data set: a GDAC-like Argo tree with its index files, and HYPERNETS site folders."""

from __future__ import annotations

import gzip
from datetime import UTC, datetime, timedelta
from pathlib import Path

from ._common import CREATED, SAMPLE_START
from .argo import data_modes, float_track, write_argo_profile, write_argo_sprof
from .argo_vars import BGC_PARAMS
from .hypernets import write_hypernets_l2a

#: Start positions (degree_north, degree_east) of the sample floats, used in turn.
_FLOATS = [(34.2, 26.0), (43.5, 7.5), (-20.0, 60.0), (10.0, -30.0)]
#: Sample HYPERNETS/PANTHYR sites: code, latitude (degree_north), longitude (degree_east).
_SITES = [
    ("VEIT", 45.3142, 12.5083),
    ("O1BE", 51.2464, 2.9193),
    ("GAIT", 45.577, 10.5794),
    ("MAFR", 45.5477, -1.0405),
]
#: GDAC index files: kind -> (file name, title, description, format version, column line).
_INDEXES = {
    "core": (
        "ar_index_global_prof.txt.gz",
        "Profile directory file of the Argo Global Data Assembly Center",
        "The directory file describes all individual profile files of the argo GDAC ftp site.",
        "2.0",
        "file,date,latitude,longitude,ocean,profiler_type,institution,date_update",
    ),
    "bgc-s": (
        "argo_synthetic-profile_index.txt.gz",
        "Synthetic-Profile directory file of the Argo Global Data Assembly Center",
        "The directory file describes all individual synthetic-profile files of the argo GDAC ftp site.",
        "2.2",
        "file,date,latitude,longitude,ocean,profiler_type,institution,parameters,parameter_data_mode,date_update",
    ),
}


def write_sample_dataset(
    out_dir: str | Path,
    n_floats: int = 3,
    n_profiles: int = 20,
    n_sites: int = 2,
    n_sequences: int = 10,
    seed: int = 0,
    with_index: bool = True,
) -> dict[str, list[Path]]:
    """Write the demo data set: a GDAC-like Argo tree and HYPERNETS water L2A files.

    Layout: ``argo/dac/coriolis/<wmo>/<wmo>_Sprof.nc``; with ``with_index`` also the single-cycle
    files ``argo/dac/coriolis/<wmo>/profiles/{R,SR}<wmo>_<ccc>.nc`` and the GDAC index files
    ``argo/ar_index_global_prof.txt.gz`` and ``argo/argo_synthetic-profile_index.txt.gz`` listing
    them (so ``argo/`` can be served as a GDAC mirror); ``hypernets/<SITE>/<file>.nc``.

    Args:
        out_dir: output folder.
        n_floats: number of floats (WMO 6990001, 6990002, ...).
        n_profiles: cycles per float, one every 10 days from 2024-03-01.
        n_sites: number of HYPERNETS sites.
        n_sequences: files per site, four a day two hours apart.
        seed: random seed.
        with_index: also write the single-cycle files and the GDAC index files.

    Returns:
        ``{"argo_sprof": [...], "argo_profiles": [...], "argo_index": [...], "hypernets": [...]}``.

    """
    out = Path(out_dir)
    files: dict[str, list[Path]] = {"argo_sprof": [], "argo_profiles": [], "argo_index": [], "hypernets": []}
    rows: dict[str, list[str]] = {"core": [], "bgc-s": []}
    for i in range(n_floats):
        wmo = f"{6990001 + i}"
        lat0, lon0 = _FLOATS[i % len(_FLOATS)]
        float_dir = out / "argo" / "dac" / "coriolis" / wmo
        float_dir.mkdir(parents=True, exist_ok=True)
        files["argo_sprof"].append(write_argo_sprof(float_dir, wmo, n_profiles, SAMPLE_START, lat0, lon0, seed))
        if with_index:
            files["argo_profiles"] += _write_float_profiles(float_dir, wmo, n_profiles, lat0, lon0, seed, rows)
    if with_index:
        files["argo_index"] = [_write_index(out / "argo", kind, rows[kind]) for kind in ("core", "bgc-s")]
    for j in range(n_sites):
        files["hypernets"] += _write_site(out / "hypernets", j, n_sequences, seed)
    return files


def _write_float_profiles(
    float_dir: Path, wmo: str, n_profiles: int, lat0: float, lon0: float, seed: int, rows: dict[str, list[str]]
) -> list[Path]:
    """Write the core and S single-cycle files of one float; append their index rows to ``rows[kind]``."""
    (float_dir / "profiles").mkdir(exist_ok=True)
    paths = []
    for cycle, t, lat, lon in float_track(wmo, n_profiles, SAMPLE_START, lat0, lon0, seed):
        date = t.strftime("%Y%m%d%H%M%S")
        for kind in ("core", "bgc-s"):
            modes = data_modes(cycle, n_profiles, kind)
            p = write_argo_profile(float_dir / "profiles", wmo, cycle, t, lat, lon, seed, kind, modes)
            paths.append(p)
            row = [
                f"coriolis/{wmo}/profiles/{p.name}",
                date,
                f"{lat:.3f}",
                f"{lon:.3f}",
                _ocean(lat, lon),
                "836",
                "IF",
            ]
            if kind == "bgc-s":
                row += [" ".join(BGC_PARAMS), "".join(modes[k] for k in BGC_PARAMS)]
            rows[kind].append(",".join([*row, CREATED]))
    return paths


def _write_site(root: Path, j: int, n_sequences: int, seed: int) -> list[Path]:
    """Write the ``n_sequences`` HYPERNETS files of sample site number ``j`` under ``root/<SITE>``."""
    site, lat, lon = _SITES[j % len(_SITES)]
    site_dir = root / site
    site_dir.mkdir(parents=True, exist_ok=True)
    paths = []
    for k in range(n_sequences):
        t = datetime(2024, 5, 1, 9, 30 + j, tzinfo=UTC) + timedelta(days=k // 4, hours=2 * (k % 4))
        paths.append(write_hypernets_l2a(site_dir, site, t, lat, lon, seed + 97 * j + k))
    return paths


def _ocean(lat: float, lon: float) -> str:
    """GDAC ocean code of a position: ``A`` Atlantic, ``I`` Indian, ``P`` Pacific (coarse boxes)."""
    if 20.0 <= lon <= 146.0 and lat < 30.0:
        return "I"
    return "A" if -70.0 <= lon < 20.0 or (20.0 <= lon <= 42.0 and lat >= 30.0) else "P"


def _write_index(folder: Path, kind: str, rows: list[str]) -> Path:
    """Write the gzip GDAC index of ``kind`` in ``folder``: header comments, column line, ``rows``."""
    name, title, description, version, columns = _INDEXES[kind]
    header = [
        f"# Title : {title}",
        f"# Description : {description}",
        "# Project : ARGO",
        f"# Format version : {version}",
        f"# Date of update : {CREATED}",
        "# FTP root number 1 : ftp://ftp.ifremer.fr/ifremer/argo/dac",
        "# FTP root number 2 : ftp://usgodae.org/pub/outgoing/argo/dac",
        "# GDAC node : CORIOLIS",
    ]
    return _write_gz(folder / name, [*header, columns, *rows])


def _write_gz(path: Path, lines: list[str]) -> Path:
    """Write ASCII lines to a reproducible gzip file (no name, mtime 0)."""
    with open(path, "wb") as raw, gzip.GzipFile(fileobj=raw, mode="wb", mtime=0, filename="") as gz:
        gz.write(("\n".join(lines) + "\n").encode("ascii"))
    return path
