#!/usr/bin/env python
"""Benchmark: validation statistics over the lake's match-ups (DuckDB SQL) vs pandas groupby.

What is measured
    Synthetic ``matchups`` rows (HYPERNETS-like rho_w: 4 products x 10 OLCI bands x 20 sites x 24
    months, every row passed and primary) are written into a real DuckLake lake (``tasks.lake.Lake``,
    the table's declared partitioning, one commit per month as match-up runs do). Then, each in a
    fresh subprocess (so peak RSS belongs to that side only):

    * oceanlake: ``tasks.validation.stats.lake_stats`` grouped by product x wavelength x site (one
      ``GROUP BY`` query on a read-only connection; target < 5 s for 10^7 rows on 2 cores), and the
      p50 of 50 point queries (one site, one band, one month, grouped by product; target < 50 ms,
      thanks to partition/file pruning) on an open connection;
    * pandas (the peer): the same metrics with a vectorised ``DataFrame.groupby`` (means, medians,
      centred regression sums) on the same rows loaded in memory (load time reported apart), and the
      same point queries as boolean masks. Both results are checked equal.

Run ``python benchmarks/bench_validation_stats.py --help``.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from dataclasses import replace
from datetime import datetime
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

PRODUCTS = ("olci-l2-wfr", "olci-c2rcc", "pace-oci-l2-aop", "msi-acolite-l2w")
BANDS = (400.0, 412.5, 442.5, 490.0, 510.0, 560.0, 620.0, 665.0, 673.75, 681.25)
SITES = tuple(f"S{k:03d}" for k in range(20))
MONTHS = tuple(datetime(2023 + m // 12, m % 12 + 1, 1) for m in range(24))
GROUP_BY = ("product", "wavelength", "site")
METRICS_CHECKED = ("n", "bias", "median_bias", "mae", "mapd", "rmsd", "rpd", "apd", "log_bias", "log_mae", "mdsa",
                   "slope_ols", "intercept_ols", "slope_rma", "intercept_rma", "r", "r2", "n_log_excluded", "sspb")


def _peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


# -- synthetic lake -------------------------------------------------------------------------------------


def month_rows(month: datetime, n: int, rng: np.random.Generator) -> pa.Table:
    """``n`` conformed matchups rows of one month."""
    from tasks.lake import conform

    end = MONTHS[MONTHS.index(month) + 1] if month != MONTHS[-1] else datetime(2025, 1, 1)
    span_us = int((end - month).total_seconds() * 1e6)
    t = np.datetime64(month, "us") + rng.integers(0, span_us, n).astype("timedelta64[us]")
    band_idx = rng.integers(0, len(BANDS), n)
    site_idx = rng.integers(0, len(SITES), n)
    product = pa.array(np.array(PRODUCTS)[rng.integers(0, len(PRODUCTS), n)])
    site = pa.array(np.array(SITES)[site_idx])
    wavelength = np.array(BANDS)[band_idx]
    # rho_w decreasing with wavelength; satellite = in situ x (1 + noise) + offset (some red values <= 0)
    insitu = 0.04 * np.exp(-(wavelength - 400) / 120) * np.exp(rng.normal(0, 0.35, n))
    sat = insitu * (1 + rng.normal(0.04, 0.1, n)) + rng.normal(0.0003, 0.0006, n)
    dt = rng.uniform(-7200, 7200, n)
    time_col = pa.array(t, pa.timestamp("us"))
    stamp = pc.strftime(time_col, format="%Y%m%dT%H%M%S")
    lat = 30 + site_idx.astype(float)
    lon = -10 + 2 * site_idx.astype(float)
    rows = pa.table({
        "insitu_id": pc.binary_join_element_wise(site, stamp, "_"),
        "site": site, "product": product,
        "granule_id": pc.binary_join_element_wise(product, pc.strftime(time_col, format="%Y%m%dT%H"), "_"),
        "wavelength": wavelength, "insitu_wavelength": wavelength + 0.5,
        "time_insitu": time_col, "time_sat": pa.array(t + (dt * 1e6).astype("timedelta64[us]"), pa.timestamp("us")),
        "dt_seconds": dt, "lat_insitu": lat, "lon_insitu": lon, "lat_sat": lat + 0.001, "lon_sat": lon,
        "distance_m": rng.uniform(0, 300, n),
        "sat_center": sat, "sat_mean": sat, "sat_median": sat, "sat_filtered_mean": sat,
        "sat_std": np.abs(sat) * 0.03, "sat_cv": np.full(n, 0.03), "homogeneity_cv": np.full(n, 0.03),
        "insitu_value": insitu,
        "failed_criteria": pa.ListArray.from_arrays(pa.array(np.zeros(n + 1, dtype=np.int32)),
                                                    pa.array([], pa.string())),
    })
    return conform("matchups", rows, insitu_source="hypernets", variable="rho_w", insitu_variable="rho_w",
                   band_mismatch_nm=0.5, unit="1", window_size=3, n_total=9, n_land=0, n_valid=9, n_filtered=9,
                   solar_zenith_angle=40.0, viewing_zenith_angle=20.0, partial_window=False, protocol="hypernets",
                   protocol_hash="0f1e2d3c4b5a", passed=True, is_primary=True, insitu_snapshot_id=1,
                   sat_snapshot_id="bench", period_start=month, period_end=end, run_id="bench",
                   created_at=datetime(2025, 1, 1))


def build_lake(settings, rows: int, seed: int, partition_by: str | None, sorted_by: str | None = None,
               row_group_size: int | None = None, months_per_commit: int = 1, shuffle: bool = False) -> float:
    """Write ``rows`` synthetic rows, one transaction per ``months_per_commit`` months; returns the wall time."""
    from tasks.lake import Lake

    rng = np.random.default_rng(seed)
    per_month = np.full(len(MONTHS), rows // len(MONTHS))
    per_month[: rows % len(MONTHS)] += 1
    t0 = time.perf_counter()
    with Lake(settings) as lake:
        if partition_by:
            lake.con.execute(f"ALTER TABLE matchups SET PARTITIONED BY ({partition_by})")
        if sorted_by:
            lake.con.execute(f"ALTER TABLE matchups SET SORTED BY ({sorted_by})")
        if row_group_size:
            lake.con.execute("CALL lake.set_option('parquet_row_group_size', ?, table_name => 'matchups')",
                             [row_group_size])
        for first in range(0, len(MONTHS), months_per_commit):
            table = pa.concat_tables([month_rows(month, int(n), rng) for month, n in
                                      zip(MONTHS[first:first + months_per_commit],
                                          per_month[first:first + months_per_commit], strict=True)])
            if shuffle:  # rows of a commit in random order (no time clustering inside the files)
                table = table.take(rng.permutation(table.num_rows))
            lake.transaction(lambda con, t=table: lake.insert(con, "matchups", t))
            del table
    return time.perf_counter() - t0


def point_queries(count: int, seed: int) -> list[tuple[str, float, datetime, datetime]]:
    """``count`` random (site, band, month start, month end) point queries."""
    rng = np.random.default_rng(seed + 1)
    out = []
    for _ in range(count):
        m = int(rng.integers(0, len(MONTHS)))
        end = MONTHS[m + 1] if m + 1 < len(MONTHS) else datetime(2025, 1, 1)
        out.append((SITES[int(rng.integers(0, len(SITES)))], BANDS[int(rng.integers(0, len(BANDS)))], MONTHS[m], end))
    return out


# -- the pandas peer ---------------------------------------------------------------------------------------


def pandas_metrics(df, keys):
    """The METRIC_COLUMNS with a vectorised pandas groupby (the peer implementation)."""
    import pandas as pd

    s, o = df["sat_filtered_mean"].to_numpy(), df["insitu_value"].to_numpy()
    keep = np.isfinite(s) & np.isfinite(o)
    d = s - o
    with np.errstate(invalid="ignore", divide="ignore"):
        rel = np.where(o != 0, d / o, np.nan)
        pos = (s > 0) & (o > 0)
        lr = np.where(pos, np.log10(np.where(pos, s, 1)) - np.log10(np.where(pos, o, 1)), np.nan)
    work = pd.DataFrame({**{k: df[k].to_numpy() for k in keys}, "x": o, "y": s, "d": d, "ad": np.abs(d), "d2": d * d,
                         "rel": rel, "arel": np.abs(rel), "lr": lr, "alr": np.abs(lr)})[keep]
    g = work.groupby(list(keys), sort=True, dropna=False)
    agg = g.agg(n=("d", "size"), bias=("d", "mean"), median_bias=("d", "median"), mae=("ad", "mean"),
                mapd=("arel", "median"), mean_sq=("d2", "mean"), rpd=("rel", "mean"), apd=("arel", "mean"),
                mean_lr=("lr", "mean"), mean_alr=("alr", "mean"), med_alr=("alr", "median"), med_lr=("lr", "median"),
                n_log=("lr", "count"), mx=("x", "mean"), my=("y", "mean"))
    dx = work["x"] - g["x"].transform("mean")
    dy = work["y"] - g["y"].transform("mean")
    sums = pd.DataFrame({**{k: work[k] for k in keys}, "sxx": dx * dx, "syy": dy * dy, "sxy": dx * dy}) \
        .groupby(list(keys), sort=True, dropna=False)[["sxx", "syy", "sxy"]].sum()
    agg = agg.join(sums)
    with np.errstate(invalid="ignore", divide="ignore"):
        ok_x = (agg["n"] >= 2) & (agg["sxx"] > 0)
        ok = ok_x & (agg["syy"] > 0)
        out = pd.DataFrame({
            "n": agg["n"], "bias": agg["bias"], "median_bias": agg["median_bias"], "mae": agg["mae"],
            "mapd": 100 * agg["mapd"], "rmsd": np.sqrt(agg["mean_sq"]), "rpd": 100 * agg["rpd"],
            "apd": 100 * agg["apd"], "log_bias": 10 ** agg["mean_lr"], "log_mae": 10 ** agg["mean_alr"],
            "mdsa": 100 * (10 ** agg["med_alr"] - 1),
            "slope_ols": (agg["sxy"] / agg["sxx"]).where(ok_x),
            "intercept_ols": (agg["my"] - agg["sxy"] / agg["sxx"] * agg["mx"]).where(ok_x),
            "slope_rma": (np.sign(agg["sxy"]) * np.sqrt(agg["syy"] / agg["sxx"])).where(ok),
            "r": (agg["sxy"] / np.sqrt(agg["sxx"] * agg["syy"])).where(ok),
            "n_log_excluded": agg["n"] - agg["n_log"],
            "sspb": 100 * np.sign(agg["med_lr"]) * (10 ** agg["med_lr"].abs() - 1)})
    out["intercept_rma"] = agg["my"] - out["slope_rma"] * agg["mx"]
    out["r2"] = out["r"] ** 2
    return out.reset_index()


# -- the two sides (each in its own subprocess) --------------------------------------------------------------


def run_oceanlake(settings, points, repeat: int) -> dict:
    from tasks.query import connect_readonly
    from tasks.validation.stats import lake_stats

    t0 = time.perf_counter()
    con = connect_readonly(settings)
    open_s = time.perf_counter() - t0
    grouped = []
    result = None
    for _ in range(repeat):
        t0 = time.perf_counter()
        result = lake_stats(settings, {}, GROUP_BY, con=con)
        grouped.append(time.perf_counter() - t0)
    for site, band, start, end in points[:3]:  # warm-up
        lake_stats(settings, {"site": site, "wavelength": band, "start": start, "end": end}, ("product",), con=con)
    point_times, point_rows = [], 0
    for site, band, start, end in points:
        t0 = time.perf_counter()
        out = lake_stats(settings, {"site": site, "wavelength": band, "start": start, "end": end}, ("product",),
                         con=con)
        point_times.append(time.perf_counter() - t0)
        point_rows += int(pc.sum(out.column("n")).as_py() or 0)
    rows_used = int(pc.sum(result.column("n")).as_py())
    con.close()
    return {"side": "oceanlake", "open_s": open_s, "grouped_s": grouped, "groups": result.num_rows,
            "rows_used": rows_used, "point_s": point_times, "point_rows": point_rows,
            "peak_rss_mb": _peak_rss_mb(), "result": result.to_pandas().to_dict(orient="list")}


def run_pandas(settings, points, repeat: int) -> dict:
    import pandas as pd

    from tasks.query import connect_readonly

    t0 = time.perf_counter()
    con = connect_readonly(settings)
    df = con.execute("SELECT product, wavelength, site, time_insitu, sat_filtered_mean, insitu_value FROM matchups "
                     "WHERE passed AND is_primary").df()
    con.close()
    for key in ("product", "site"):
        df[key] = df[key].astype("category")
    load_s = time.perf_counter() - t0
    grouped = []
    result = None
    for _ in range(repeat):
        t0 = time.perf_counter()
        result = pandas_metrics(df, GROUP_BY)
        grouped.append(time.perf_counter() - t0)
    point_times, point_rows = [], 0
    for site, band, start, end in points:
        t0 = time.perf_counter()
        mask = ((df["site"] == site) & (df["wavelength"].sub(band).abs() <= 1.0)
                & (df["time_insitu"] >= pd.Timestamp(start)) & (df["time_insitu"] < pd.Timestamp(end)))
        out = pandas_metrics(df[mask], ("product",))
        point_times.append(time.perf_counter() - t0)
        point_rows += int(out["n"].sum())
    result["product"] = result["product"].astype(str)
    result["site"] = result["site"].astype(str)
    return {"side": "pandas", "load_s": load_s, "grouped_s": grouped, "groups": len(result),
            "rows_used": int(result["n"].sum()), "point_s": point_times, "point_rows": point_rows,
            "peak_rss_mb": _peak_rss_mb(), "result": result.to_dict(orient="list")}


def _child(args) -> None:
    from tasks.config import load_settings

    settings = replace(load_settings(lake=args.lake), threads=args.threads)
    points = point_queries(args.points, args.seed)
    out = (run_oceanlake if args.child == "oceanlake" else run_pandas)(settings, points, args.repeat)
    print(json.dumps(out, default=str))


def _spawn(side: str, args, lake: str) -> dict:
    cmd = [sys.executable, __file__, "--child", side, "--lake", lake, "--threads", str(args.threads),
           "--points", str(args.points), "--seed", str(args.seed), "--repeat", str(args.repeat)]
    done = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise SystemExit(f"{side} side failed:\n{done.stderr}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def _compare(a: dict, b: dict) -> float:
    """Largest relative difference between the two sides' metrics (same groups required)."""
    import pandas as pd

    left = pd.DataFrame(a["result"]).sort_values(list(GROUP_BY)).reset_index(drop=True)
    right = pd.DataFrame(b["result"]).sort_values(list(GROUP_BY)).reset_index(drop=True)
    if not left[list(GROUP_BY)].astype(str).equals(right[list(GROUP_BY)].astype(str)):
        raise SystemExit("the two sides returned different groups")
    worst = 0.0
    for name in METRICS_CHECKED:
        x, y = left[name].to_numpy(float), right[name].to_numpy(float)
        both = np.isfinite(x) & np.isfinite(y)
        if not np.array_equal(np.isfinite(x), np.isfinite(y)):
            raise SystemExit(f"{name}: NaN in one side only")
        scale = np.maximum(np.abs(x[both]), 1e-12)
        worst = max(worst, float(np.max(np.abs(x[both] - y[both]) / scale, initial=0.0)))
    return worst


def _p(values, q) -> float:
    return float(np.percentile(values, q)) * 1000


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=10_000_000, help="match-up rows to write (default 10^7)")
    parser.add_argument("--lake", help="lake folder (default: a temporary folder); an existing lake with "
                                       "matchups rows is reused as is (no rows written)")
    parser.add_argument("--partition-by", default=None,
                        help="override the matchups partitioning for a new lake, e.g. "
                             "'product, year(time_insitu)' (default: lake_schema/tables.yaml)")
    parser.add_argument("--sorted-by", default=None,
                        help="DuckLake sort order of a new lake's matchups files, e.g. 'site, wavelength, time_insitu'")
    parser.add_argument("--row-group-size", type=int, default=None,
                        help="Parquet row group size of a new lake's matchups files (DuckLake default 122880)")
    parser.add_argument("--months-per-commit", type=int, default=1,
                        help="months of rows per DuckLake commit (a match-up run's period; default 1)")
    parser.add_argument("--shuffle", action="store_true",
                        help="write each commit's rows in random order (default: time-ordered months)")
    parser.add_argument("--threads", type=int, default=2, help="DuckDB threads (default 2)")
    parser.add_argument("--points", type=int, default=50, help="point queries (default 50)")
    parser.add_argument("--repeat", type=int, default=3, help="grouped query runs, best reported (default 3)")
    parser.add_argument("--sides", default="oceanlake,pandas", help="comma-separated: oceanlake,pandas")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--json", type=Path, help="also write the numbers to this JSON file")
    parser.add_argument("--child", choices=("oceanlake", "pandas"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        _child(args)
        return 0

    from tasks.config import load_settings
    from tasks.lake import Lake

    tmp = None
    if args.lake is None:
        tmp = tempfile.TemporaryDirectory(prefix="bench-stats-")
        args.lake = str(Path(tmp.name) / "lake")
    settings = replace(load_settings(lake=args.lake), threads=args.threads)
    existing = 0
    if Path(settings.catalog.split(":", 1)[1]).exists():
        with Lake(settings) as lake:
            existing = lake.count("matchups")
    if existing:
        print(f"reusing {args.lake}: {existing:,} matchups rows")
    else:
        build_s = build_lake(settings, args.rows, args.seed, args.partition_by, args.sorted_by, args.row_group_size,
                             args.months_per_commit, args.shuffle)
        print(f"wrote {args.rows:,} matchups rows into {args.lake} in {build_s:.1f} s "
              f"({args.months_per_commit} month(s) per commit{', rows shuffled' if args.shuffle else ''})")
    with Lake(settings) as lake:
        files = lake.con.execute("SELECT count(*) FROM ducklake_list_files('lake', 'matchups')").fetchone()[0]
    print(f"matchups data files: {files}; partitioning: {args.partition_by or 'lake_schema/tables.yaml'}; "
          f"sorted by: {args.sorted_by or '-'}; row group size: {args.row_group_size or 'default'}")
    results = {side: _spawn(side, args, args.lake) for side in args.sides.split(",")}
    print(f"\n{'side':<10} {'rows':>11} {'groups':>6} {'grouped s':>9} {'point p50 ms':>12} {'point p95 ms':>12} "
          f"{'peak RSS MB':>11}  other")
    for side, r in results.items():
        other = (f"connection open {r['open_s']:.2f} s" if side == "oceanlake"
                 else f"load into pandas {r['load_s']:.2f} s")
        print(f"{side:<10} {r['rows_used']:>11,} {r['groups']:>6} {min(r['grouped_s']):>9.2f} "
              f"{_p(r['point_s'], 50):>12.1f} {_p(r['point_s'], 95):>12.1f} {r['peak_rss_mb']:>11.0f}  {other}")
    if "oceanlake" in results:
        r = results["oceanlake"]
        ok_grouped = min(r["grouped_s"]) < 5.0
        ok_point = _p(r["point_s"], 50) < 50.0
        print(f"\ngrouped statistics over {r['rows_used']:,} rows: {min(r['grouped_s']):.2f} s "
              f"({'meets' if ok_grouped else 'MISSES'} the < 5 s target); all runs: "
              + ", ".join(f"{t:.2f}" for t in r["grouped_s"]))
        print(f"point query p50 {_p(r['point_s'], 50):.1f} ms ({'meets' if ok_point else 'MISSES'} the < 50 ms "
              f"target), {r['point_rows']:,} rows over {len(r['point_s'])} queries")
    if len(results) == 2:
        a, b = results["oceanlake"], results["pandas"]
        print(f"pandas/oceanlake time ratio: grouped {min(b['grouped_s']) / min(a['grouped_s']):.2f}, "
              f"point p50 {_p(b['point_s'], 50) / _p(a['point_s'], 50):.2f}")
        print(f"same groups and metrics on both sides: max relative difference {_compare(a, b):.1e}")
    if args.json:
        for r in results.values():
            r.pop("result", None)
        args.json.write_text(json.dumps(results, indent=1, default=str))
    if tmp is not None:
        tmp.cleanup()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
