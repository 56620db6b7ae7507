#!/usr/bin/env python
"""Benchmark: load every profile of real Argo multi-profile files, oceanlake vs argopy.

What is compared
    Both sides turn the same real ``*_Sprof.nc`` (BGC synthetic, float 3902131, 162 profiles) and
    ``*_prof.nc`` (core, float 5900865, 80 profiles) files into one profile-level table
    (platform, cycle, direction, time, latitude, longitude):

    * argopy:    ``argopy.DataFetcher(src='gdac', gdac=<local mirror>, ds=..., mode='expert')
                 .float(WMOs).to_xarray().argo.point2profile()`` -> pandas DataFrame, with
                 ``ds='bgc'`` for the Sprof floats and ``ds='phy'`` for the core floats.
    * oceanlake: ``tasks.ingest.ingest_insitu('argo', files, settings)`` into a fresh local lake.
                 It does MORE than argopy: it also writes every measurement in long form
                 (``argo_measurements``), runs the quality gate, computes surface chlorophyll,
                 checksums every file and commits transactionally (DuckLake + Parquet).

    Afterwards the two profile tables are compared (same keys, positions and times).

How it is measured
    Every (side, scale) runs in its own fresh Python subprocess, so imports and peak RSS are
    measured separately. In the child: import time; a warm-up on a tiny single-cycle file (first-call
    costs: lazy imports, DuckDB extensions, netCDF engines); then ``--repeat`` timed runs (fresh lake
    each time for oceanlake). Throughput = profiles / wall seconds of the best run. Peak RSS is
    ``ru_maxrss`` of the child after the first timed run (includes imports and warm-up); the peak
    after all repeats is shown too (allocator retention makes it drift up in both libraries).

Scales
    1x  = the two real files. Nx = N copies of each, written with netCDF4 into distinct float
    directories of a temporary GDAC mirror, with a distinct PLATFORM_NUMBER (fake WMO 9xxxxxx) and
    a ``history`` line appended, so that oceanlake's checksum dedup does not skip them and argopy
    finds them through index entries written for the fake WMOs. The real files are never copied
    into the repository; the mirror lives in a temporary directory that is removed at the end.

Offline argopy
    The mirror holds ``dac/<dac>/<wmo>/<wmo>_{S,}prof.nc`` plus the index files
    (``ar_index_global_prof.txt.gz``, ``argo_synthetic-profile_index.txt.gz``,
    ``argo_bio-profile_index.txt.gz``) at its root, and argopy's cachedir points into the temporary
    directory: no network call is made. argopy 1.5.0 keeps the netCDF engine it chose for the first
    file in a mutable default argument (``filestore.open_dataset(xr_opts={})``), so an HDF5 Sprof
    file opened after a NetCDF3 prof file fails; the benchmark clears that dict before each fetch.

Examples
    python benchmarks/bench_argo_ingest.py                       # 1x and 10x, 1 repeat
    python benchmarks/bench_argo_ingest.py --repeat 3 --scale 1,10 --json out.json
    python benchmarks/bench_argo_ingest.py --side oceanlake --profile   # + cProfile of oceanlake

Skips (exit 0) with a message when ../shared/realdata is absent.
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
REALDATA = (REPO / ".." / "shared" / "realdata").resolve()
ARGO = REALDATA / "argo"
TARGET_RATIO = 5.0

#: The real multi-profile files: (file name, DAC, WMO, argopy dataset id).
FLOATS = (("3902131_Sprof.nc", "coriolis", 3902131, "bgc"), ("5900865_prof.nc", "csiro", 5900865, "phy"))
#: Single-cycle files used for the warm-up (argopy: ``.profile(wmo, 1)``; oceanlake: ingest).
WARMUP_FILES = (("SD3902131_001.nc", "coriolis", 3902131), ("D5900865_001.nc", "csiro", 5900865))
INDEX_FILES = ("ar_index_global_prof.txt.gz", "argo_synthetic-profile_index.txt.gz", "argo_bio-profile_index.txt.gz")
PROFILE_COLUMNS = ["platform_number", "cycle_number", "direction", "time", "latitude", "longitude"]


# --------------------------------------------------------------------------------------------- mirror
@dataclass
class Mirror:
    """A temporary local GDAC mirror for one scale."""

    root: Path
    files: list[str]  # multi-profile files, in order
    wmos: dict[str, list[int]]  # argopy dataset id -> WMOs


def _fake_wmo(j: int, k: int) -> int:
    return 9_000_000 + 1000 * j + k


def _write_copy(src: Path, dst: Path, wmo: int, k: int) -> None:
    """Copy ``src`` to ``dst`` with PLATFORM_NUMBER set to ``wmo`` and a history line appended."""
    import netCDF4
    import numpy as np

    shutil.copyfile(src, dst)
    dst.chmod(0o644)
    with netCDF4.Dataset(dst, "a") as ds:
        var = ds["PLATFORM_NUMBER"]
        var.set_auto_mask(False)
        width = var.shape[1]
        chars = np.array(list(str(wmo).ljust(width)), dtype="S1")
        var[:] = np.broadcast_to(chars, var.shape)
        history = getattr(ds, "history", "")
        ds.history = f"{history}\nbench_argo_ingest: copy {k} of {src.name} as float {wmo}".strip()


def _index_rows(index: Path, plan: list[tuple[str, int, int]]) -> bytes:
    """Index file text keeping the header and, per (dac, real WMO, WMO), the real rows renamed."""
    header, rows = [], []
    with gzip.open(index, "rt") as fh:
        lines = fh.read().splitlines()
    body_start = next(i for i, line in enumerate(lines) if line.startswith("file,")) + 1
    header = lines[:body_start]
    by_prefix: dict[str, list[str]] = {}
    for line in lines[body_start:]:
        by_prefix.setdefault("/".join(line.split("/", 2)[:2]), []).append(line)
    for dac, real, wmo in plan:
        for line in by_prefix.get(f"{dac}/{real}", []):
            rows.append(line.replace(f"{dac}/{real}/", f"{dac}/{wmo}/").replace(str(real), str(wmo)))
    return "\n".join(header + rows + [""]).encode()


def build_mirror(root: Path, scale: int) -> Mirror:
    """GDAC tree for ``scale``: the real files at 1x (symlinks), ``scale`` edited copies of each otherwise."""
    files: list[str] = []
    wmos: dict[str, list[int]] = {}
    plan: list[tuple[str, int, int]] = []
    for j, (name, dac, real, ds_id) in enumerate(FLOATS):
        for k in range(scale):
            wmo = real if scale == 1 else _fake_wmo(j, k)
            target = root / "dac" / dac / str(wmo) / name.replace(str(real), str(wmo))
            target.parent.mkdir(parents=True, exist_ok=True)
            if scale == 1:
                target.symlink_to(ARGO / name)
            else:
                _write_copy(ARGO / name, target, wmo, k)
            files.append(str(target))
            wmos.setdefault(ds_id, []).append(wmo)
            plan.append((dac, real, wmo))
    for name, dac, real in WARMUP_FILES:  # real WMO dirs, single-cycle files only (warm-up)
        target = root / "dac" / dac / str(real) / "profiles" / name
        target.parent.mkdir(parents=True, exist_ok=True)
        target.symlink_to(ARGO / name)
        if scale != 1:
            plan.append((dac, real, real))
    for index in INDEX_FILES:
        (root / index).write_bytes(gzip.compress(_index_rows(ARGO / index, plan)))
    return Mirror(root=root, files=files, wmos=wmos)


# --------------------------------------------------------------------------------------------- children
def _peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0  # KiB on Linux


def _current_rss_mb() -> float:
    try:
        import psutil
    except ImportError:
        return float("nan")
    return psutil.Process().memory_info().rss / 2**20


def _argopy_fetch(argopy, mirror: str, ds_id: str, wmos: list[int], cyc: int | None = None):
    """One argopy fetch as a profile-level DataFrame."""
    from argopy.stores.implementations.local import filestore

    for default in filestore.open_dataset.__defaults__ or ():  # argopy 1.5.0 mutable-default bug
        if isinstance(default, dict):
            default.clear()
    fetcher = argopy.DataFetcher(src="gdac", gdac=mirror, ds=ds_id, mode="expert")
    fetcher = fetcher.float(wmos) if cyc is None else fetcher.profile(wmos, cyc)
    profiles = fetcher.to_xarray().argo.point2profile()
    names = ["PLATFORM_NUMBER", "CYCLE_NUMBER", "DIRECTION", "TIME", "LATITUDE", "LONGITUDE"]
    df = profiles.reset_coords()[names].to_dataframe().reset_index(drop=True)
    df.columns = PROFILE_COLUMNS
    return df


def child_argopy(spec: dict) -> dict:
    """Run argopy in this (fresh) process."""
    import warnings

    t0 = time.perf_counter()
    import argopy
    import pandas as pd

    import_s = time.perf_counter() - t0
    warnings.filterwarnings("ignore", message="BGC data support")
    argopy.set_options(gdac=spec["mirror"], cachedir=spec["cachedir"])
    t0 = time.perf_counter()
    for name, _dac, real in WARMUP_FILES:
        _argopy_fetch(argopy, spec["mirror"], "bgc" if name.startswith("S") else "phy", [real], cyc=1)
    warmup_s = time.perf_counter() - t0
    rss_ready = _current_rss_mb()
    walls, peaks, table = [], [], None
    for _ in range(spec["repeat"]):
        t0 = time.perf_counter()
        table = pd.concat([_argopy_fetch(argopy, spec["mirror"], ds_id, wmos) for ds_id, wmos in spec["wmos"].items()],
                          ignore_index=True)
        walls.append(time.perf_counter() - t0)
        peaks.append(_peak_rss_mb())
    table.to_parquet(spec["table_out"])
    return {"import_s": import_s, "warmup_s": warmup_s, "walls": walls, "profiles": len(table),
            "rss_ready_mb": rss_ready, "peak_rss_mb": peaks[0], "peaks_mb": peaks, "extra": {}}


def _oceanlake_profiles(settings):
    from tasks.query import run_query

    sql = f"SELECT {', '.join(PROFILE_COLUMNS)} FROM argo_profiles"
    return run_query(settings, sql).to_pandas()


def child_oceanlake(spec: dict) -> dict:
    """Run oceanlake in this (fresh) process; the parent sets OCEANLAKE_CACHE."""
    sys.path.insert(0, str(REPO))
    t0 = time.perf_counter()
    from tasks.config import load_settings
    from tasks.ingest import ingest_insitu

    import_s = time.perf_counter() - t0
    work = Path(spec["workdir"])
    t0 = time.perf_counter()
    ingest_insitu("argo", [str(ARGO / name) for name, _, _ in WARMUP_FILES], load_settings(lake=str(work / "warm")))
    warmup_s = time.perf_counter() - t0
    rss_ready = _current_rss_mb()
    walls, peaks, summary, settings = [], [], None, None
    for i in range(spec["repeat"]):
        settings = load_settings(lake=str(work / f"lake{i}"))
        t0 = time.perf_counter()
        summary = ingest_insitu("argo", spec["files"], settings)
        walls.append(time.perf_counter() - t0)
        peaks.append(_peak_rss_mb())  # before profiling and the cross-check query (not benchmarked)
    if spec.get("profile"):  # one extra, untimed run under cProfile
        import cProfile

        profiler = cProfile.Profile()
        profiler.runcall(ingest_insitu, "argo", spec["files"], load_settings(lake=str(work / "lake_profiled")))
        profiler.dump_stats(spec["profile_out"])
    _oceanlake_profiles(settings).to_parquet(spec["table_out"])
    return {"import_s": import_s, "warmup_s": warmup_s, "walls": walls,
            "profiles": summary.rows_written.get("argo_profiles", 0), "rss_ready_mb": rss_ready,
            "peak_rss_mb": peaks[0], "peaks_mb": peaks,
            "extra": {"measurements": summary.rows_written.get("argo_measurements", 0),
                      "files_ingested": summary.files_ingested, "files_skipped": summary.files_skipped,
                      "files_quarantined": summary.files_quarantined}}


def run_child(side: str, spec: dict, tmp: Path) -> dict:
    """Run one side in a fresh subprocess; return its result dict."""
    spec_path = tmp / f"spec_{side}_{spec['scale']}.json"
    out_path = tmp / f"result_{side}_{spec['scale']}.json"
    spec_path.write_text(json.dumps(spec))
    env = dict(os.environ, OCEANLAKE_CACHE=str(tmp / "oceanlake_cache"), PYTHONWARNINGS="ignore")
    cmd = [sys.executable, str(Path(__file__).resolve()), "--child", side, str(spec_path), str(out_path)]
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, cwd=tmp)
    total = time.perf_counter() - t0
    if proc.returncode != 0:
        raise RuntimeError(f"{side} x{spec['scale']} failed (exit {proc.returncode}):\n{proc.stderr[-4000:]}")
    result = json.loads(out_path.read_text())
    result.update(side=side, scale=spec["scale"], files=len(spec["files"]), process_s=total)
    return result


# --------------------------------------------------------------------------------------------- report
def compare_tables(a_path: Path, b_path: Path) -> str:
    """One-line comparison of the argopy and oceanlake profile tables."""
    import pandas as pd

    a, b = pd.read_parquet(a_path), pd.read_parquet(b_path)
    for df in (a, b):
        df["platform_number"] = df["platform_number"].astype(str).str.strip().astype(int)
        df["cycle_number"] = df["cycle_number"].astype(int)
        df["direction"] = df["direction"].astype(str).str.strip()
        df["time"] = pd.to_datetime(df["time"], utc=True)
    keys = ["platform_number", "cycle_number", "direction"]
    a, b = a.sort_values([*keys, "time"]).reset_index(drop=True), b.sort_values([*keys, "time"]).reset_index(drop=True)
    if len(a) != len(b) or not (a[keys] == b[keys]).all().all():
        return f"DIFFERENT: argopy {len(a)} rows, oceanlake {len(b)} rows or keys differ"
    dpos = max((a["latitude"] - b["latitude"]).abs().max(), (a["longitude"] - b["longitude"]).abs().max())
    dt = (a["time"] - b["time"]).abs().max().total_seconds()
    return f"same {len(a)} profiles (keys equal; max |dlat|,|dlon| {dpos:.2g} deg; max |dt| {dt:.3g} s)"


def _row(r: dict) -> list[str]:
    best = min(r["walls"])
    return [r["side"], f"{r['scale']}x", str(r["files"]), str(r["profiles"]), f"{best:.2f}",
            f"{r['profiles'] / best:.1f}",
            f"{r['rss_ready_mb']:.0f}", f"{r['peak_rss_mb']:.0f}", f"{r['peaks_mb'][-1]:.0f}", f"{r['import_s']:.2f}",
            f"{r['warmup_s']:.2f}"]


def print_report(results: list[dict], checks: dict[int, str]) -> dict:
    """Print the table and ratios; return the ratios."""
    head = ["side", "scale", "files", "profiles", "wall s", "profiles/s", "ready RSS MB", "peak RSS MB",
            "peak after N MB", "import s", "warm-up s"]
    rows = [head] + [_row(r) for r in results]
    widths = [max(len(row[i]) for row in rows) for i in range(len(head))]
    print()
    for n, row in enumerate(rows):
        cells = (c.rjust(w) if i > 1 else c.ljust(w) for i, (c, w) in enumerate(zip(row, widths, strict=True)))
        print("  ".join(cells))
        if n == 0:
            print("  ".join("-" * w for w in widths))
    print("wall s = best of --repeat runs (import and warm-up excluded); ready RSS = after import + warm-up;\n"
          "peak RSS = process max after the first timed run; peak after N = after all --repeat runs (same process)")
    for r in results:
        if r["side"] == "oceanlake":
            print(f"oceanlake x{r['scale']} also wrote {r['extra']['measurements']:,} measurement rows "
                  f"({r['extra']['files_ingested']} files ingested, {r['extra']['files_skipped']} skipped, "
                  f"{r['extra']['files_quarantined']} quarantined)")
    by = {(r["side"], r["scale"]): r for r in results}
    ratios: dict = {"throughput_oceanlake_over_argopy": {}, "rss_ratio": {}}
    print()
    for scale, check in sorted(checks.items()):
        print(f"profile tables x{scale}: {check}")
    for scale in sorted({r["scale"] for r in results}):
        o, a = by.get(("oceanlake", scale)), by.get(("argopy", scale))
        if o and a:
            ratio = (o["profiles"] / min(o["walls"])) / (a["profiles"] / min(a["walls"]))
            ratios["throughput_oceanlake_over_argopy"][scale] = ratio
            verdict = "meets" if ratio >= TARGET_RATIO else "MISSES"
            print(f"throughput oceanlake/argopy x{scale}: {ratio:.2f}  ({verdict} the >= {TARGET_RATIO:g}x target)")
    scales = sorted({r["scale"] for r in results})
    if len(scales) > 1:
        lo, hi = scales[0], scales[-1]
        for side in ("oceanlake", "argopy"):
            if (side, lo) in by and (side, hi) in by:
                ratio = by[(side, hi)]["peak_rss_mb"] / by[(side, lo)]["peak_rss_mb"]
                ratios["rss_ratio"][side] = ratio
                print(f"peak RSS {side} x{hi}/x{lo}: {ratio:.2f}")
    return ratios


def print_profile(path: Path, top: int) -> None:
    """Print the top functions of a cProfile dump, by cumulative and by own time."""
    import pstats

    stats = pstats.Stats(str(path))
    stats.strip_dirs()
    for key in ("cumulative", "tottime"):
        print(f"\n--- oceanlake cProfile, top {top} by {key} ---")
        stats.sort_stats(key).print_stats(top)


# --------------------------------------------------------------------------------------------- CLI
def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0],
        epilog=__doc__.split("\n", 2)[2],
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--repeat", type=int, default=1, metavar="N",
                        help="timed runs per side and scale; the best is reported (default 1)")
    parser.add_argument("--scale", default="1,10", metavar="LIST",
                        help="comma-separated file multipliers (default 1,10: the 2 real files, then 20 copies)")
    parser.add_argument("--side", choices=["both", "oceanlake", "argopy"], default="both",
                        help="run only one side (default both)")
    parser.add_argument("--json", type=Path, metavar="OUT", help="also write all results and ratios to OUT")
    parser.add_argument("--profile", action="store_true",
                        help="after the timed runs, run oceanlake once more under cProfile at the largest scale "
                             "and print the top functions (by cumulative and by own time)")
    parser.add_argument("--top", type=int, default=25, help="functions shown by --profile (default 25)")
    parser.add_argument("--keep", action="store_true", help="keep the temporary mirror and lakes (path printed)")
    parser.add_argument("--child", nargs=3, metavar=("SIDE", "SPEC", "OUT"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    try:
        args.scales = sorted({int(s) for s in args.scale.split(",") if s.strip()})
    except ValueError:
        parser.error(f"--scale {args.scale!r}: use comma-separated positive integers, e.g. 1,10")
    if not args.scales or min(args.scales) < 1 or args.repeat < 1:
        parser.error("--scale values and --repeat must be >= 1")
    return args


def _argopy_available() -> bool:
    import importlib.util

    return importlib.util.find_spec("argopy") is not None


def run(args: argparse.Namespace, tmp: Path) -> dict:
    """Build the mirrors, run every (side, scale) child, compare and report."""
    sides = ["oceanlake", "argopy"] if args.side == "both" else [args.side]
    if "argopy" in sides and not _argopy_available():
        print("argopy is not installed (pip install -e '.[bench]'); running oceanlake only")
        sides.remove("argopy")
    results, checks = [], {}
    for scale in args.scales:
        t0 = time.perf_counter()
        mirror = build_mirror(tmp / f"mirror_x{scale}", scale)
        print(f"x{scale}: mirror with {len(mirror.files)} multi-profile files in {time.perf_counter() - t0:.1f} s")
        tables = {}
        for side in sides:
            work = tmp / f"{side}_x{scale}"
            work.mkdir()
            spec = {"scale": scale, "repeat": args.repeat, "files": mirror.files, "wmos": mirror.wmos,
                    "mirror": str(mirror.root), "cachedir": str(tmp / "argopy_cache"), "workdir": str(work),
                    "table_out": str(work / "profiles.parquet"),
                    "profile": args.profile and side == "oceanlake" and scale == args.scales[-1],
                    "profile_out": str(tmp / "oceanlake.prof")}
            result = run_child(side, spec, tmp)
            best = min(result["walls"])
            print(f"  {side:9s} x{scale}: {result['profiles']} profiles, best {best:.2f} s "
                  f"({result['profiles'] / best:.1f} profiles/s), peak RSS {result['peak_rss_mb']:.0f} MB")
            results.append(result)
            tables[side] = Path(spec["table_out"])
        if len(tables) == 2:
            checks[scale] = compare_tables(tables["argopy"], tables["oceanlake"])
    ratios = print_report(results, checks)
    if args.profile and (tmp / "oceanlake.prof").exists():
        print_profile(tmp / "oceanlake.prof", args.top)
    return {"results": results, "checks": checks, "ratios": ratios}


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.child:
        side, spec_path, out_path = args.child
        spec = json.loads(Path(spec_path).read_text())
        result = child_argopy(spec) if side == "argopy" else child_oceanlake(spec)
        Path(out_path).write_text(json.dumps(result))
        return 0
    if not ARGO.is_dir():
        print(f"SKIP: real Argo files not found at {ARGO} (../shared/realdata is absent); nothing to benchmark.")
        return 0
    tmp = Path(tempfile.mkdtemp(prefix="bench_argo_"))
    try:
        report = run(args, tmp)
    finally:
        if args.keep:
            print(f"kept temporary files in {tmp}")
        else:
            shutil.rmtree(tmp, ignore_errors=True)
    if args.json:
        args.json.write_text(json.dumps(report, indent=2, default=str))
        print(f"wrote {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
