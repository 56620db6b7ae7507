#!/usr/bin/env python
"""Benchmark: match-up candidate search, binned DuckDB equi-join vs a plain range join.

What is compared
    ``tasks.matchup.candidates.find_candidates`` (space-time cells, equi-join, then the exact
    predicate) against the same question asked as a plain ``BETWEEN`` range join in DuckDB, on the
    same random observations (global, one year) and granule footprints (swath-like boxes of
    ~ 10-20 degrees, 5-minute granules, +-3 h window). Both must return the same pairs.

    The target is < 2 s for 10^6 observations x 10^5 granules (binned join). The range join is
    quadratic, so it runs on ``--naive-obs`` x ``--naive-granules`` (default 10^5 x 10^4) and the
    binned join is timed on that size too for the ratio.

Run ``python benchmarks/bench_matchup_candidates.py --help``.
"""

from __future__ import annotations

import argparse
import resource
import sys
import time
from pathlib import Path

import duckdb
import numpy as np
import pyarrow as pa

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from tasks.matchup.candidates import find_candidates  # noqa: E402

WINDOW_S = 3 * 3600.0
YEAR_S = 365 * 86_400
T0 = np.datetime64("2024-01-01T00:00:00", "us")


def observations(n: int, rng: np.random.Generator) -> pa.Table:
    return pa.table({
        "obs": np.arange(n, dtype=np.int64),
        "time": T0 + (rng.uniform(0, YEAR_S, n) * 1e6).astype("timedelta64[us]"),
        "latitude": rng.uniform(-80, 80, n), "longitude": rng.uniform(-180, 180, n)})


def granules(n: int, rng: np.random.Generator) -> pa.Table:
    start = T0 + (rng.uniform(0, YEAR_S, n) * 1e6).astype("timedelta64[us]")
    lat0, lon0 = rng.uniform(-85, 70, n), rng.uniform(-180, 160, n)
    return pa.table({
        "gran": np.arange(n, dtype=np.int64), "time_start": start,
        "time_end": start + np.timedelta64(300, "s"),
        "lat_min": lat0, "lat_max": lat0 + rng.uniform(10, 15, n),
        "lon_min": lon0, "lon_max": lon0 + rng.uniform(10, 20, n)})


def naive(obs: pa.Table, gran: pa.Table) -> pa.Table:
    con = duckdb.connect()
    con.register("o", obs)
    con.register("g", gran)
    return con.execute("""
        select o.obs, g.gran from o join g
          on o.latitude between g.lat_min and g.lat_max
         and o.longitude between g.lon_min and g.lon_max
         and epoch(o.time) between epoch(g.time_start) + (epoch(g.time_end) - epoch(g.time_start)) / 2 - $w
                               and epoch(g.time_start) + (epoch(g.time_end) - epoch(g.time_start)) / 2 + $w
        order by 1, 2""", {"w": WINDOW_S}).to_arrow_table()


def timed(fn, *args, repeat: int = 3):
    best, out = float("inf"), None
    for _ in range(repeat):
        t0 = time.perf_counter()
        out = fn(*args)
        best = min(best, time.perf_counter() - t0)
    return best, out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--obs", type=int, default=1_000_000, help="observations for the target run")
    parser.add_argument("--granules", type=int, default=100_000, help="granule footprints for the target run")
    parser.add_argument("--naive-obs", type=int, default=100_000, help="observations for the side-by-side run")
    parser.add_argument("--naive-granules", type=int, default=10_000, help="granules for the side-by-side run")
    parser.add_argument("--repeat", type=int, default=3, help="best of N runs")
    args = parser.parse_args()
    rng = np.random.default_rng(42)

    obs, gran = observations(args.naive_obs, rng), granules(args.naive_granules, rng)
    t_naive, pairs_naive = timed(naive, obs, gran, repeat=1)
    t_binned, pairs = timed(lambda o, g: find_candidates(o, g, WINDOW_S), obs, gran, repeat=args.repeat)
    same = pairs.select(["obs", "gran"]).equals(pairs_naive)
    print(f"side by side {args.naive_obs:,} obs x {args.naive_granules:,} granules: range join {t_naive:.2f} s, "
          f"binned join {t_binned:.3f} s, ratio {t_naive / t_binned:.1f}x, pairs {pairs.num_rows:,} "
          f"({'identical' if same else 'DIFFERENT'})")

    obs, gran = observations(args.obs, rng), granules(args.granules, rng)
    t_big, pairs = timed(lambda o, g: find_candidates(o, g, WINDOW_S), obs, gran, repeat=args.repeat)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    verdict = "meets" if t_big < 2 else "MISSES"
    print(f"target {args.obs:,} obs x {args.granules:,} granules: binned join {t_big:.2f} s "
          f"({args.obs / t_big:,.0f} observations/s), {pairs.num_rows:,} candidate pairs, peak RSS {peak:.0f} MB "
          f"({verdict} the < 2 s target)")
    if not same:
        sys.exit(1)


if __name__ == "__main__":
    main()
