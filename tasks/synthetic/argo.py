"""Synthetic Argo profiles and the public Argo file generators (``Sprof`` and single-cycle files).

Every generator takes a seed; the same seed, WMO and cycle always give the same values, in the
multi-profile ``<wmo>_Sprof.nc`` and in the single-cycle ``R/D/SR/SD<wmo>_<ccc>.nc`` files alike.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np

from ._common import as_utc
from .argo_vars import CORE_PARAMS, params_of
from .argo_writer import write_argo_file

_EPOCH = datetime(1950, 1, 1, tzinfo=UTC)


@dataclass
class ArgoProfile:
    """One synthetic profile: metadata and, per parameter, raw/adjusted values and QC characters.

    Values are float arrays with NaN for fill; QC arrays are ``S1`` with ``b" "`` for fill.
    """

    wmo: str
    cycle: int
    juld: float
    latitude: float
    longitude: float
    modes: dict[str, str]
    values: dict[str, dict[str, np.ndarray]] = field(default_factory=dict)
    direction: str = "A"
    juld_location: float | None = None


def juld_of(time: datetime) -> float:
    """Days since 1950-01-01 00:00 UTC (Argo JULD) of a datetime (naive means UTC)."""
    return (as_utc(time) - _EPOCH).total_seconds() / 86400.0


def _levels(rng: np.random.Generator) -> np.ndarray:
    pres = np.r_[np.arange(1.0, 10.0, 1.0), np.arange(10.0, 250.0, 5.0), np.arange(250.0, 1001.0, 25.0)]
    return np.round(pres + rng.uniform(-0.2, 0.2, pres.size), 1).clip(0.1)


def _qc(rng: np.random.Generator, n: int, good: str = "1", bad_fraction: float = 0.03) -> np.ndarray:
    qc = np.full(n, good.encode(), dtype="S1")
    bad = rng.random(n) < bad_fraction
    qc[bad] = rng.choice([b"3", b"4"], size=int(bad.sum()))
    return qc


def make_profile(
    wmo: str,
    cycle: int,
    time: datetime,
    lat: float,
    lon: float,
    seed: int,
    kind: str = "bgc-s",
    modes: dict[str, str] | None = None,
) -> ArgoProfile:
    """Build one realistic profile (seeded by ``seed``, ``wmo`` and ``cycle``).

    CHLA has a deep chlorophyll maximum below a surface value in 0.05-2 mg m-3; Ed490 decays as
    exp(-Kd490 z) with Kd490 from surface CHLA (Morel et al. 2007) and is ~0 at night (local solar
    time from ``lon``); radiometry stops at 250 dbar; a few levels have bad QC or fill values.
    """
    rng = np.random.default_rng([seed, int(wmo), cycle])
    pres = _levels(rng)
    n = pres.size
    night = not 6 <= (time.hour + lon / 15.0) % 24 <= 18
    params = params_of(kind)
    modes = dict(modes or {p: "R" for p in params})
    sst, mld = rng.uniform(14, 27), rng.uniform(15, 80)
    temp = 4.0 + (sst - 4.0) * np.where(pres < mld, 1.0, np.exp(-(pres - mld) / 250.0))
    psal = 35.0 + rng.uniform(-0.5, 2.5) * np.exp(-pres / 400.0) + rng.normal(0, 0.005, n)
    chl0 = float(np.exp(rng.uniform(np.log(0.05), np.log(2.0))))
    z_dcm = rng.uniform(30, 110)
    chla = chl0 * np.where(pres < mld, 1.0, np.exp(-(pres - mld) / 60.0))
    chla = chla + rng.uniform(0.2, 1.2) * np.exp(-(((pres - z_dcm) / 15.0) ** 2)) + 0.01
    kd490 = 0.0166 + 0.0773 * chl0**0.6715
    ed0, par0 = (0.0, 0.0) if night else (rng.uniform(0.6, 1.6), rng.uniform(800, 1900))
    raw = {
        "PRES": pres,
        "TEMP": temp + rng.normal(0, 0.01, n),
        "PSAL": psal,
        "DOXY": 240.0 - 70.0 * np.exp(-(((pres - 500.0) / 250.0) ** 2)) + rng.normal(0, 0.5, n),
        "DOWN_IRRADIANCE490": ed0 * np.exp(-kd490 * pres) + np.abs(rng.normal(0, 2e-5, n)),
        "DOWNWELLING_PAR": par0 * np.exp(-0.9 * kd490 * pres) + np.abs(rng.normal(0, 0.01, n)),
        "CHLA": 2.0 * chla + rng.normal(0, 0.005, n),  # raw factory calibration ~2x too high
        "BBP700": 0.0004 + 0.0015 * chla / (1 + chla) + np.abs(rng.normal(0, 5e-5, n)),
    }
    prof = ArgoProfile(wmo, cycle, juld_of(time), lat, lon, modes)
    prof.juld_location = prof.juld + rng.uniform(5, 40) / 1440.0
    for p in params:
        value = raw[p].astype(np.float64)
        if p.startswith("DOWN"):
            value[pres > 250.0] = np.nan
        elif p in ("CHLA", "BBP700", "DOXY"):
            value[rng.random(n) < 0.05] = np.nan  # levels not sampled by that sensor
        qc = _qc(rng, n, good="3" if p == "CHLA" else "1")
        qc[np.isnan(value)] = b" "
        adj, adj_qc, err = np.full(n, np.nan), np.full(n, b" ", dtype="S1"), np.full(n, np.nan)
        if modes.get(p, "R") in "AD":
            adj = value / 2.0 if p == "CHLA" else value + (0.01 if p == "PSAL" else 0.0)
            adj_qc = np.where(qc == b"3", b"1", qc).astype("S1") if p == "CHLA" else qc.copy()
            err = np.where(np.isnan(adj), np.nan, np.abs(adj) * 0.1 + (0.01 if p == "PSAL" else 0.002))
        prof.values[p] = {"raw": value, "qc": qc, "adj": adj, "adj_qc": adj_qc, "err": err}
    return prof


def float_track(wmo: str, n: int, start: datetime, lat0: float, lon0: float, seed: int) -> list[tuple]:
    """(cycle, time, lat, lon) of a float drifting from (lat0, lon0), one cycle every 10 days.

    Every fifth cycle surfaces around local midnight (night profile), the others near local noon.
    """
    rng = np.random.default_rng([seed, int(wmo)])
    steps = rng.normal(0, 0.08, (n, 2)).cumsum(axis=0)
    out = []
    for i in range(n):
        day = (start + timedelta(days=10 * i)).replace(hour=0, minute=0, second=0, microsecond=0)
        local = 0.5 if i % 5 == 4 else 12.0 + rng.uniform(-1.5, 1.5)
        utc = day + timedelta(hours=(local - lon0 / 15.0) % 24, minutes=int(rng.integers(0, 60)))
        out.append(
            (
                i + 1,
                utc,
                float(np.clip(lat0 + steps[i, 0], -89, 89)),
                float(((lon0 + steps[i, 1] + 180) % 360) - 180),
            )
        )
    return out


def data_modes(cycle: int, n: int, kind: str) -> dict[str, str]:
    """Return a mix of data modes: older cycles delayed mode, CHLA/DOXY adjusted, radiometry real time."""
    core = "D" if cycle <= n // 2 else "R"
    if kind == "core":
        return {p: core for p in CORE_PARAMS}
    return {
        "PRES": core,
        "TEMP": core,
        "PSAL": core,
        "DOXY": "A",
        "CHLA": "A" if cycle % 3 else "D",
        "BBP700": "R",
        "DOWN_IRRADIANCE490": "R",
        "DOWNWELLING_PAR": "R",
    }


def float_profiles(
    wmo: str, n_profiles: int, start: datetime, lat0: float, lon0: float, seed: int
) -> list[ArgoProfile]:
    """Return the S profiles of a float's cycles 1..n (track of :func:`float_track`, modes of :func:`data_modes`).

    Args:
        wmo: float WMO number (7 digits as text).
        n_profiles: number of cycles, one every 10 days from ``start`` (UTC).
        start: date of cycle 1.
        lat0: start latitude in degree_north.
        lon0: start longitude in degree_east.
        seed: random seed.

    """
    return [
        make_profile(wmo, c, t, la, lo, seed, "bgc-s", data_modes(c, n_profiles, "bgc-s"))
        for c, t, la, lo in float_track(wmo, n_profiles, start, lat0, lon0, seed)
    ]


def write_argo_sprof(
    path: str | Path, wmo: str, n_profiles: int, start: datetime, lat0: float, lon0: float, seed: int = 0
) -> Path:
    """Write a multi-profile ``<wmo>_Sprof.nc`` (Argo synthetic profile, NETCDF4_CLASSIC).

    Args:
        path: output file, or an existing directory (the file is then ``<wmo>_Sprof.nc`` in it).
        wmo: float WMO number (7 digits as text).
        n_profiles: number of cycles (1..n), one every 10 days from ``start`` (UTC).
        start: date of cycle 1.
        lat0: start latitude in degree_north.
        lon0: start longitude in degree_east.
        seed: random seed.

    """
    path = Path(path)
    if path.is_dir():
        path = path / f"{wmo}_Sprof.nc"
    profiles = float_profiles(wmo, n_profiles, start, lat0, lon0, seed)
    return write_argo_file(path, profiles, "bgc-s", fmt="NETCDF4_CLASSIC")


def profile_file_name(wmo: str, cycle: int, kind: str = "core", data_mode: str = "R") -> str:
    """GDAC single-cycle file name: ``R<wmo>_<ccc>.nc`` / ``D...`` (core), ``SR...`` / ``SD...`` (S)."""
    prefix = ("S" if kind == "bgc-s" else "") + ("D" if data_mode == "D" else "R")
    return f"{prefix}{wmo}_{cycle:03d}.nc"


def write_argo_profile(
    path: str | Path,
    wmo: str,
    cycle: int,
    time: datetime,
    lat: float,
    lon: float,
    seed: int = 0,
    kind: str = "core",
    modes: dict[str, str] | None = None,
) -> Path:
    """Write a single-cycle Argo file (core ``R/D`` or ``SR/SD``), NETCDF3_CLASSIC like the GDAC.

    Args:
        path: output file, or an existing directory (the GDAC file name is then used).
        wmo: float WMO number.
        cycle: cycle number.
        time: profile time (UTC).
        lat: latitude in degree_north.
        lon: longitude in degree_east.
        seed: random seed (same seed, wmo and cycle give the same values as in the Sprof file).
        kind: ``"core"`` or ``"bgc-s"``.
        modes: data mode per parameter (default all ``R``); core files use the TEMP mode.

    """
    params = params_of(kind)
    modes = modes or {p: "R" for p in params}
    path = Path(path)
    if path.is_dir():
        worst = "D" if any(modes.get(p, "R") == "D" for p in params) else "R"
        path = path / profile_file_name(wmo, cycle, kind, modes.get("TEMP", "R") if kind == "core" else worst)
    prof = make_profile(wmo, cycle, time, lat, lon, seed, kind, modes)
    return write_argo_file(path, [prof], kind)
