"""One synthetic day for the daily pipeline: Argo profiles, HYPERNETS sequences and satellite granules that match.

Layout under ``out_dir`` (one folder per day, so a pipeline config can name a day's files with
``{date:%Y%m%d}`` placeholders, like an operational drop folder):

* ``argo/<YYYYMMDD>/SR<wmo>_<ccc>.nc`` - single-cycle BGC synthetic profiles, one per float,
  near local noon, positioned inside the OC-CCI box (about 70 % of them over cloud-free water);
* ``hypernets/<YYYYMMDD>/<SITE>/HYPERNETS_W_<SITE>_L2A_REF_...nc`` - four sequences a day per
  station (09:30, 11:30, 13:30, 15:30 UTC plus the station number in minutes);
* ``satellite/occi-l3/<YYYYMMDD>/ESACCI-OC-L3S-CHLOR_A-...-fv6.0.nc`` - one OC-CCI v6 daily L3
  file of the box (same grid every day, so the days append to one cube);
* ``satellite/olci-l2-wfr/<YYYYMMDD>/S3?_OL_2_WFR____...SEN3`` - OLCI WFR swath granules centred
  on the stations, in turn, between 09:00 and 11:30 UTC (within the HYPERNETS protocol's +-2 h of
  a sequence).

With ``bad=True`` one unreadable file is added to the day's Argo folder and one to its OC-CCI
folder (they must be quarantined, the rest ingested). :func:`pipeline_config` gives the matching
pipeline configuration (the structure of ``deployments/pipeline.example.yaml``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date as Date
from datetime import datetime, timedelta
from pathlib import Path

import numpy as np

from .argo import data_modes, write_argo_profile
from .grids import write_occi_l3
from .hypernets import write_hypernets_l2a
from .olci import write_olci_wfr_sen3

#: OC-CCI box of the synthetic days (lon0, lat0, lon1, lat1), degrees: western Mediterranean and Biscay.
OCCI_BOX = (-6.0, 36.0, 10.0, 46.0)
#: First day of the synthetic calendar: Argo cycle numbers count days from it.
EPOCH = Date(2024, 1, 1)
#: HYPERNETS sequence times of a day (UTC hours).
SEQUENCE_HOURS = (9.5, 11.5, 13.5, 15.5)
#: The match-up combinations the synthetic days are built for.
COMBINATIONS = ({"insitu": "argo", "product": "occi-l3", "protocol": "bgc-argo-chl"},
                {"insitu": "hypernets", "product": "olci-l2-wfr", "protocol": "hypernets"})


@dataclass
class SyntheticDay:
    """Files written for one day (lists of paths per kind) and the expected counts."""

    day: Date
    argo: list[Path] = field(default_factory=list)
    hypernets: list[Path] = field(default_factory=list)
    occi: list[Path] = field(default_factory=list)
    olci: list[Path] = field(default_factory=list)
    bad: list[Path] = field(default_factory=list)

    @property
    def n_granules(self) -> int:
        """Good satellite granules of the day."""
        return len(self.occi) + len(self.olci)


def _as_day(value: Date | datetime | str) -> Date:
    if isinstance(value, str):
        return Date.fromisoformat(value[:10])
    return value.date() if isinstance(value, datetime) else value


def stations(n: int) -> list[tuple[str, float, float]]:
    """``n`` synthetic HYPERNETS stations (code, latitude, longitude) along the coasts of the OC-CCI box."""
    out = []
    for k in range(n):
        lat = 36.8 + (k * 2.9) % 8.6
        lon = -5.2 + (k * 3.7) % 14.0
        out.append((f"SY{k + 1:02d}", round(lat, 4), round(lon, 4)))
    return out


def write_synthetic_day(out_dir: str | Path, day: Date | datetime | str, n_granules: int = 6, n_profiles: int = 6,
                        n_stations: int = 2, seed: int = 0, bad: bool = False) -> SyntheticDay:
    """Write the in situ and satellite files of one synthetic day (see the module docstring).

    Args:
        out_dir: root folder (the day's files go to ``<kind>/<YYYYMMDD>/`` below it).
        day: the UTC day.
        n_granules: satellite granules: one OC-CCI daily file plus ``n_granules - 1`` OLCI granules.
        n_profiles: Argo profiles (one float each).
        n_stations: HYPERNETS stations (four sequences each).
        seed: random seed (with the day: same arguments, same values).
        bad: also write one unreadable Argo file and one unreadable OC-CCI file.

    Returns:
        The written files.
    """
    day = _as_day(day)
    out, stamp = Path(out_dir), f"{day:%Y%m%d}"
    start = datetime(day.year, day.month, day.day)
    written = SyntheticDay(day)
    rng = np.random.default_rng([seed, day.toordinal()])
    written.argo = _argo(out / "argo" / stamp, day, start, n_profiles, seed, rng)
    sites = stations(n_stations)
    for j, (site, lat, lon) in enumerate(sites):
        for k, hours in enumerate(SEQUENCE_HOURS):
            t = start + timedelta(hours=hours, minutes=j)
            written.hypernets.append(write_hypernets_l2a(out / "hypernets" / stamp / site, site, t, lat, lon,
                                                         seed + 97 * j + k))
    if n_granules >= 1:
        written.occi.append(write_occi_l3(out / "satellite" / "occi-l3" / stamp, day, version="6.0", bbox=OCCI_BOX,
                                          res=1 / 24, seed=seed))
    for g in range(max(n_granules - 1, 0)):
        site, lat, lon = sites[g % len(sites)] if sites else ("", 40.0, 0.0)
        t = start + timedelta(hours=9, minutes=3 * g)
        written.olci.append(write_olci_wfr_sen3(out / "satellite" / "olci-l2-wfr" / stamp, t, lat, lon,
                                                shape=(120, 90), platform="S3A" if g % 2 == 0 else "S3B",
                                                seed=seed + g))
    if bad:
        written.bad = _bad_files(out, day, stamp)
    return written


def _argo(folder: Path, day: Date, start: datetime, n: int, seed: int, rng: np.random.Generator) -> list[Path]:
    """One single-cycle S profile file per float, inside the OC-CCI box, near local noon."""
    folder.mkdir(parents=True, exist_ok=True)
    cycle = (day - EPOCH).days % 999 + 1
    lon0, lat0, lon1, lat1 = OCCI_BOX
    paths = []
    for i in range(n):
        # the synthetic scene's land is the box's south-east corner: keep floats in the west and north
        lat = float(rng.uniform(lat0 + 0.5 * (lat1 - lat0), lat1 - 0.3))
        lon = float(rng.uniform(lon0 + 0.3, lon0 + 0.5 * (lon1 - lon0)))
        t = start + timedelta(hours=12 - lon / 15.0, minutes=int(rng.integers(0, 60)))
        modes = data_modes(cycle, 10, "bgc-s")
        paths.append(write_argo_profile(folder, f"{6900001 + i}", cycle, t, lat, lon, seed, "bgc-s", modes))
    return paths


def _bad_files(out: Path, day: Date, stamp: str) -> list[Path]:
    """An Argo-named text file and a truncated OC-CCI file in the day's folders."""
    argo = out / "argo" / stamp / f"SR6999999_{(day - EPOCH).days % 999 + 1:03d}.nc"
    argo.write_text("This is not a NetCDF file, just text with a .nc suffix.\n")
    occi = out / "satellite" / "occi-l3" / stamp
    occi.mkdir(parents=True, exist_ok=True)
    name = f"ESACCI-OC-L3S-RRS-MERGED-1D_DAILY_4km_GEO_PML_RRS-{stamp}-fv6.0.nc"
    (occi / name).write_bytes(b"\x89HDF\r\n\x1a\n" + bytes(200))
    return [argo, occi / name]


def pipeline_config(out_dir: str | Path, report: bool = True) -> dict:
    """The pipeline configuration (a dict, the YAML file's structure) reading the synthetic days under ``out_dir``."""
    root = Path(out_dir).resolve()
    return {
        "insitu": {"argo": {"sources": [f"{root}/argo/{{date:%Y%m%d}}"]},
                   "hypernets": {"sources": [f"{root}/hypernets/{{date:%Y%m%d}}"]}},
        "satellite": {"occi-l3": [f"{root}/satellite/occi-l3/{{date:%Y%m%d}}"],
                      "olci-l2-wfr": [f"{root}/satellite/olci-l2-wfr/{{date:%Y%m%d}}"]},
        "matchups": [dict(c) for c in COMBINATIONS],
        "report": {"enabled": report},
    }
