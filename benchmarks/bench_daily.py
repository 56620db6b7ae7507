#!/usr/bin/env python
"""Benchmark: the daily pipeline end to end, direct vs through Prefect, and a backfill on threads vs Dask.

What is measured
    1. One synthetic day (default 50 granules = 1 OC-CCI daily file + 49 OLCI WFR swaths, 200 Argo
       profiles, 10 HYPERNETS stations x 4 sequences; ``tasks/synthetic/day.py``) processed end to end
       (ingest -> match-ups of argo x occi-l3 and hypernets x olci-l2-wfr -> quality gate ->
       statistics -> report) on a fresh local lake:

       * direct: ``tasks.pipeline.run_day`` (the step functions called in a row, no Prefect);
       * Prefect: the ``daily`` flow (``flows/daily.py``: one task per step) on the ephemeral local
         API, started and warmed up before timing.

       Orchestration overhead = (Prefect wall time - direct wall time) / direct wall time. The two
       sides alternate ``--repeat`` times (fresh lake each time, same files); medians are compared.
       A small warm-up day runs first (extensions, caches, ephemeral API).
    2. ``--days`` consecutive synthetic days (smaller by default, see --backfill-*) with the
       ``backfill`` flow: sequential (``max_concurrency=1`` on threads) vs a Dask LocalCluster of
       ``--workers`` single-threaded worker processes (prefect-dask ``DaskTaskRunner``). Speed-up =
       sequential / Dask wall time (the Dask side includes starting the cluster).

Run ``python benchmarks/bench_daily.py --help``; results are printed and, with ``--json``, saved.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import sys
import tempfile
import time
from datetime import date, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

DAY = date(2024, 3, 5)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description="Daily pipeline benchmark: one synthetic day direct (tasks.pipeline.run_day) vs the Prefect "
                    "'daily' flow (orchestration overhead), and a backfill sequential vs Dask (speed-up).",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.add_argument("--granules", type=int, default=50, help="satellite granules of the day (1 OC-CCI + OLCI)")
    parser.add_argument("--profiles", type=int, default=200, help="Argo profiles of the day")
    parser.add_argument("--stations", type=int, default=10, help="HYPERNETS stations (4 sequences each)")
    parser.add_argument("--repeat", type=int, default=2, help="direct/Prefect runs of the day, alternated")
    parser.add_argument("--days", type=int, default=10, help="days of the backfill (0: skip the backfill)")
    parser.add_argument("--backfill-granules", type=int, default=12, help="granules per backfill day")
    parser.add_argument("--backfill-profiles", type=int, default=50, help="Argo profiles per backfill day")
    parser.add_argument("--backfill-stations", type=int, default=4, help="HYPERNETS stations per backfill day")
    parser.add_argument("--workers", type=int, default=2, help="Dask LocalCluster workers (= days at a time)")
    parser.add_argument("--skip-day", action="store_true", help="only run the backfill comparison")
    parser.add_argument("--work-dir", type=Path, default=None, help="where data and lakes go (default: a temp dir)")
    parser.add_argument("--json", type=Path, default=None, help="also write the results to this JSON file")
    return parser.parse_args(argv)


def _write_config(data: Path, out: Path) -> Path:
    import yaml

    from tasks.synthetic.day import pipeline_config

    out.write_text(yaml.safe_dump(pipeline_config(data)), encoding="utf-8")
    return out


def _time_direct(config: Path, day: date, lake: Path) -> tuple[float, dict]:
    from tasks.config import load_settings
    from tasks.pipeline import load_pipeline_config, run_day

    started = time.perf_counter()
    summary = run_day(load_pipeline_config(config), day, load_settings(lake=str(lake)))
    return time.perf_counter() - started, summary.as_dict()


def _time_flow(config: Path, day: date, lake: Path) -> tuple[float, dict]:
    from flows.daily import daily

    started = time.perf_counter()
    summary = daily(date=day.isoformat(), config=str(config), lake=str(lake))
    return time.perf_counter() - started, summary


def _counts(summary: dict) -> tuple:
    return summary["ingested"], summary["quarantined"], summary["matched"], summary["rejected"]


def bench_day(args: argparse.Namespace, work: Path) -> dict:
    """Wall times of one day direct vs through the flow, and the overhead."""
    from tasks.synthetic.day import write_synthetic_day

    started = time.perf_counter()
    written = write_synthetic_day(work / "day", DAY, n_granules=args.granules, n_profiles=args.profiles,
                                  n_stations=args.stations)
    generated = time.perf_counter() - started
    config = _write_config(work / "day", work / "day.yaml")
    warm = work / "warm"
    write_synthetic_day(warm, DAY, n_granules=3, n_profiles=4, n_stations=1)
    _time_flow(_write_config(warm, work / "warm.yaml"), DAY, work / "lake-warm")  # imports, extensions, API
    direct, flow, counts = [], [], set()
    for k in range(args.repeat):
        seconds, summary = _time_direct(config, DAY, work / f"lake-direct-{k}")
        direct.append(seconds)
        counts.add(_counts(summary))
        seconds, summary = _time_flow(config, DAY, work / f"lake-flow-{k}")
        flow.append(seconds)
        counts.add(_counts(summary))
        print(f"  run {k + 1}/{args.repeat}: direct {direct[-1]:.1f} s, Prefect flow {flow[-1]:.1f} s", flush=True)
    if len(counts) != 1:
        raise SystemExit(f"direct and flow runs disagree on (ingested, quarantined, matched, rejected): {counts}")
    d, f = statistics.median(direct), statistics.median(flow)
    return {"granules": len(written.occi) + len(written.olci), "profiles": len(written.argo),
            "stations": args.stations, "hypernets_files": len(written.hypernets), "generate_s": round(generated, 1),
            "direct_s": [round(x, 2) for x in direct], "flow_s": [round(x, 2) for x in flow],
            "direct_median_s": round(d, 2), "flow_median_s": round(f, 2), "overhead_pct": round(100 * (f - d) / d, 1),
            "counts_ingested_quarantined_matched_rejected": list(counts.pop())}


def bench_backfill(args: argparse.Namespace, work: Path) -> dict:
    """Backfill wall time sequential (1 thread) vs a Dask LocalCluster, and the speed-up."""
    from flows.daily import backfill
    from tasks.synthetic.day import write_synthetic_day

    first, last = DAY, DAY + timedelta(days=args.days - 1)
    data = work / "backfill"
    for k in range(args.days):
        write_synthetic_day(data, first + timedelta(days=k), n_granules=args.backfill_granules,
                            n_profiles=args.backfill_profiles, n_stations=args.backfill_stations, seed=k)
    config = _write_config(data, work / "backfill.yaml")
    results = {}
    for name, runner, concurrency in (("sequential", "thread", 1), ("dask", "dask", args.workers)):
        started = time.perf_counter()
        out = backfill(start=first.isoformat(), end=last.isoformat(), config=str(config),
                       lake=str(work / f"lake-backfill-{name}"), max_concurrency=concurrency, task_runner=runner)
        results[name] = (time.perf_counter() - started, (out["ingested"], out["matched"], out["rejected"]))
        print(f"  backfill {name}: {results[name][0]:.1f} s", flush=True)
    if results["sequential"][1] != results["dask"][1]:
        raise SystemExit(f"sequential and Dask backfills disagree: {results}")
    seq, dask = results["sequential"][0], results["dask"][0]
    return {"days": args.days, "granules_per_day": args.backfill_granules, "profiles_per_day": args.backfill_profiles,
            "stations_per_day": args.backfill_stations, "workers": args.workers, "sequential_s": round(seq, 1),
            "dask_s": round(dask, 1), "speedup": round(seq / dask, 2),
            "counts_ingested_matched_rejected": list(results["dask"][1])}


def main(argv: list[str] | None = None) -> dict:
    args = parse_args(argv)
    work = args.work_dir or Path(tempfile.mkdtemp(prefix="bench-daily-"))
    work.mkdir(parents=True, exist_ok=True)
    os.environ.setdefault("PREFECT_HOME", str(work / "prefect-home"))
    os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
    os.environ.setdefault("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", "180")
    os.environ.setdefault("PREFECT_LOGGING_LEVEL", "WARNING")
    os.environ.setdefault("OCEANLAKE_CACHE", str(work / "cache"))
    os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")
    results: dict = {"cpus": os.cpu_count()}
    try:
        if not args.skip_day:
            print(f"one day: {args.granules} granules, {args.profiles} profiles, {args.stations} stations", flush=True)
            results["day"] = bench_day(args, work)
            day = results["day"]
            print(f"day: direct {day['direct_median_s']} s, Prefect flow {day['flow_median_s']} s, "
                  f"orchestration overhead {day['overhead_pct']} % (target <= 15 %)", flush=True)
        if args.days:
            print(f"backfill: {args.days} days of {args.backfill_granules} granules, {args.backfill_profiles} "
                  f"profiles, {args.backfill_stations} stations", flush=True)
            results["backfill"] = bench_backfill(args, work)
            bf = results["backfill"]
            print(f"backfill: sequential {bf['sequential_s']} s, Dask {bf['workers']} workers {bf['dask_s']} s, "
                  f"speed-up {bf['speedup']}x", flush=True)
    finally:
        if args.work_dir is None:
            shutil.rmtree(work, ignore_errors=True)
    print(json.dumps(results))
    if args.json:
        args.json.write_text(json.dumps(results, indent=2), encoding="utf-8")
    return results


if __name__ == "__main__":  # the guard keeps Dask's spawned workers from re-running the benchmark
    main()
