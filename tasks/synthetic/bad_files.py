"""Bad input files (truncated, wrong format, missing or invalid variables) for the tests and the quarantine demo."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import numpy as np

from ._common import SAMPLE_START
from .argo import ArgoProfile, float_profiles
from .argo_vars import JULD_FILL
from .argo_writer import write_argo_file
from .hypernets import write_hypernets_l2a


def write_bad_files(out_dir: str | Path) -> dict[str, Path]:
    """Write one file per bad-input case (for the tests and the demo's quarantine).

    Returns:
        Case name -> path: ``truncated_netcdf``, ``text_as_nc``, ``sprof_missing_latitude``,
        ``sprof_all_fill_profile`` (profile 2 of 3 all fill), ``sprof_bad_juld`` (JULD 999999. in
        profile 2), ``sprof_bad_latitude`` (latitude 999. in profile 2), ``hypernets_land``,
        ``hypernets_truncated``, ``hypernets_no_reflectance``.

    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    cases: dict[str, Path] = {}
    good = write_argo_file(out / "6990901_Sprof.nc", _profiles("6990901"), fmt="NETCDF4_CLASSIC")
    data = good.read_bytes()
    good.write_bytes(data[: len(data) * 2 // 5])
    cases["truncated_netcdf"] = good
    cases["text_as_nc"] = out / "R6990902_001.nc"
    cases["text_as_nc"].write_text("This is not a NetCDF file, just text with a .nc suffix.\n")
    cases["sprof_missing_latitude"] = write_argo_file(
        out / "6990903_Sprof.nc", _profiles("6990903"), fmt="NETCDF4_CLASSIC", drop=("LATITUDE",)
    )
    profs = _profiles("6990904")
    for v in profs[1].values.values():
        for key in ("raw", "adj", "err"):
            v[key][:] = np.nan
        v["qc"][:], v["adj_qc"][:] = b" ", b" "
    cases["sprof_all_fill_profile"] = write_argo_file(out / "6990904_Sprof.nc", profs, fmt="NETCDF4_CLASSIC")
    profs = _profiles("6990905")
    profs[1].juld = JULD_FILL
    cases["sprof_bad_juld"] = write_argo_file(out / "6990905_Sprof.nc", profs, fmt="NETCDF4_CLASSIC")
    profs = _profiles("6990906")
    profs[1].latitude = 999.0
    cases["sprof_bad_latitude"] = write_argo_file(out / "6990906_Sprof.nc", profs, fmt="NETCDF4_CLASSIC")
    t = datetime(2024, 5, 1, 10, 0, tzinfo=UTC)
    cases["hypernets_land"] = write_hypernets_l2a(out, "GHNA", t, -23.6, 15.1, 3, network="L")
    trunc = write_hypernets_l2a(out, "TRNC", t, 45.0, 12.0, 4)
    trunc.write_bytes(trunc.read_bytes()[:2000])
    cases["hypernets_truncated"] = trunc
    cases["hypernets_no_reflectance"] = write_hypernets_l2a(out, "NORF", t, 45.0, 12.0, 5, drop=("reflectance",))
    return cases


def _profiles(wmo: str) -> list[ArgoProfile]:
    """Three S profiles of float ``wmo`` (seed 1, from 34N 20E), the base of the broken Sprof files."""
    return float_profiles(wmo, 3, SAMPLE_START, 34.0, 20.0, 1)
