#!/usr/bin/env python
"""Benchmark: satellite ingestion throughput (MB/s of source files) against netCDF4 decode-only.

What is compared
    The practical limit on this machine is the time netCDF4 needs to only decode the product's
    variables from the same files (read every array into memory, nothing else). oceanlake's
    ``ingest_satellite`` does that decoding and also checksums the file, computes the valid and
    implausible fractions, runs the great-expectations gate, writes the Zarr v3 cube (one
    Icechunk commit per granule) and records the granule in DuckLake.

    ratio = decode-only time / oceanlake ingest time   (target >= 0.5)

Cases
    * ``l3m``   real PACE OCI L3m chlor_a 0.1° global files (../shared/realdata/satellite_pace), copied
                N times with distinct dates (grid product: appends to one cube);
    * ``swath`` synthetic PACE OCI L2 AOP granules (Rrs 3-D, l2_flags) in the real format, N granules
                (swath product: one Zarr group per granule).

How
    Each (case, granule count) runs ``ingest_satellite`` in a fresh child process, after a warm-up
    ingest of one more granule into another lake (imports, great-expectations suites, DuckDB
    extensions); the ingest time is the wall time of the call (it opens the lake, a new one) and
    the best of ``--repeat`` runs; decode-only is the best of max(2, repeat) runs in the parent.
    ``--existing-lake`` opens the lake once before the timed ingest (catalog, tables and views
    created: a daily run) instead of ingesting into a new one.
    ``--profile N`` prints the child's cProfile top N functions. Each line also gives the CPU
    seconds of both sides (process CPU time, all threads; the ingest's of its best run) and the
    1-minute load average at the end of the case: on shared cores, wall times follow the load.

Fixed and marginal costs
    With two or more ``--scales``, the end-to-end numbers are followed by the marginal cost of a
    granule between the smallest and largest count, ``(t_large - t_small) / (n_large - n_small)``
    for both sides (its MB/s and ratio), and the fixed cost of a run, ``t_small - n_small x
    marginal`` (opening the lake, filling and draining the pipeline, the last catalog commit).
    The child also times opening a new lake and re-opening the one it ingested into, alone,
    after the timed ingest (``lake open``).

Memory: peak RSS of the ingesting process (``VmHWM`` of the child) at few and many granules must
stay flat (bounded by a few granules, not by the number of files).

Run ``python benchmarks/bench_satellite_ingest.py --help``.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
REALDATA = (REPO / ".." / "shared" / "realdata").resolve()
PACE_L3M = REALDATA / "satellite_pace" / "PACE_OCI.20240614.L3m.DAY.CHL.V3_0.chlor_a.0p1deg.nc"
CASES = {"l3m": "pace-oci-l3m", "swath": "pace-oci-l2-aop"}


def product_paths(product_id: str, path: Path) -> list[str]:
    """In-file paths of every variable the product definition ingests that exist in ``path``."""
    import netCDF4

    sys.path.insert(0, str(REPO))
    import lake_schema

    product = lake_schema.product(product_id)
    candidates = [p for v in product.variables.values() for p in v.paths]
    candidates += [p for paths in product.angles.values() for p in paths]
    candidates += list(product.flags.paths) if product.flags else []
    found = []
    with netCDF4.Dataset(path) as ds:
        for name in candidates:
            group, _, var = name.rpartition("/")
            try:
                node = ds[group] if group else ds
            except (KeyError, IndexError):
                continue
            if var in node.variables:
                found.append(name)
    return found


def make_l3m(folder: Path, n: int) -> list[Path]:
    """N copies of the real PACE L3m file with distinct dates (netCDF4 edits attributes only)."""
    import netCDF4

    files = []
    for k in range(n):
        day = datetime(2024, 7, 1, tzinfo=UTC) + timedelta(days=k)
        target = folder / f"PACE_OCI.{day:%Y%m%d}.L3m.DAY.CHL.V3_0.chlor_a.0p1deg.nc"
        shutil.copy(PACE_L3M, target)
        with netCDF4.Dataset(target, "a") as ds:
            ds.time_coverage_start = f"{day:%Y-%m-%d}T00:10:00.000Z"
            ds.time_coverage_end = f"{day + timedelta(days=1):%Y-%m-%d}T02:00:00.000Z"
        files.append(target)
    return files


def make_swath(folder: Path, n: int) -> list[Path]:
    """N synthetic PACE OCI L2 AOP granules in the real format."""
    sys.path.insert(0, str(REPO))
    from tasks.synthetic import write_pace_l2_aop

    start = datetime(2024, 6, 14, 10, 0, tzinfo=UTC)
    return [write_pace_l2_aop(folder, start + timedelta(minutes=5 * k), 40.0 + k * 0.1, -30.0, shape=(400, 300),
                              seed=k) for k in range(n)]


def decode_only(files: list[Path], variables: list[str]) -> tuple[float, float]:
    """Seconds (wall, CPU) netCDF4 needs to read the variables of every file into memory."""
    import netCDF4

    t0, c0 = time.perf_counter(), time.process_time()
    for path in files:
        with netCDF4.Dataset(path) as ds:
            for name in variables:
                group, _, var = name.rpartition("/")
                node = ds[group] if group else ds
                node[var][:]
    return time.perf_counter() - t0, time.process_time() - c0


def peak_rss_mb() -> float:
    """Peak RSS of this process, MB.

    ``VmHWM`` of ``/proc/self/status``: ``ru_maxrss`` of a child started by ``subprocess`` also
    counts the parent's peak (Linux carries the high-water mark of the replaced memory map over
    ``exec``), which is the benchmark parent's decode-only peak, not the ingest's.
    """
    try:
        status = Path("/proc/self/status").read_text()
        return int(status.split("VmHWM:")[1].split()[0]) / 1024
    except (OSError, IndexError, ValueError):
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def child(spec_path: str) -> None:
    """Ingest in this fresh process; print JSON with wall seconds and peak RSS."""
    spec = json.loads(Path(spec_path).read_text())
    os.environ["OCEANLAKE_CACHE"] = spec["cache"]
    sys.path.insert(0, str(REPO))
    from tasks.config import load_settings
    from tasks.ingest_satellite import ingest_satellite

    warm = load_settings(lake=spec["lake"] + "-warmup")
    # one-time process costs: imports, GE suites, DuckDB extensions
    ingest_satellite(spec["product"], spec["warmup"], warm)
    settings = load_settings(lake=spec["lake"])
    if spec.get("existing"):  # the daily case: the lake's catalog, tables and views exist already
        from tasks.lake import Lake

        Lake(settings).close()
    profiler = None
    if spec.get("profile"):
        import cProfile

        profiler = cProfile.Profile()
        profiler.enable()
    t0, c0 = time.perf_counter(), time.process_time()
    summary = ingest_satellite(spec["product"], spec["files"], settings)
    wall, cpu = time.perf_counter() - t0, time.process_time() - c0
    peak = peak_rss_mb()
    if profiler is not None:
        import pstats

        profiler.disable()
        stats = pstats.Stats(profiler, stream=sys.stderr).strip_dirs()
        stats.sort_stats("cumulative").print_stats(spec["profile"])
        stats.sort_stats("tottime").print_stats(spec["profile"])
    from tasks.lake import Lake

    t0 = time.perf_counter()  # the lake opening alone, as in the ingest (DuckDB instance of an earlier session)
    Lake(load_settings(lake=spec["lake"] + "-open")).close()
    open_new = time.perf_counter() - t0
    t0 = time.perf_counter()
    Lake(settings).close()
    open_existing = time.perf_counter() - t0
    print(json.dumps({"wall": wall, "cpu": cpu, "peak_mb": peak, "ingested": summary.files_ingested,
                      "quarantined": summary.files_quarantined, "open_new": open_new,
                      "open_existing": open_existing}))


def run_case(case: str, n: int, tmp: Path, profile: int = 0, repeat: int = 1, existing: bool = False) -> dict:
    product = CASES[case]
    folder = tmp / f"{case}-{n}"
    folder.mkdir()
    files = (make_l3m if case == "l3m" else make_swath)(folder, n + 1)
    warmup, files = files[:1], files[1:]
    variables = product_paths(product, files[0])
    size_mb = sum(p.stat().st_size for p in files) / 2**20
    decode_only(files, variables)  # page cache warm for both sides
    decode, decode_cpu = min(decode_only(files, variables) for _ in range(max(2, repeat)))
    results = []
    for attempt in range(repeat):  # each in a fresh process, into a fresh lake
        spec = tmp / f"spec-{case}-{n}-{attempt}.json"
        spec.write_text(json.dumps({"product": product, "files": [str(p) for p in files],
                                    "warmup": [str(p) for p in warmup],
                                    "lake": str(tmp / f"lake-{case}-{n}-{attempt}"),
                                    "cache": str(tmp / "cache"), "profile": profile,
                                    "existing": existing}))
        out = subprocess.run([sys.executable, __file__, "--child", str(spec)], capture_output=True, text=True,
                             check=True, env={**os.environ, "PREFECT_SERVER_ANALYTICS_ENABLED": "false"})
        if profile:
            print(out.stderr, file=sys.stderr)
        results.append(json.loads(out.stdout.strip().splitlines()[-1]))
    best = min(results, key=lambda r: r["wall"])  # best of --repeat, like the decode-only side
    wall = best["wall"]
    return {"case": case, "granules": n, "source_mb": size_mb, "decode_s": decode, "ingest_s": wall,
            "ingest_walls": [r["wall"] for r in results], "decode_cpu_s": decode_cpu, "ingest_cpu_s": best["cpu"],
            "load_average": os.getloadavg()[0], "decode_mb_s": size_mb / decode,
            "ingest_mb_s": size_mb / wall, "ratio": decode / wall,
            "peak_rss_mb": max(r["peak_mb"] for r in results), "ingested": results[0]["ingested"],
            "open_new_s": min(r["open_new"] for r in results),
            "open_existing_s": min(r["open_existing"] for r in results), "variables": variables}


def marginal(rows: list[dict]) -> dict | None:
    """Cost of one more granule between the smallest and largest count of a case, and the fixed cost of a run."""
    if len(rows) < 2:
        return None
    small, large = min(rows, key=lambda r: r["granules"]), max(rows, key=lambda r: r["granules"])
    extra = large["granules"] - small["granules"]
    ingest = (large["ingest_s"] - small["ingest_s"]) / extra
    decode = (large["decode_s"] - small["decode_s"]) / extra
    mb = (large["source_mb"] - small["source_mb"]) / extra
    return {"from": small["granules"], "to": large["granules"], "ingest_s": ingest, "decode_s": decode,
            "ingest_mb_s": mb / ingest if ingest > 0 else float("inf"),
            "decode_mb_s": mb / decode if decode > 0 else 0.0,
            "ratio": decode / ingest if ingest > 0 else float("inf"),
            "fixed_s": small["ingest_s"] - small["granules"] * ingest,
            "open_new_s": min(r["open_new_s"] for r in rows),
            "open_existing_s": min(r["open_existing_s"] for r in rows)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cases", default="l3m,swath", help="comma-separated cases: l3m, swath")
    parser.add_argument("--scales", default="2,10,30", help="numbers of granules (memory flatness: small vs large)")
    parser.add_argument("--json", help="also write the results to this JSON file")
    parser.add_argument("--repeat", type=int, default=1,
                        help="ingest runs per case (fresh process and lake each); the best wall time is kept "
                             "(decode-only: best of max(2, repeat)); peak RSS is the highest of the runs")
    parser.add_argument("--existing-lake", action="store_true",
                        help="ingest into a lake whose catalog, tables and views exist already (a daily run), "
                             "not a new one (the default: the lake opening then creates them)")
    parser.add_argument("--profile", type=int, default=0, metavar="N",
                        help="cProfile the ingest in the child; print its top N functions (cumulative, own time)")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.child)
        return
    if "l3m" in args.cases and not PACE_L3M.exists():
        print(f"SKIP: real PACE L3m file not found under {REALDATA} (needed for the l3m case)")
        return
    rows = []
    with tempfile.TemporaryDirectory(prefix="bench_sat_") as tmp:
        for case in args.cases.split(","):
            for n in (int(s) for s in args.scales.split(",")):
                rows.append(run_case(case, n, Path(tmp), args.profile, args.repeat, args.existing_lake))
                r = rows[-1]
                print(f"{case:6s} {n:3d} granules {r['source_mb']:7.1f} MB  decode {r['decode_mb_s']:7.1f} MB/s  "
                      f"ingest {r['ingest_mb_s']:7.1f} MB/s  ratio {r['ratio']:.2f}  "
                      f"peak RSS {r['peak_rss_mb']:.0f} MB  CPU s decode {r['decode_cpu_s']:.2f} ingest "
                      f"{r['ingest_cpu_s']:.2f}  load {r['load_average']:.1f}  ({', '.join(r['variables'])})",
                      flush=True)
    print("\nratio = netCDF4 decode-only time / oceanlake ingest time (target >= 0.5)")
    margins = {}
    for case in args.cases.split(","):
        mine = [r for r in rows if r["case"] == case]
        if len(mine) > 1:
            print(f"{case}: peak RSS {mine[-1]['granules']}x / {mine[0]['granules']}x granules = "
                  f"{mine[-1]['peak_rss_mb'] / mine[0]['peak_rss_mb']:.2f}")
        m = margins[case] = marginal(mine)
        if m is not None:
            print(f"{case}: marginal granule ({m['from']} -> {m['to']} granules): decode {m['decode_s']:.3f} s "
                  f"({m['decode_mb_s']:.1f} MB/s), ingest {m['ingest_s']:.3f} s ({m['ingest_mb_s']:.1f} MB/s), "
                  f"marginal ratio {m['ratio']:.2f}")
            print(f"{case}: fixed cost of a run (t{m['from']} - {m['from']} x marginal) {m['fixed_s']:.2f} s; "
                  f"lake open alone: new lake {m['open_new_s']:.3f} s, existing lake {m['open_existing_s']:.3f} s")
    if args.json:
        Path(args.json).write_text(json.dumps({"runs": rows, "marginal": margins}, indent=2))


if __name__ == "__main__":
    main()
