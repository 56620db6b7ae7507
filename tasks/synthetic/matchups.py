"""Synthetic rows of the ``matchups`` table (no files, no engine run), for the report and statistics tests.

Two populations, both deterministic for a given seed:

* BGC-Argo surface chlorophyll x ``occi-l3`` under ``bgc-argo-chl``: one row per profile
  (``wavelength`` null), log-normal in situ chlorophyll (mg m-3), satellite = in situ x a
  log-normal error with a small positive bias; some rows fail ``valid_pixels`` or
  ``time_difference``, some observations have a second, non-primary overpass.
* HYPERNETS water reflectance x ``olci-l2-wfr`` under ``hypernets``: one row per (sequence, OLCI
  band up to 885 nm), ``rho_w`` spectra per site, satellite = in situ x (1 + noise) + a visible offset; some
  sequences fail ``homogeneity`` on every band, one band fails ``band_mismatch``.
"""

from __future__ import annotations

from datetime import datetime, timedelta

import numpy as np
import pyarrow as pa

import lake_schema

from .olci import OLCI_WFR_BANDS
from .optics import water_reflectance

#: HYPERNETS-like sites: (site, latitude, longitude).
SITES = (("VEIT", 45.3142, 12.5083), ("GAIT", 45.5775, 10.5794), ("MAFR", 43.3704, 4.8673))
#: Protocol hashes written in the synthetic rows (12 hex digits, like ``ProtocolDef.config_hash``).
HASHES = {"bgc-argo-chl": "a1b2c3d4e5f6", "hypernets": "0f1e2d3c4b5a"}
_START = datetime(2024, 3, 1)


def _row(**values) -> dict:
    base = dict(window_size=3, n_total=9, n_land=0, n_valid=9, n_filtered=9, partial_window=False,
                solar_zenith_angle=None, viewing_zenith_angle=None, insitu_snapshot_id=1, sat_snapshot_id="snap",
                period_start=None, period_end=None, run_id="synthetic", created_at=_START, band_mismatch_nm=None,
                insitu_wavelength=None)
    base.update(values)
    sat = base["sat_filtered_mean"]
    base.update(sat_center=sat, sat_mean=sat, sat_median=sat)
    base.setdefault("sat_std", abs(sat) * 0.03 if sat is not None else None)
    base["sat_cv"] = base["sat_std"] / sat if sat else None
    base.setdefault("homogeneity_cv", base["sat_cv"])
    return base


def _argo_rows(n: int, rng: np.random.Generator) -> list[dict]:
    rows = []
    floats = [f"69900{k:02d}" for k in range(5)]
    for i in range(n):
        wmo = floats[i % len(floats)]
        time = _START + timedelta(days=float(rng.uniform(0, 365)), hours=float(rng.uniform(0, 24)))
        lat, lon = float(rng.uniform(-45, 60)), float(rng.uniform(-60, 40))
        chl = float(np.exp(rng.normal(np.log(0.3), 0.9)))
        failed = [c for c, p in (("valid_pixels", 0.15), ("time_difference", 0.05)) if rng.random() < p]
        overpasses = 2 if rng.random() < 0.1 else 1
        for k in range(overpasses):
            sat = chl * 10 ** float(rng.normal(0.05, 0.15))
            dt = float(rng.uniform(-6, 6) * 3600) + k * 86400
            rows.append(_row(
                insitu_source="argo", insitu_id=f"{wmo}_{i:03d}", site=wmo, product="occi-l3",
                granule_id=f"ESACCI-OC-L3S-{(time + timedelta(seconds=dt)):%Y%m%d}-fv6.0", variable="chlor_a",
                wavelength=None, insitu_variable="chla", unit="mg m-3", time_insitu=time,
                time_sat=time + timedelta(seconds=dt), dt_seconds=dt, lat_insitu=lat, lon_insitu=lon,
                lat_sat=lat + 0.01, lon_sat=lon - 0.01, distance_m=1500.0, insitu_value=chl, sat_filtered_mean=sat,
                protocol="bgc-argo-chl", protocol_hash=HASHES["bgc-argo-chl"],
                passed=not failed and k == 0, failed_criteria=failed if k == 0 else [*failed, "time_difference"],
                is_primary=k == 0))
    return rows


def _hypernets_rows(n_sequences: int, rng: np.random.Generator) -> list[dict]:
    bands = {name: wl for name, wl in OLCI_WFR_BANDS.items() if wl <= 900}
    wavelengths = np.array(list(bands.values()))
    rows = []
    for site, lat, lon in SITES:
        base = water_reflectance(wavelengths, rng)
        for s in range(n_sequences):
            time = _START + timedelta(days=float(rng.uniform(0, 180)), hours=10)
            insitu = base * float(rng.uniform(0.6, 1.4)) * (1 + rng.normal(0, 0.03, wavelengths.size))
            sat = insitu * (1 + rng.normal(0.04, 0.08, wavelengths.size)) + rng.normal(3e-4, 2e-4) * (wavelengths < 700)
            homogeneity = rng.random() < 0.15
            dt = float(rng.uniform(-5400, 5400))
            for b, wl in enumerate(wavelengths):
                failed = (["homogeneity"] if homogeneity else []) + (["band_mismatch"] if wl == 673.75 else [])
                rows.append(_row(
                    insitu_source="hypernets", insitu_id=f"{site}_{time:%Y%m%dT%H%M%S}_{s:02d}", site=site,
                    product="olci-l2-wfr", granule_id=f"S3A_OL_2_WFR____{time:%Y%m%dT%H%M%S}", variable="rho_w",
                    wavelength=float(wl), insitu_variable="rho_w", insitu_wavelength=float(wl) + 1.0,
                    band_mismatch_nm=1.0, unit="1", time_insitu=time, time_sat=time + timedelta(seconds=dt),
                    dt_seconds=dt, lat_insitu=lat, lon_insitu=lon, lat_sat=lat + 0.002, lon_sat=lon,
                    distance_m=230.0, insitu_value=float(insitu[b]), sat_filtered_mean=float(sat[b]),
                    protocol="hypernets", protocol_hash=HASHES["hypernets"], passed=not failed,
                    failed_criteria=failed, is_primary=True))
    return rows


def matchup_rows(n_argo: int = 600, n_sequences: int = 30, seed: int = 0) -> pa.Table:
    """Synthetic ``matchups`` rows: chlorophyll (Argo x OC-CCI) and ``rho_w`` spectra (HYPERNETS x OLCI).

    Args:
        n_argo: BGC-Argo profiles (one primary row each, plus ~10 % second overpasses).
        n_sequences: HYPERNETS sequences per site (3 sites, 15 OLCI bands each).
        seed: random seed.

    Returns:
        A table with every column of ``matchups``; pass it through ``tasks.lake.conform("matchups", ...)``
        to get the lake's exact types.
    """
    rng = np.random.default_rng(seed)
    rows = _argo_rows(n_argo, rng) + _hypernets_rows(n_sequences, rng)
    schema = lake_schema.table("matchups").arrow_schema()
    return pa.Table.from_pylist(rows, schema=schema)
