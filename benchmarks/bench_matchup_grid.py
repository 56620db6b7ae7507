#!/usr/bin/env python
"""Benchmark: gridded-cube window extraction for match-ups, oceanlake vs pytcube (same cube, same points).

What is compared
    One synthetic Zarr v3 cube is written to a temporary folder: a global regular grid
    (default 0.1 deg, 1800 x 3600) x N daily slices (default 40) of float32 chlor_a-like values
    (log-normal around a smooth field, ~30 % "land" and ~65 % of the ocean under "clouds" as NaN,
    like a daily L3m map), compressed with the lake's default codec (Blosc zstd level 1, byte
    shuffle) and chunked as the lake's satellite ingest chunks a grid cube
    (``tasks.cubes.default_chunks(ds, target_mb=tasks.ingest_satellite.CHUNK_MB)``: time 1,
    even spatial tiles of at most 16 MB, i.e. (1, 1800, 1800) at 0.1 deg), or (1, N, N) with --chunk N.
    Latitude is ascending because pytcube locates points with np.searchsorted (the lake's own
    cubes may be descending; oceanlake handles both).

    Random points (uniform lat in [-90, 90], lon in [-180, 180), times to the second within the
    cube's time span) are extracted with windows of (2*half_time+1, 2*half_size+1, 2*half_size+1):

    * pytcube:   ``cube.pytcube.colocation(time=, lat=, lon=, search_window={"time": ht, "lat": hs,
                 "lon": hs}, cyclic_dims=["lon"])`` then ``.chlor_a.values`` (its defaults:
                 fast_vindex=True, dask's threaded scheduler on the lazily opened cube);
    * oceanlake: ``tasks.matchup.grid_windows.extract_grid_windows(cube, ["chlor_a"], lat, lon,
                 time, half_time=ht, half_size=hs)`` on the same lazily opened cube.

    pytcube silently drops points whose window crosses the first/last time slice or a pole row;
    oceanlake keeps them (padded with NaN, flagged partial). The script checks that the windows of
    every point pytcube keeps are identical (NaN == NaN) and reports how many it dropped.

    throughput = input points / wall seconds of the extraction call (best of --repeat), each side
    in its own fresh subprocess after a small warm-up call (imports, first reads); CPU s = process
    CPU time of that call, all threads (oceanlake decodes in 2-3 threads, pytcube mostly in one);
    peak RSS = ru_maxrss of that subprocess (includes the output: oceanlake returns float64
    windows for every point, pytcube float32 windows for the points it keeps).
    ratio = oceanlake points/s / pytcube points/s   (target >= 20 at 10^5 points, 11x5x5 windows)

    If pytcube is too slow for the requested points, --pytcube-points runs it on the first K
    points only; its throughput is then measured on K points and the output says so.

Run ``python benchmarks/bench_matchup_grid.py --help``; defaults are the reference case
(``--points 100000 --half-time 5 --half-size 2``; about 3 GB of free disk and memory, ~2 min).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
T0 = np.datetime64("2024-06-01T12:00", "ns")


def make_cube(path: Path, days: int, res: float, chunk: int | None, seed: int = 0) -> dict:
    """Write the synthetic global chlor_a cube (one day at a time, appended) and describe it."""
    import xarray as xr

    sys.path.insert(0, str(REPO))
    from tasks.cubes import DEFAULT_COMPRESSOR, default_chunks
    from tasks.ingest_satellite import CHUNK_MB

    ny, nx = round(180 / res), round(360 / res)
    lat = -90 + res * (np.arange(ny) + 0.5)
    lon = -180 + res * (np.arange(nx) + 0.5)
    rng = np.random.default_rng(seed)

    def smooth(cells: int, shape: tuple[int, int]) -> np.ndarray:
        """Coarse random field repeated to ``shape`` (blocks of ``cells`` pixels)."""
        coarse = rng.random((shape[0] // cells + 1, shape[1] // cells + 1))
        return np.repeat(np.repeat(coarse, cells, 0), cells, 1)[: shape[0], : shape[1]]

    land = smooth(max(ny // 36, 1), (ny, nx)) > 0.7
    log_chl = (np.log(0.3) + 1.5 * (smooth(max(ny // 90, 1), (ny, nx)) - 0.5)).astype(np.float32)
    valid = 0.0
    for day in range(days):
        cloud = smooth(max(ny // 180, 1), (ny, nx)) < 0.65
        values = np.exp(log_chl + 0.3 * rng.standard_normal((ny, nx), dtype=np.float32))
        values[land | cloud] = np.nan
        valid += np.isfinite(values).mean() / days
        ds = xr.Dataset({"chlor_a": (("time", "lat", "lon"), values[None])},
                        coords={"time": [T0 + np.timedelta64(day, "D")], "lat": lat, "lon": lon})
        if day == 0:
            lake = default_chunks(ds, target_mb=CHUNK_MB)
            chunks = (1, chunk, chunk) if chunk else (1, lake["lat"], lake["lon"])
            enc = {"chlor_a": {"chunks": chunks, "compressors": [DEFAULT_COMPRESSOR]}}
            ds.to_zarr(path, zarr_format=3, mode="w", consolidated=False, encoding=enc)
        else:
            ds.to_zarr(path, zarr_format=3, append_dim="time", consolidated=False)
    disk = sum(f.stat().st_size for f in path.rglob("*") if f.is_file())
    return {"shape": (days, ny, nx), "res": res, "chunks": chunks, "disk_mb": disk / 2**20,
            "valid": valid}


def make_points(n: int, days: int, seed: int) -> dict[str, np.ndarray]:
    """Random points over the globe and the cube's time span (times to the second)."""
    rng = np.random.default_rng(seed)
    seconds = rng.integers(0, (days - 1) * 86_400, n)
    return {"lat": rng.uniform(-90, 90, n), "lon": rng.uniform(-180, 180, n),
            "time": T0 + seconds.astype("timedelta64[s]").astype("timedelta64[ns]")}


def run_pytcube(cube, pts: dict, ht: int, hs: int) -> tuple[np.ndarray, np.ndarray]:
    """(kept point indices, float32 windows) with pytcube."""
    import pytcube  # noqa: F401  (registers the .pytcube accessor)

    res = cube.pytcube.colocation(time=pts["time"], lat=pts["lat"], lon=pts["lon"],
                                  search_window={"time": ht, "lat": hs, "lon": hs}, cyclic_dims=["lon"])
    return res.obs.values.astype(np.int64), res.chlor_a.transpose("obs", "time_step", "lat_step", "lon_step").values


def run_oceanlake(cube, pts: dict, ht: int, hs: int):
    """Windows with oceanlake."""
    sys.path.insert(0, str(REPO))
    from tasks.matchup.grid_windows import extract_grid_windows

    return extract_grid_windows(cube, ["chlor_a"], pts["lat"], pts["lon"], pts["time"], half_time=ht, half_size=hs)


def child(side: str, spec_path: str) -> None:
    """Extract in this fresh process; save the windows; print JSON with wall seconds and peak RSS."""
    import xarray as xr

    spec = json.loads(Path(spec_path).read_text())
    ht, hs = spec["half_time"], spec["half_size"]
    with np.load(spec["points"]) as f:
        pts = {k: f[k][: spec["n"]] for k in ("lat", "lon", "time")}
    cube = xr.open_zarr(spec["cube"], consolidated=False)
    warm = make_points(200, spec["days"], seed=99)
    run = run_pytcube if side == "pytcube" else run_oceanlake
    t0 = time.perf_counter()
    run(cube, warm, ht, hs)
    warmup = time.perf_counter() - t0
    walls, cpus = [], []
    for _ in range(spec["repeat"]):
        result = None  # free the previous output before the next run
        t0, c0 = time.perf_counter(), time.process_time()
        result = run(cube, pts, ht, hs)
        walls.append(time.perf_counter() - t0)
        cpus.append(time.process_time() - c0)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    out = Path(spec["out"])
    if side == "pytcube":
        np.save(out / "pytcube_obs.npy", result[0])
        np.save(out / "pytcube_values.npy", result[1])
        kept = int(result[0].size)
    else:
        np.save(out / "oceanlake_values.npy", result.values["chlor_a"])
        np.save(out / "oceanlake_partial.npy", result.partial)
        kept = int(result.found.sum())
    best = int(np.argmin(walls))
    print(json.dumps({"wall": walls[best], "cpu": cpus[best], "walls": walls, "peak_mb": peak, "kept": kept,
                      "warmup_s": warmup}))


def run_side(side: str, spec: dict, tmp: Path) -> dict:
    path = tmp / f"spec-{side}.json"
    path.write_text(json.dumps(spec))
    proc = subprocess.run([sys.executable, __file__, "--child", side, str(path)], capture_output=True, text=True,
                          env={**os.environ, "PYTHONPATH": str(REPO)})
    if proc.returncode:
        sys.exit(f"{side} child failed:\n{proc.stderr[-4000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def compare(tmp: Path, n: int) -> dict:
    """Windows of the points pytcube keeps: identical on both sides?"""
    obs = np.load(tmp / "pytcube_obs.npy")
    theirs = np.load(tmp / "pytcube_values.npy", mmap_mode="r")
    ours = np.load(tmp / "oceanlake_values.npy", mmap_mode="r")
    partial = np.load(tmp / "oceanlake_partial.npy")
    equal, step = True, 20_000
    for a in range(0, obs.size, step):
        mine = ours[obs[a:a + step]]
        equal &= bool(np.array_equal(mine, np.asarray(theirs[a:a + step], dtype=np.float64), equal_nan=True))
    dropped = np.setdiff1d(np.arange(n), obs)  # pytcube ran on the first n points
    return {"equal": equal, "compared": int(obs.size), "dropped_partial": int(partial[dropped].sum()),
            "dropped": int(dropped.size), "valid_cells": float(np.isfinite(theirs).mean()) if obs.size else 0.0}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--points", type=int, default=100_000, help="number of random points (default 100000)")
    parser.add_argument("--half-time", type=int, default=5, help="window half-length in time slices (default 5: 11)")
    parser.add_argument("--half-size", type=int, default=2, help="window half-width in pixels (default 2: 5x5)")
    parser.add_argument("--days", type=int, default=40, help="daily slices in the cube (default 40)")
    parser.add_argument("--res", type=float, default=0.1, help="grid step in degrees (default 0.1: 1800x3600)")
    parser.add_argument("--chunk", type=int, help="lat/lon chunk length N: chunks (1, N, N) instead of the lake's "
                        "ingest chunking (time 1, ~16 MB tiles)")
    parser.add_argument("--repeat", type=int, default=1, help="timed runs per side, best kept (default 1)")
    parser.add_argument("--pytcube-points", type=int, help="run pytcube on the first K points only (when it is "
                        "too slow); its points/s is then measured on K points")
    parser.add_argument("--sides", default="pytcube,oceanlake", help="comma-separated: pytcube, oceanlake")
    parser.add_argument("--json", help="also write the results to this JSON file")
    parser.add_argument("--child", nargs=2, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(*args.child)
        return
    sides = args.sides.split(",")
    with tempfile.TemporaryDirectory(prefix="bench_grid_") as tmp_name:
        tmp = Path(tmp_name)
        t0 = time.perf_counter()
        info = make_cube(tmp / "cube.zarr", args.days, args.res, args.chunk)
        np.savez(tmp / "points.npz", **make_points(args.points, args.days, seed=1))
        d, y, x = info["shape"]
        print(f"cube: {d} x {y} x {x} float32 ({args.res} deg, lat ascending), chunks {info['chunks']}, "
              f"blosc-zstd; {info['disk_mb']:.0f} MB on disk, {info['valid']:.0%} valid pixels "
              f"(written in {time.perf_counter() - t0:.0f} s)")
        wt, w = 2 * args.half_time + 1, 2 * args.half_size + 1
        print(f"points: {args.points} random, window {wt}x{w}x{w} (half_time={args.half_time}, "
              f"half_size={args.half_size})", flush=True)
        base = {"cube": str(tmp / "cube.zarr"), "points": str(tmp / "points.npz"), "days": args.days,
                "half_time": args.half_time, "half_size": args.half_size, "repeat": args.repeat, "out": str(tmp)}
        rows = {}
        print(f"{'side':10s} {'points':>8s} {'kept':>8s} {'wall s':>8s} {'CPU s':>7s} {'points/s':>10s} "
              f"{'peak RSS MB':>12s} {'warm-up s':>10s}")
        for side in sides:
            n = min(args.pytcube_points or args.points, args.points) if side == "pytcube" else args.points
            r = run_side(side, {**base, "n": n}, tmp)
            r.update(side=side, points=n, points_s=n / r["wall"])
            rows[side] = r
            print(f"{side:10s} {n:8d} {r['kept']:8d} {r['wall']:8.2f} {r['cpu']:7.2f} {r['points_s']:10.0f} "
                  f"{r['peak_mb']:12.0f} {r['warmup_s']:10.2f}", flush=True)
        result = {"cube": info, "args": vars(args), "sides": rows}
        if {"pytcube", "oceanlake"} <= set(rows):
            cmp = compare(tmp, rows["pytcube"]["points"])
            result["compare"] = cmp
            verdict = "identical" if cmp["equal"] else "DIFFERENT"
            print(f"windows {verdict} for the {cmp['compared']} points pytcube keeps "
                  f"({cmp['valid_cells']:.0%} of their cells valid); pytcube drops {cmp['dropped']} of "
                  f"{rows['pytcube']['points']} points ({cmp['dropped_partial']} of them are partial windows that "
                  "oceanlake keeps, padded)")
            if rows["pytcube"]["points"] < args.points:
                print(f"NOTE: pytcube ran on the first {rows['pytcube']['points']} points only (--pytcube-points); "
                      f"its points/s is scaled from that subset, its full run would take about "
                      f"{args.points / rows['pytcube']['points_s']:.0f} s")
            ratio = rows["oceanlake"]["points_s"] / rows["pytcube"]["points_s"]
            result["ratio"] = ratio
            cpu_ratio = (rows["pytcube"]["cpu"] / rows["pytcube"]["points"]) / (rows["oceanlake"]["cpu"] / args.points)
            result["cpu_ratio"] = cpu_ratio
            print(f"throughput oceanlake/pytcube: {ratio:.1f}x (target >= 20x); CPU seconds per point "
                  f"pytcube/oceanlake: {cpu_ratio:.1f}x (less sensitive to other load on the machine)")
            print(f"peak RSS oceanlake/pytcube: {rows['oceanlake']['peak_mb'] / rows['pytcube']['peak_mb']:.2f}")
            if not cmp["equal"]:
                sys.exit("window values differ between pytcube and oceanlake")
    if args.json:
        Path(args.json).write_text(json.dumps(result, indent=2, default=str))


if __name__ == "__main__":
    main()
