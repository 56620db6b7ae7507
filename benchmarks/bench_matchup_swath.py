#!/usr/bin/env python
"""Benchmark: swath-granule match-up windows (points/s), oceanlake vs a per-point xarray baseline.

What is compared
    Both sides extract (2h+1) x (2h+1) pixel windows of Rrs (y, x, wavelength), chl and flags
    around N in situ points from ONE swath granule stored like a lake granule group: Zarr v3,
    2-D curved latitude/longitude, chunked with ``tasks.cubes.default_chunks(target_mb=16)`` (as
    ``ingest_satellite`` does), opened lazily with ``xr.open_zarr``.

    baseline   what simple match-up scripts do, point by point: great-circle (haversine) distance
               from the point to every pixel of the full latitude/longitude arrays (numpy, arrays
               loaded once), ``argmin``, then ``ds[var].isel(y=slice, x=slice).values`` for each
               variable, padded to the full window at swath edges.
    oceanlake  ``tasks.matchup.swath_windows.extract_swath_windows``: one KD-tree of 3-D unit
               vectors for the granule, all points queried at once, one batched read per variable
               (bounding box of all windows, or per tile of chunks) and numpy fancy indexing.
               The timing INCLUDES building the KD-tree (the index build is also shown alone).

    ratio = oceanlake points/s / baseline points/s   (target >= 50)

    The baseline is O(points x pixels): at 10,000 points on a 2000 x 1500 granule it would run for
    tens of minutes, so it is timed on the first ``--baseline-points`` points (default 200) and its
    points/s extrapolated; its windows are checked equal (NaN-aware) to oceanlake's for those points.

Points are random positions inside the swath (a random pixel, moved by up to +-0.4 pixel along
each grid axis), so every point is found by both sides; points near the edges get partial
windows. The granule has NaN clouds in chl and Rrs (valid geolocation everywhere).

Memory: each side runs in its own fresh subprocess; peak RSS = ``ru_maxrss`` of that process
(includes the interpreter, numpy/xarray/dask/zarr imports and the lat/lon arrays); ready RSS =
the same after imports and the lazy open, before any work. The granule is generated in another
subprocess, since Linux carries a parent's peak RSS over into a child it spawns.

Examples
    python benchmarks/bench_matchup_swath.py                       # 10,000 points, 2000x1500 granule
    python benchmarks/bench_matchup_swath.py --points 50000 --granule 4000x3000 --half-size 1
    python benchmarks/bench_matchup_swath.py --baseline-points 50 --json out.json
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
VARIABLES = ["rrs", "chl_nn", "flags"]
EARTH_RADIUS_M = 6_371_008.8


# ------------------------------------------------------------------------------------------ data
def make_granule(path: Path, shape: tuple[int, int], bands: int, seed: int = 0) -> dict:
    """Write a synthetic swath granule (Zarr v3, lake chunking) and return its description."""
    import xarray as xr

    sys.path.insert(0, str(REPO))
    from tasks.cubes import default_chunks

    rng = np.random.default_rng(seed)
    ny, nx = shape
    i, j = np.meshgrid(np.arange(ny, dtype=np.float64) - ny / 2, np.arange(nx, dtype=np.float64) - nx / 2,
                       indexing="ij")
    step = 0.3 / 111.2  # ~300 m pixels (OLCI full resolution)
    lat = 45.0 - i * step + 0.08 * j * step + 2e-5 * step * j**2  # descending pass, tilted, curved
    lon = -30.0 + (j * step + 0.08 * i * step) / np.cos(np.radians(lat))
    chl = np.exp(rng.normal(0.0, 1.0, shape)).astype(np.float32)
    rrs = rng.random((ny, nx, bands), dtype=np.float32) * 0.02
    yy, xx = rng.integers(0, ny, 40), rng.integers(0, nx, 40)
    clouds = np.zeros(shape, bool)
    for cy, cx, r in zip(yy, xx, rng.integers(5, max(min(shape) // 20, 6), 40), strict=True):
        clouds[max(cy - r, 0):cy + r, max(cx - r, 0):cx + r] = True
    chl[clouds], rrs[clouds] = np.nan, np.nan
    flags = rng.integers(0, 2**31, shape, dtype=np.uint32)
    ds = xr.Dataset({"rrs": (("y", "x", "wavelength"), rrs), "chl_nn": (("y", "x"), chl),
                     "flags": (("y", "x"), flags)},
                    coords={"latitude": (("y", "x"), lat), "longitude": (("y", "x"), lon),
                            "wavelength": np.linspace(400.0, 700.0, bands)})
    chunks = {d: c for d, c in default_chunks(ds, target_mb=16).items() if d in ds.dims}
    ds.chunk(chunks).to_zarr(path, zarr_format=3, consolidated=False, mode="w")
    return {"chunks": chunks, "cloud_fraction": float(clouds.mean()),
            "size_mb": sum(v.nbytes for v in ds.variables.values()) / 2**20}


def make_points(path: Path, n: int, seed: int = 1) -> tuple[np.ndarray, np.ndarray]:
    """Random positions inside the swath: a random pixel moved by up to +-0.4 pixel along each axis."""
    import xarray as xr

    ds = xr.open_zarr(path, consolidated=False)
    lat, lon = ds["latitude"].values, ds["longitude"].values
    ny, nx = lat.shape
    rng = np.random.default_rng(seed)
    iy, ix = rng.integers(1, ny - 1, n), rng.integers(1, nx - 1, n)
    fy, fx = rng.uniform(-0.4, 0.4, n), rng.uniform(-0.4, 0.4, n)
    plat = lat[iy, ix] + fy * (lat[iy + 1, ix] - lat[iy, ix]) + fx * (lat[iy, ix + 1] - lat[iy, ix])
    plon = lon[iy, ix] + fy * (lon[iy + 1, ix] - lon[iy, ix]) + fx * (lon[iy, ix + 1] - lon[iy, ix])
    return plat, plon


# ----------------------------------------------------------------------------------------- sides
def haversine(lat1, lon1, lat2, lon2):
    """Great-circle distance (m), numpy broadcasting (the baseline's own helper)."""
    p1, p2 = np.radians(lat1), np.radians(lat2)
    a = np.sin((p2 - p1) / 2) ** 2 + np.cos(p1) * np.cos(p2) * np.sin(np.radians(lon2 - lon1) / 2) ** 2
    return 2 * EARTH_RADIUS_M * np.arcsin(np.sqrt(a))


def baseline(ds, plat: np.ndarray, plon: np.ndarray, h: int) -> dict[str, np.ndarray]:
    """Per-point loop: full-array haversine, argmin, one ``isel`` window per variable, padded."""
    lat, lon = ds["latitude"].values, ds["longitude"].values
    ny, nx = lat.shape
    w = 2 * h + 1
    out = {"center": np.zeros((len(plat), 2), np.int64), "distance": np.zeros(len(plat))}
    for k in range(len(plat)):
        d = haversine(plat[k], plon[k], lat, lon)
        iy, ix = np.unravel_index(np.nanargmin(d), d.shape)
        out["center"][k] = iy, ix
        out["distance"][k] = d[iy, ix]
        y0, x0 = max(iy - h, 0), max(ix - h, 0)
        for name in VARIABLES:
            block = ds[name].isel(y=slice(y0, iy + h + 1), x=slice(x0, ix + h + 1)).values
            if name not in out:
                dtype, fill = (np.int64, 0) if name == "flags" else (np.float64, np.nan)
                out[name] = np.full((len(plat), w, w, *block.shape[2:]), fill, dtype=dtype)
            oy, ox = y0 - (iy - h), x0 - (ix - h)
            out[name][k, oy:oy + block.shape[0], ox:ox + block.shape[1]] = block
    return out


def oceanlake(ds, plat: np.ndarray, plon: np.ndarray, h: int) -> dict[str, np.ndarray]:
    """``extract_swath_windows`` on all points at once."""
    from tasks.matchup.swath_windows import extract_swath_windows

    win = extract_swath_windows(ds, VARIABLES, plat, plon, half_size=h)
    out = {name: win.values[name][:, 0] for name in VARIABLES}
    out.update(center=win.center_index[:, 1:], distance=win.distance_m, found=win.found)
    return out


def make(args: argparse.Namespace, folder: Path, out: str) -> None:
    """Write the granule and the points into ``folder`` (in a subprocess of the parent)."""
    info = make_granule(folder / "granule.zarr", args.shape, args.bands)
    plat, plon = make_points(folder / "granule.zarr", args.points)
    np.savez(folder / "points.npz", lat=plat, lon=plon)
    (folder / out).write_text(json.dumps(info))


def child(side: str, spec_path: str, out_path: str) -> None:
    """Run one side in this fresh process; save its windows and print JSON timings and peak RSS."""
    import xarray as xr

    sys.path.insert(0, str(REPO))
    import tasks.matchup.swath_windows as sw

    spec = json.loads(Path(spec_path).read_text())
    points = np.load(spec["points"])
    n = spec["baseline_points"] if side == "baseline" else len(points["lat"])
    plat, plon = points["lat"][:n], points["lon"][:n]
    ds = xr.open_zarr(spec["granule"], consolidated=False)
    run = baseline if side == "baseline" else oceanlake
    ready = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # imports + lazy open
    run(ds, plat[:2], plon[:2], spec["half_size"])  # warm-up: lazy imports, dask/zarr first-use costs
    ds = xr.open_zarr(spec["granule"], consolidated=False)
    t0 = time.perf_counter()
    out = run(ds, plat, plon, spec["half_size"])
    wall = time.perf_counter() - t0
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    extra = {}
    if side == "oceanlake":  # the index build alone (after the peak RSS was read)
        lat, lon = ds["latitude"].values, ds["longitude"].values
        t1 = time.perf_counter()
        sw.SwathIndex(lat, lon)
        extra["index_build_s"] = time.perf_counter() - t1
    np.savez(out_path, **out)
    print(json.dumps({"side": side, "points": int(n), "wall": wall, "points_per_s": n / wall,
                      "ready_rss_mb": ready, "peak_rss_mb": peak, **extra}))


def run_side(side: str, spec: Path, out: Path) -> dict:
    result = subprocess.run([sys.executable, __file__, "--child", side, str(spec), str(out)], capture_output=True,
                            text=True)
    if result.returncode:
        sys.exit(f"{side} child failed:\n{result.stderr[-4000:]}")
    return json.loads(result.stdout.strip().splitlines()[-1])


def compare(base: Path, ours: Path) -> tuple[int, int]:
    """(points compared, points whose centres and windows differ), NaN-aware exact equality."""
    b, o = np.load(base), np.load(ours)
    m = len(b["center"])
    differ = np.zeros(m, bool)
    differ |= (b["center"] != o["center"][:m]).any(axis=1)
    for name in VARIABLES:
        x, y = b[name], o[name][:m]
        same = (x == y) | (np.isnan(x) & np.isnan(y)) if x.dtype.kind == "f" else x == y
        differ |= ~same.reshape(m, -1).all(axis=1)
    return m, int(differ.sum())


# ------------------------------------------------------------------------------------------- CLI
def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], epilog=__doc__.split("\n", 2)[2],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--points", type=int, default=10_000, help="in situ points for oceanlake (default 10000)")
    parser.add_argument("--baseline-points", type=int, default=200, metavar="N",
                        help="points timed on the baseline side, the first N of the same points (default 200; "
                             "the per-point baseline costs ~0.1-0.5 s per point at 2000x1500)")
    parser.add_argument("--granule", default="2000x1500", metavar="ROWSxCOLS",
                        help="swath size in pixels, along-track x across-track (default 2000x1500)")
    parser.add_argument("--bands", type=int, default=10, help="Rrs wavelengths (default 10)")
    parser.add_argument("--half-size", type=int, default=2, help="window half width h: (2h+1)^2 pixels (default 2)")
    parser.add_argument("--json", type=Path, metavar="OUT", help="also write the results to OUT")
    parser.add_argument("--child", nargs=3, metavar=("SIDE", "SPEC", "OUT"), help=argparse.SUPPRESS)
    parser.add_argument("--make", nargs=2, metavar=("FOLDER", "OUT"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    try:
        args.shape = tuple(int(v) for v in args.granule.lower().split("x"))
    except ValueError:
        parser.error(f"--granule {args.granule!r}: use ROWSxCOLS, e.g. 2000x1500")
    if len(args.shape) != 2 or min(args.shape) < 3 or args.points < 1 or args.half_size < 0:
        parser.error("--granule needs two sizes >= 3, --points >= 1 and --half-size >= 0")
    args.baseline_points = max(1, min(args.baseline_points, args.points))
    return args


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    if args.child:
        child(*args.child)
        return
    if args.make:
        make(args, Path(args.make[0]), Path(args.make[1]))
        return
    with tempfile.TemporaryDirectory(prefix="bench_swath_") as tmp:
        tmp = Path(tmp)
        t0 = time.perf_counter()
        # in a subprocess too: Linux keeps a process's peak RSS across fork/exec, so a parent holding
        # the granule would inflate the children's ru_maxrss
        made = subprocess.run([sys.executable, __file__, *(argv or sys.argv[1:]), "--make", str(tmp), "info.json"],
                              capture_output=True, text=True)
        if made.returncode:
            sys.exit(f"making the granule failed:\n{made.stderr[-4000:]}")
        info = json.loads((tmp / "info.json").read_text())
        print(f"granule {args.shape[0]}x{args.shape[1]} px, Rrs {args.bands} bands + chl + flags "
              f"({info['size_mb']:.0f} MB in memory, Zarr v3 chunks {info['chunks']}, clouds "
              f"{info['cloud_fraction']:.0%}), {args.points} points, window {2 * args.half_size + 1}^2 "
              f"(made in {time.perf_counter() - t0:.1f} s)", flush=True)
        spec = tmp / "spec.json"
        spec.write_text(json.dumps({"granule": str(tmp / "granule.zarr"), "points": str(tmp / "points.npz"),
                                    "half_size": args.half_size, "baseline_points": args.baseline_points}))
        rows = {side: run_side(side, spec, tmp / f"{side}.npz") for side in ("oceanlake", "baseline")}
        compared, differ = compare(tmp / "baseline.npz", tmp / "oceanlake.npz")
        found = int(np.load(tmp / "oceanlake.npz")["found"].sum())
    ours, base = rows["oceanlake"], rows["baseline"]
    for r in (base, ours):
        print(f"{r['side']:9s} {r['points']:7d} points  {r['wall']:8.2f} s  {r['points_per_s']:10.1f} points/s  "
              f"ready RSS {r['ready_rss_mb']:4.0f} MB  peak RSS {r['peak_rss_mb']:5.0f} MB")
    ratio = ours["points_per_s"] / base["points_per_s"]
    print(f"oceanlake KD-tree build alone: {ours['index_build_s']:.2f} s (included above); "
          f"found {found}/{ours['points']} points")
    if base["points"] < ours["points"]:
        print(f"baseline timed on the first {base['points']} points only (points/s extrapolated)")
    print(f"windows identical on the {compared} baseline points: {'yes' if differ == 0 else f'NO, {differ} differ'}")
    print(f"throughput oceanlake/baseline: {ratio:.0f}x  ({'meets' if ratio >= 50 else 'MISSES'} the >= 50x target)")
    if args.json:
        args.json.write_text(json.dumps({"rows": [base, ours], "ratio": ratio, "compared": compared,
                                         "differ": differ, "found": found, "granule": args.granule,
                                         "half_size": args.half_size, **info}, indent=2))
    if differ:
        sys.exit(1)


if __name__ == "__main__":
    main()
