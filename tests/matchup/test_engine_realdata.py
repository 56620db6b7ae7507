"""Match-ups on real satellite files (../shared/realdata), checked against independent numpy computations.

Real PACE OCI L3m chlorophyll with observations at real Argo float positions (moved to the PACE
dates); the real SNAP C2RCC OLCI subset (southern North Sea, 2017-04-15) with the real PANTHYR
O1BE spectrum (read by the project's reader) placed on pixels of the subset, since no HYPERNETS
site lies inside that 30 km subset.
"""

from __future__ import annotations

from datetime import datetime

import netCDF4
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pytest

import lake_schema
from tasks.ingest_satellite import ingest_satellite
from tasks.lake import Lake, conform
from tasks.matchup.engine import run_matchups
from tasks.matchup.windows import haversine_m
from tasks.readers.hypernets import open_hypernets

pytestmark = pytest.mark.realdata

PACE = "satellite_pace/PACE_OCI.2024061{}.L3m.DAY.CHL.V3_0.chlor_a.0p1deg.nc"
C2RCC = "satellite_olci/O_L2_0001_SNS_2017105095839_v1.0.nc"
PANTHYR = "hypernets/PANTHYR_W_O1BE_L2A_REF_20230429T144006_270_20230925T231650_v20230717_QA.nc"
#: Real Argo profile positions (MANIFEST: 3902131 cycle 1, 6903247 cycle 1, 5900865 cycle 1) and
#: two far-field points: the dateline and the North Pole (partial windows).
ARGO_POINTS = [("3902131", -6.631, 5.003), ("6903247", 34.2, 26.0), ("5900865", -9.768, 115.9),
               ("7900001", -20.03, 179.97), ("7900002", 89.97, 10.0)]


def _argo_rows(points, day: datetime) -> pa.Table:
    spec = lake_schema.table("argo_profiles")
    rows = []
    for wmo, lat, lon in points:
        row = dict.fromkeys(spec.column_names)
        row.update(platform_number=wmo, cycle_number=1, direction="A", profile_index=0, file_kind="bgc-s",
                   time=day, latitude=lat, longitude=lon, chla_surface=0.2, chla_surface_rule="top10dbar",
                   chla_surface_n=3, source_file=f"test:{wmo}", source_checksum=f"test-{wmo}")
        rows.append(row)
    return conform("argo_profiles", pa.Table.from_pylist(rows, schema=spec.arrow_schema()))


def _pace_window(path, lat, lon, half):
    with netCDF4.Dataset(path) as ds:
        glat, glon = ds["lat"][:].astype(float), ds["lon"][:].astype(float)
        chl = ds["chlor_a"]
        iy, ix = int(np.abs(glat - lat).argmin()), int(np.abs(glon - lon).argmin())
        rows = np.arange(iy - half, iy + half + 1)
        cols = np.arange(ix - half, ix + half + 1) % glon.size  # global grid: cyclic longitude
        inside = (rows >= 0) & (rows < glat.size)
        window = np.full((rows.size, cols.size), np.nan)
        for k, r in enumerate(rows):
            if inside[k]:
                window[k] = chl[r, :].filled(np.nan)[cols]
    return window, inside, (glat[iy], glon[ix])


def _clear_pixel_near(path, lat, lon) -> tuple[float, float]:
    """Centre of the fully valid 5x5 window nearest to (lat, lon) (all real Argo positions are cloudy that day)."""
    with netCDF4.Dataset(path) as ds:
        glat, glon = ds["lat"][:].astype(float), ds["lon"][:].astype(float)
        iy, ix = int(np.abs(glat - lat).argmin()), int(np.abs(glon - lon).argmin())
        box = ds["chlor_a"][iy - 60:iy + 61, ix - 60:ix + 61].filled(np.nan)
    ok = np.isfinite(box)
    clear = [(abs(r - 60) + abs(c - 60), r, c) for r in range(2, 119) for c in range(2, 119)
             if ok[r - 2:r + 3, c - 2:c + 3].all()]  # noqa: C416
    _, r, c = min(clear)
    return float(glat[iy - 60 + r]), float(glon[ix - 60 + c])


def test_pace_l3m_windows_at_argo_positions(realdata, settings):
    files = [str(realdata / PACE.format(d)) for d in (4, 5)]
    assert ingest_satellite("pace-oci-l3m", files, settings).files_ingested == 2
    points = ARGO_POINTS + [("6903248", *_clear_pixel_near(files[0], 34.2, 26.0))]
    with Lake(settings) as lake:
        rows = _argo_rows(points, datetime(2024, 6, 14, 13))
        lake.transaction(lambda con: lake.insert(con, "argo_profiles", rows))
    summary = run_matchups("argo", "pace-oci-l3m", "bailey-werdell-2006", settings)
    # 13:00 on the 14th is 5 min from the 14th's mid time; the 15th is a day away (+-3 h window)
    assert summary.observations == 6 and summary.matchup_pairs == 6
    with Lake(settings) as lake:
        rows = {r["insitu_id"]: r for r in lake.con.execute("select * from matchups").to_arrow_table().to_pylist()}
    for wmo, lat, lon in points:
        row = rows[f"{wmo}_001"]
        window, inside, (clat, clon) = _pace_window(files[0], lat, lon, half=2)
        valid = np.isfinite(window)
        assert row["n_total"] == 5 * inside.sum(), wmo
        assert row["n_valid"] == valid.sum(), wmo
        assert row["partial_window"] == (not inside.all()), wmo
        assert (row["lat_sat"], row["lon_sat"]) == pytest.approx((clat, clon), abs=1e-4), wmo
        assert row["distance_m"] == pytest.approx(haversine_m(lat, lon, clat, clon), rel=1e-6), wmo
        if valid.any():
            x = window[valid]
            kept = x[np.abs(x - x.mean()) <= 1.5 * (x.std(ddof=1) if x.size > 1 else 0) + 1e-12]
            assert row["sat_mean"] == pytest.approx(x.mean(), rel=1e-6), wmo
            assert row["sat_median"] == pytest.approx(np.median(x), rel=1e-6), wmo
            assert row["sat_filtered_mean"] == pytest.approx(kept.mean(), rel=1e-6), wmo
        enough = valid.sum() >= 0.5 * inside.sum() * 5
        assert ("valid_pixels" not in row["failed_criteria"]) == bool(enough and valid.any()), wmo
    assert rows["7900002_001"]["partial_window"] and rows["7900001_001"]["n_total"] == 25  # dateline wraps
    clear = rows["6903248_001"]
    assert clear["n_valid"] == 25 and clear["homogeneity_cv"] == pytest.approx(clear["sat_cv"])
    assert clear["passed"] == (clear["sat_cv"] <= 0.15) and clear["is_primary"]
    assert all(r["failed_criteria"] == ["valid_pixels", "homogeneity"] for k, r in rows.items() if r["n_valid"] == 0)


def _panthyr_tables(realdata, lat: float, lon: float, time: datetime) -> dict[str, pa.Table]:
    """The real PANTHYR O1BE L2A spectrum, read by the project's reader, moved to (lat, lon, time)."""
    result = open_hypernets(realdata / PANTHYR)
    seq, refl = result.tables["hypernets_sequences"], result.tables["hypernets_reflectance"]
    new_id = f"O1BE_{time:%Y%m%dT%H%M%S}"
    n, m = seq.num_rows, refl.num_rows
    seq = seq.set_column(seq.schema.get_field_index("sequence_id"), "sequence_id", pa.array([new_id] * n))
    seq = seq.set_column(seq.schema.get_field_index("time"), "time", pa.array([time] * n, pa.timestamp("us")))
    seq = seq.set_column(seq.schema.get_field_index("latitude"), "latitude", pa.array([lat] * n))
    seq = seq.set_column(seq.schema.get_field_index("longitude"), "longitude", pa.array([lon] * n))
    refl = refl.set_column(refl.schema.get_field_index("sequence_id"), "sequence_id", pa.array([new_id] * m))
    lineage = {"source_file": "test:panthyr", "source_checksum": "test-panthyr", "ingested_at": datetime(2026, 1, 1),
               "run_id": "test"}
    seq = conform("hypernets_sequences", seq.select([c for c in seq.column_names if c not in lineage]), **lineage)
    refl = conform("hypernets_reflectance", refl.select([c for c in refl.column_names if c != "source_checksum"]),
                   source_checksum="test-panthyr")
    return {"hypernets_sequences": seq, "hypernets_reflectance": refl}


def test_olci_c2rcc_windows_with_real_panthyr_spectrum(realdata, settings):
    path = realdata / C2RCC
    assert ingest_satellite("olci-c2rcc", [str(path)], settings).files_ingested == 1
    with netCDF4.Dataset(path) as ds:
        plat, plon = ds["lat"][:].astype(float), ds["lon"][:].astype(float)
    # a clear 3x3 window (98 % of this scene has Cloud_risk set) and a point on the first row (partial window)
    points = [(plat[79, 71], plon[79, 71]), (plat[0, 3] + 0.0005, plon[0, 3])]
    with Lake(settings) as lake:
        for k, (lat, lon) in enumerate(points):
            tables = _panthyr_tables(realdata, float(lat), float(lon), datetime(2017, 4, 15, 10, 30 + k))
            lake.transaction(lambda con, t=tables: lake.upsert(con, t))
    summary = run_matchups("hypernets", "olci-c2rcc", "hypernets", settings)
    assert summary.observations == 2 and summary.matchup_pairs == 2
    with Lake(settings) as lake:
        rows = lake.con.execute("select * from matchups order by insitu_id, wavelength").to_arrow_table()
    assert set(pc.unique(rows.column("variable")).to_pylist()) == {"rrs"}  # sat rrs <- in situ rrs
    protocol, product = lake_schema.protocol("hypernets"), lake_schema.product("olci-c2rcc")
    with netCDF4.Dataset(path) as ds:
        flags = ds["c2rcc_flags"][:].astype(np.int64)
        lookup = dict(zip(ds["c2rcc_flags"].flag_meanings.split(), ds["c2rcc_flags"].flag_masks, strict=True))
        bits = np.bitwise_or.reduce([int(lookup[n]) for n in product.flags.invalid])
        for k, (lat, lon) in enumerate(points):
            d = haversine_m(lat, lon, plat, plon)
            iy, ix = np.unravel_index(d.argmin(), d.shape)
            sl = (slice(max(iy - 1, 0), iy + 2), slice(max(ix - 1, 0), ix + 2))
            for wl, name in ((442.5, "rrs_3"), (560.0, "rrs_6")):
                window = ds[name][sl].filled(np.nan).astype(float)
                valid = np.isfinite(window) & ((flags[sl] & bits) == 0)
                row = rows.filter(pc.and_(pc.equal(rows.column("wavelength"), wl),
                                          pc.equal(rows.column("insitu_id"),
                                                   f"O1BE_20170415T{103000 + 100 * k:06d}"))).to_pylist()[0]
                assert row["n_total"] == window.size and row["n_valid"] == valid.sum()
                assert row["partial_window"] == (window.size < 9)
                if valid.any():
                    assert row["sat_mean"] == pytest.approx(window[valid].mean(), rel=1e-6)
                else:
                    assert row["sat_mean"] is None and "valid_pixels" in row["failed_criteria"]
                assert row["distance_m"] == pytest.approx(d[iy, ix], abs=0.01)
                assert abs(row["insitu_wavelength"] - wl) <= protocol.spectral_tolerance_nm
                assert ("valid_pixels" in row["failed_criteria"]) == (valid.sum() < 9)
                assert row["passed"] == (k == 0)  # clear window: all criteria met (dt 29 min, all 9 valid)
