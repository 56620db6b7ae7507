"""Pixel windows of a gridded cube around in situ points, read chunk by chunk (the pytcube use case).

:func:`extract_grid_windows` takes a lazily opened ``(time, lat, lon[, wavelength])`` cube (for
instance :func:`tasks.cubes.open_cube`) and returns, for every point, the
``(2*half_time+1, 2*half_size+1, 2*half_size+1)`` window of each variable around the pixel nearest
to the point, as a :class:`~tasks.matchup.windows.Windows`.

Locating the centre pixel
    * latitude / longitude: index arithmetic on the regular axis (``(x - x0) / step`` rounded),
      then the nearest of that index and its two neighbours by the actual coordinate values (so
      float32 coordinate noise never picks a farther pixel). A point is inside the grid when it
      falls within the outer pixel edges (half a step beyond the outer centres). Exact ties go to
      the larger coordinate value (north, east).
    * longitude is cyclic when the axis covers the globe (``n_lon * step`` = 360 degrees): windows
      across the dateline wrap around. Point longitudes in [180, 360) are the same as
      ``lon - 360``; longitudes outside [-180, 360) are invalid.
    * time: the nearest slice of the (sorted, not necessarily regular) time axis; exact ties go to
      the later slice (like ``xarray .sel(method="nearest")`` and pytcube). With
      ``max_time_offset`` a point whose nearest slice is farther away is not found.

Edges
    Windows that cross a pole row, a grid edge, the first/last time slice or the edge of a
    regional (non-cyclic) longitude axis keep their partial content: the missing cells are padding
    (NaN, or 0 for integer variables) with ``inside=False`` (``Windows.partial`` flags those
    points; pytcube drops them). Points with NaN or out-of-range coordinates, outside a regional
    grid, with a NaT time or beyond ``max_time_offset`` are not found (``found=False``, all
    padding); nothing raises for them.

Reading
    Points are sorted by centre time and processed in batches of ``batch_points``. For every
    batch and variable, each point is paired with the spatial Zarr chunk(s) its window touches;
    then, time chunk by time chunk, the needed spatial chunks are read in as few rectangular
    reads as possible (the bounding box of the needed chunks when it is mostly needed, else runs
    of adjacent chunks along longitude), each at most :data:`READ_BUDGET_BYTES` decoded bytes, so
    every needed chunk is decoded once per batch. :data:`READ_AHEAD` reads decode ahead in
    :data:`READ_THREADS` threads (Zarr decodes one read's chunks mostly serially, blosc runs
    outside the GIL) while the windows are gathered from the current one with numpy fancy indexing (a
    ``sliding_window_view`` for windows inside one chunk, per-cell masks for the few that straddle
    chunk boundaries). For a cube opened with :func:`xarray.open_zarr` the reads go to the lazy
    backend array behind the dask graph (the per-chunk dask scheduling would cost more than the
    decoding); any other dask array is computed region by region.
"""

from __future__ import annotations

import logging
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import numpy as np
import xarray as xr
from numpy.lib.stride_tricks import sliding_window_view

from tasks.errors import InvalidFile, MissingVariable
from tasks.matchup.windows import Windows, haversine_m

log = logging.getLogger(__name__)

#: Default number of points per batch: each batch reads the chunks it needs once (fewer, larger
#: batches read less), and holds about 100 bytes of indices per point besides the output.
DEFAULT_BATCH_POINTS = 200_000
#: Largest decoded size (bytes) of one read; up to READ_AHEAD + 1 reads are in memory at a time.
READ_BUDGET_BYTES = 64 * 2**20
#: Reads decoding ahead of the gathering, and the threads running them (Zarr/blosc decode outside the GIL).
READ_AHEAD = 3
READ_THREADS = 2
#: Chunk shape assumed along (time, lat, lon) when a variable carries no chunk information.
VIRTUAL_CHUNKS = (1, 512, 512)
#: Largest number of window cells gathered in one numpy operation (bounds temporary memory).
GATHER_CELLS = 2**21

_LAT_NAMES = ("lat", "latitude")
_LON_NAMES = ("lon", "longitude")
_TIME_NAMES = ("time",)
_EDGE_TOL = 1e-3  # fraction of a step beyond the outer pixel edges still counted as inside
_MAX_DAYS_BEYOND = 36_500  # point times are clipped to the cube's time span +- this (no int64 overflow)


# --------------------------------------------------------------------------------------------
# Axes: locating centre pixels
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Axis:
    """A regular 1-D coordinate axis located by index arithmetic."""

    values: np.ndarray
    start: float
    step: float
    period: float | None = None
    cyclic: bool = False

    @classmethod
    def regular(cls, name: str, values: np.ndarray, period: float | None = None) -> _Axis:
        values = np.asarray(values, dtype=np.float64)
        if values.ndim != 1 or values.size < 2 or not np.isfinite(values).all():
            raise InvalidFile(f"cube coordinate {name!r} must be 1-D, finite, with at least 2 values; "
                              f"got shape {values.shape}")
        step = (values[-1] - values[0]) / (values.size - 1)
        diffs = np.diff(values)
        if step == 0 or np.abs(diffs - step).max() > 0.01 * abs(step):
            raise InvalidFile(f"cube coordinate {name!r} is not regularly spaced (steps {diffs.min()} to "
                              f"{diffs.max()}); grid windows need a regular lat/lon grid - regrid the cube")
        if period is not None and step < 0:
            raise InvalidFile(f"cube longitude {name!r} must be ascending; sort the cube with .sortby({name!r})")
        cyclic = period is not None and abs(values.size * step - period) < 0.5 * step
        return cls(values=values, start=float(values[0]), step=float(step), period=period, cyclic=cyclic)

    @property
    def size(self) -> int:
        return self.values.size

    def locate(self, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Nearest index (int64) of each coordinate ``x`` and whether it is inside the axis."""
        x = np.asarray(x, dtype=np.float64)
        n, finite = self.size, np.isfinite(x)
        xf = np.where(finite, x, self.start)
        if self.period is None:
            pos = (xf - self.start) / self.step
        else:  # position east of the western edge of the first pixel, modulo the period
            west = self.start - self.step * (0.5 + _EDGE_TOL)
            pos = np.mod(xf - west, self.period) / self.step - (0.5 + _EDGE_TOL)
        ok = finite & (pos >= -0.5 - _EDGE_TOL) & (pos <= n - 0.5 + _EDGE_TOL)
        if self.cyclic:
            ok = finite.copy()
        guess = np.floor(pos + 0.5).astype(np.int64)
        cand = guess[:, None] + np.arange(-1, 2)
        cand = np.mod(cand, n) if self.cyclic else np.clip(cand, 0, n - 1)
        signed = self.values[cand] - xf[:, None]
        if self.period is not None:  # wrap only where needed: exact differences keep exact ties
            half = self.period / 2
            signed = np.where(signed >= half, signed - self.period, signed)
            signed = np.where(signed < -half, signed + self.period, signed)
        index = cand[np.arange(x.size), _nearest_of(signed)]
        return np.where(ok, index, -1), ok


def _nearest_of(signed: np.ndarray) -> np.ndarray:
    """Column of the smallest ``|signed|`` in each row; ties go to the largest signed offset."""
    dist = np.abs(signed)
    best = dist.min(axis=1, keepdims=True)
    score = np.where(dist == best, signed, -np.inf if signed.dtype.kind == "f" else np.iinfo(signed.dtype).min)
    return np.argmax(score, axis=1)


def _locate_time(axis: np.ndarray, time: np.ndarray, max_offset: np.timedelta64 | None) -> tuple[np.ndarray, ...]:
    """Nearest slice (int64, -1 when not found) of each time and whether it is found."""
    t = np.asarray(time).astype("datetime64[ns]").view(np.int64)
    ok = ~np.isnat(np.asarray(time).astype("datetime64[ns]"))
    span = _MAX_DAYS_BEYOND * 86_400 * 10**9
    lo, hi = max(int(axis[0]) - span, -(2**63) + 1), min(int(axis[-1]) + span, 2**63 - 1)
    t = np.clip(np.where(ok, t, axis[0]), lo, hi)
    right = np.searchsorted(axis, t, side="left")
    cand = np.clip(right[:, None] + np.arange(-1, 1), 0, axis.size - 1)
    signed = axis[cand] - t[:, None]
    index = cand[np.arange(t.size), _nearest_of(signed)]
    if max_offset is not None:
        limit = int(np.timedelta64(max_offset, "ns").astype(np.int64))
        ok &= np.abs(axis[index] - t) <= limit
    return np.where(ok, index, -1), ok


@dataclass(frozen=True)
class _Grid:
    """Dimension names and axes of a cube."""

    dims: tuple[str, str, str]
    time: np.ndarray
    lat: _Axis
    lon: _Axis

    @classmethod
    def of(cls, cube: xr.Dataset) -> _Grid:
        names = []
        for candidates, what in ((_TIME_NAMES, "time"), (_LAT_NAMES, "latitude"), (_LON_NAMES, "longitude")):
            found = [c for c in candidates if c in cube.dims and c in cube.coords]
            if not found:
                raise InvalidFile(f"cube has no {what} dimension with a coordinate (looked for {candidates}; "
                                  f"dims {tuple(cube.dims)}); rename it to {candidates[0]!r}")
            names.append(found[0])
        tdim, ydim, xdim = names
        time = cube[tdim].values
        if time.dtype.kind != "M":
            raise InvalidFile(f"cube time coordinate {tdim!r} is {time.dtype}, not datetime64; "
                              "open the cube with decode_times=True")
        time = time.astype("datetime64[ns]").view(np.int64)
        if time.size == 0 or np.any(np.diff(time) < 0):
            raise InvalidFile(f"cube time coordinate {tdim!r} is empty or not sorted; sort it with .sortby({tdim!r})")
        return cls(dims=(tdim, ydim, xdim), time=time, lat=_Axis.regular(ydim, cube[ydim].values),
                   lon=_Axis.regular(xdim, cube[xdim].values, period=360.0))

    @property
    def shape(self) -> tuple[int, int, int]:
        return self.time.size, self.lat.size, self.lon.size


# --------------------------------------------------------------------------------------------
# Reading one variable
# --------------------------------------------------------------------------------------------


class _Reader:
    """Reads ``(time, lat, lon[, extra])`` boxes of one cube variable with little overhead."""

    def __init__(self, array: xr.DataArray, grid: _Grid):
        var = array.variable
        missing = [d for d in grid.dims if d not in var.dims]
        extra = [d for d in var.dims if d not in grid.dims]
        if missing or len(extra) > 1:
            raise InvalidFile(f"cube variable {array.name!r} has dims {var.dims}; expected {grid.dims} plus at "
                              "most one spectral dimension")
        self.var, self.extra = var, extra
        order = list(grid.dims) + extra
        self.perm = [var.dims.index(d) for d in order]
        self.n_extra = int(var.sizes[extra[0]]) if extra else 1
        self.itemsize = var.dtype.itemsize
        self.direct = _direct_backend(var)
        self.edges = _chunk_edges(var, grid.dims, prefer_encoding=var.chunks is None or self.direct is not None)

    def read(self, box: tuple[tuple[int, int], ...]) -> np.ndarray:
        """Array of ``box`` ((t0, t1), (y0, y1), (x0, x1)) in (time, lat, lon[, extra]) order."""
        key: list[Any] = [slice(None)] * self.var.ndim
        for axis, (a, b) in enumerate(box):
            key[self.perm[axis]] = slice(a, b)
        if self.direct is not None:
            data = np.asarray(self.direct[tuple(key)])
        else:
            data = np.asarray(self.var[tuple(key)].values)
        return data.transpose(self.perm)


def _direct_backend(var: xr.Variable) -> Any | None:
    """The lazy backend array behind a dask array made by ``xarray.open_zarr`` (None otherwise).

    Only a plain ``from_array`` graph (the "original-..." array layer plus its getter layer) of
    an array with the variable's shape and dtype qualifies; anything computed on top of it
    (``isel``, arithmetic, transposes) is read through dask.
    """
    if var.chunks is None:
        return None
    graph = var.data.__dask_graph__()
    layers = getattr(graph, "layers", {})
    originals = [name for name in layers if str(name).startswith("original-")]
    if len(layers) != 2 or len(originals) != 1:
        return None
    values = list(layers[originals[0]].values())
    if len(values) != 1:
        return None
    array = getattr(values[0], "value", values[0])  # dask task-spec DataNode or the raw object
    if getattr(array, "shape", None) != var.shape or getattr(array, "dtype", None) != var.dtype:
        return None
    return array if hasattr(array, "__getitem__") else None


def _chunk_edges(var: xr.Variable, dims: tuple[str, str, str], prefer_encoding: bool) -> list[np.ndarray]:
    """Chunk boundaries (len n_chunks + 1) along (time, lat, lon): Zarr chunks, dask chunks or virtual ones."""
    encoded = var.encoding.get("chunks")
    sizes = [int(var.sizes[d]) for d in dims]
    if prefer_encoding and encoded is not None and len(encoded) == var.ndim:
        steps = [int(encoded[var.dims.index(d)]) for d in dims]
    elif var.chunks is not None:
        return [np.concatenate([[0], np.cumsum(var.chunksizes[d])]).astype(np.int64) for d in dims]
    else:
        steps = list(VIRTUAL_CHUNKS)
    return [np.append(np.arange(0, n, max(s, 1)), n).astype(np.int64) for n, s in zip(sizes, steps, strict=True)]


# --------------------------------------------------------------------------------------------
# Point/chunk pairs and read plan
# --------------------------------------------------------------------------------------------


@dataclass
class _Pairs:
    """(point, spatial chunk) pairs of one batch, sorted by (spatial chunk, centre time)."""

    point: np.ndarray  # global point index
    t: np.ndarray
    y: np.ndarray
    x: np.ndarray
    y0: np.ndarray  # bounds of the pair's chunk (global indices)
    y1: np.ndarray
    x0: np.ndarray
    x1: np.ndarray
    key: np.ndarray  # spatial chunk * n_time + centre time


def _touched(centre: np.ndarray, half: int, n: int, edges: np.ndarray, cyclic: bool) -> np.ndarray:
    """Chunk indices each window touches along one axis, ``(points, k)`` padded with -1."""
    cells = centre[:, None] + np.arange(-half, half + 1)
    valid = np.ones(cells.shape, bool) if cyclic else (cells >= 0) & (cells < n)
    cells = np.mod(cells, n) if cyclic else np.clip(cells, 0, n - 1)
    ids = np.where(valid, np.searchsorted(edges, cells, side="right") - 1, -1)
    ids.sort(axis=1)
    new = ids != -1
    new[:, 1:] &= ids[:, 1:] != ids[:, :-1]
    width = max(int(new.sum(axis=1).max(initial=0)), 1)
    order = np.argsort(~new, axis=1, kind="stable")[:, :width]
    out = np.take_along_axis(ids, order, axis=1)
    out[~np.take_along_axis(new, order, axis=1)] = -1
    return out


def _pairs(points: np.ndarray, centre: np.ndarray, half_size: int, grid: _Grid, edges: list[np.ndarray]) -> _Pairs:
    """Pairs of the points of one batch with the spatial chunks their windows touch."""
    _, ny, nx = grid.shape
    t, y, x = centre[:, 0], centre[:, 1], centre[:, 2]
    ys = _touched(y, half_size, ny, edges[1], cyclic=False)
    xs = _touched(x, half_size, nx, edges[2], cyclic=grid.lon.cyclic)
    both = (ys[:, :, None] >= 0) & (xs[:, None, :] >= 0)
    row, a, b = np.nonzero(both)
    cy, cx = ys[row, a], xs[row, b]
    key = (cy * (edges[2].size - 1) + cx) * grid.shape[0] + t[row]
    order = np.argsort(key, kind="stable")
    row, cy, cx = row[order], cy[order], cx[order]
    return _Pairs(point=points[row], t=t[row], y=y[row], x=x[row], y0=edges[1][cy], y1=edges[1][cy + 1],
                  x0=edges[2][cx], x1=edges[2][cx + 1], key=key[order])


def _ranges(starts: np.ndarray, ends: np.ndarray) -> np.ndarray:
    """Concatenation of ``arange(s, e)`` for every (s, e)."""
    lengths = ends - starts
    total = int(lengths.sum())
    if total == 0:
        return np.zeros(0, np.int64)
    offsets = np.repeat(starts - np.concatenate([[0], np.cumsum(lengths)[:-1]]), lengths)
    return np.arange(total, dtype=np.int64) + offsets


def _plan(pairs: _Pairs, reader: _Reader, grid: _Grid, half_time: int) -> Iterator[tuple[tuple, np.ndarray]]:
    """Reads of one batch: (box, pair indices) with every needed chunk in exactly one box per time chunk."""
    et, ey, ex = reader.edges
    nt = grid.shape[0]
    ncy, ncx = ey.size - 1, ex.size - 1
    spatial = np.arange(ncy * ncx, dtype=np.int64) * nt
    tmin, tmax = int(pairs.t.min()), int(pairs.t.max())
    first = np.searchsorted(et, max(tmin - half_time, 0), side="right") - 1
    last = np.searchsorted(et, min(tmax + half_time, nt - 1), side="right") - 1
    cell_bytes = reader.n_extra * reader.itemsize
    for k in range(first, last + 1):
        t0, t1 = int(et[k]), int(et[k + 1])
        lo, hi = max(t0 - half_time, 0), min(t1 - 1 + half_time, nt - 1)
        starts = np.searchsorted(pairs.key, spatial + lo, side="left")
        ends = np.searchsorted(pairs.key, spatial + hi, side="right")
        needed = (ends > starts).reshape(ncy, ncx)
        for (r0, r1), (c0, c1) in _boxes(needed, ey, ex, (t1 - t0) * cell_bytes):
            sel = np.zeros((ncy, ncx), bool)
            sel[r0:r1, c0:c1] = needed[r0:r1, c0:c1]
            flat = np.flatnonzero(sel)
            box = ((t0, t1), (int(ey[r0]), int(ey[r1])), (int(ex[c0]), int(ex[c1])))
            yield box, _ranges(starts[flat], ends[flat])


def _boxes(needed: np.ndarray, ey: np.ndarray, ex: np.ndarray, cell_bytes: int) -> Iterator[tuple[tuple, tuple]]:
    """Rectangles of chunks ((r0, r1), (c0, c1)) covering the needed chunks of one time chunk."""
    rows, cols = np.nonzero(needed)
    if rows.size == 0:
        return
    r0, r1, c0, c1 = rows.min(), rows.max() + 1, cols.min(), cols.max() + 1
    box_bytes = (ey[r1] - ey[r0]) * (ex[c1] - ex[c0]) * cell_bytes
    if box_bytes <= READ_BUDGET_BYTES and 2 * rows.size >= (r1 - r0) * (c1 - c0):
        yield (r0, r1), (c0, c1)
        return
    for r in np.unique(rows):
        row_bytes = int(ey[r + 1] - ey[r]) * cell_bytes
        cols = np.flatnonzero(needed[r])
        breaks = np.flatnonzero(np.diff(cols) > 1) + 1
        for run in np.split(cols, breaks):
            a = 0
            while a < run.size:  # split a run of adjacent chunks at the read budget
                b = a + 1
                while b < run.size and (ex[run[b] + 1] - ex[run[a]]) * row_bytes <= READ_BUDGET_BYTES:
                    b += 1
                yield (r, r + 1), (int(run[a]), int(run[b - 1]) + 1)
                a = b


class _Prefetcher:
    """Planned reads in plan order, up to :data:`READ_AHEAD` of them decoding in reader threads.

    Reads start on construction, so the caller can do other work while the first ones run; use it
    as a context manager (the threads are stopped on exit).
    """

    def __init__(self, reader: _Reader, plan: Iterator[tuple[tuple, np.ndarray]]):
        self._reader, self._plan = reader, plan
        self._pool = ThreadPoolExecutor(max_workers=READ_THREADS, thread_name_prefix="grid-windows-read")
        self._pending: deque = deque()
        self._submit()

    def _submit(self) -> None:
        while len(self._pending) < READ_AHEAD:
            item = next(self._plan, None)
            if item is None:
                return
            box, sel = item
            self._pending.append((self._pool.submit(self._reader.read, box), box, sel))

    def __enter__(self) -> _Prefetcher:
        return self

    def __exit__(self, *exc: object) -> None:
        self._pending.clear()
        self._pool.shutdown(wait=True, cancel_futures=True)

    def __iter__(self) -> Iterator[tuple[np.ndarray, tuple, np.ndarray]]:
        """(region, box, pair indices) of every planned read."""
        while self._pending:
            future, box, sel = self._pending.popleft()
            region = future.result()
            self._submit()
            yield region, box, sel


# --------------------------------------------------------------------------------------------
# Gathering windows from a region
# --------------------------------------------------------------------------------------------


def _gather(out: np.ndarray, region: np.ndarray, box: tuple, pairs: _Pairs, sel: np.ndarray,
            half: tuple[int, int], nx: int, cyclic: bool) -> None:
    """Copy the cells of ``region`` (read at ``box``) into the windows of the selected pairs."""
    half_time, half_size = half
    wt, w = 2 * half_time + 1, 2 * half_size + 1
    (t0, t1), (ry0, _), (rx0, _) = box
    per_pair = min(wt, t1 - t0) * w * w * (region[0, 0, 0].size if region.ndim > 3 else 1)
    step = max(GATHER_CELLS // per_pair, 1)
    for start in range(0, sel.size, step):
        s = sel[start:start + step]
        p, t, y, x = pairs.point[s], pairs.t[s], pairs.y[s], pairs.x[s]
        kt = np.maximum(t0 - (t - half_time), 0)[:, None] + np.arange(min(wt, t1 - t0))
        mt = (kt < wt) & (t[:, None] - half_time + kt < t1)
        lt = np.clip(t[:, None] - half_time + kt - t0, 0, t1 - t0 - 1)
        fast = ((y - half_size >= pairs.y0[s]) & (y + half_size < pairs.y1[s]) & (x - half_size >= pairs.x0[s])
                & (x + half_size < pairs.x1[s]))
        if region.shape[1] >= w and region.shape[2] >= w:
            f = np.flatnonzero(fast)
            i, j = np.nonzero(mt[f])
            rows = f[i]
            windows = sliding_window_view(region, (w, w), axis=(1, 2))
            cells = windows[lt[rows, j], y[rows] - half_size - ry0, x[rows] - half_size - rx0]
            out[p[rows], kt[rows, j]] = np.moveaxis(cells, 1, -1) if region.ndim > 3 else cells
        else:
            fast[:] = False
        slow = np.flatnonzero(~fast)
        if slow.size:
            _gather_cells(out, region, (ry0, rx0), (p[slow], kt[slow], mt[slow], lt[slow], y[slow], x[slow]),
                          pairs, s[slow], half_size, nx, cyclic)


def _gather_cells(out: np.ndarray, region: np.ndarray, origin: tuple[int, int], sub: tuple, pairs: _Pairs,
                  s: np.ndarray, half_size: int, nx: int, cyclic: bool) -> None:
    """Cell-by-cell copy for windows that straddle chunk boundaries (or wrap around the dateline)."""
    p, kt, mt, lt, y, x = sub
    offsets = np.arange(-half_size, half_size + 1)
    gy = y[:, None] + offsets
    gx = x[:, None] + offsets
    if cyclic:
        gx = np.mod(gx, nx)
    my = (gy >= pairs.y0[s, None]) & (gy < pairs.y1[s, None])
    mx = (gx >= pairs.x0[s, None]) & (gx < pairs.x1[s, None])
    a, b, c, d = np.nonzero(mt[:, :, None, None] & my[:, None, :, None] & mx[:, None, None, :])
    out[p[a], kt[a, b], c, d] = region[lt[a, b], gy[a, c] - origin[0], gx[a, d] - origin[1]]


# --------------------------------------------------------------------------------------------
# Public API
# --------------------------------------------------------------------------------------------


def extract_grid_windows(cube: xr.Dataset, variables: Sequence[str], lat: np.ndarray, lon: np.ndarray,
                         time: np.ndarray, half_time: int = 0, half_size: int = 2,
                         max_time_offset: np.timedelta64 | None = None,
                         batch_points: int = DEFAULT_BATCH_POINTS) -> Windows:
    """Windows of cube pixels around points, read chunk by chunk (see the module docstring).

    Args:
        cube: lazily opened gridded cube with dims ``time``, ``lat``/``latitude``,
            ``lon``/``longitude`` (any order) and at most one more (spectral) dimension per
            variable; 1-D regular lat (ascending or descending) and ascending lon coordinates
            (degrees), sorted datetime64 times.
        variables: names of the cube variables to extract.
        lat: point latitudes (degree_north), shape ``(n,)``.
        lon: point longitudes (degree_east, [-180, 360)), shape ``(n,)``.
        time: point times (datetime64), shape ``(n,)``.
        half_time: window half-length along time (slices): ``2*half_time+1`` slices.
        half_size: window half-width along lat and lon (pixels): ``2*half_size+1`` pixels.
        max_time_offset: largest allowed distance point -> nearest slice; None for any.
        batch_points: points per batch (each batch reads the chunks it needs once).

    Returns:
        The windows: float64 values with NaN padding, or int64 with 0 padding for integer
        variables; spectral variables carry their extra dimension last with its coordinate in
        ``wavelengths``.

    Raises:
        MissingVariable: when a requested variable is not in the cube.
        InvalidFile: when the cube's axes are missing, irregular, unsorted, or a variable has
            unexpected dimensions.
        ValueError: when the point arrays differ in length or a size argument is negative.
    """
    lat, lon = np.atleast_1d(np.asarray(lat, np.float64)), np.atleast_1d(np.asarray(lon, np.float64))
    time = np.atleast_1d(np.asarray(time))
    if not lat.shape == lon.shape == time.shape or lat.ndim != 1:
        raise ValueError(f"lat, lon and time must be 1-D of one length; got {lat.shape}, {lon.shape}, {time.shape}")
    if half_time < 0 or half_size < 0 or batch_points < 1:
        raise ValueError(f"half_time ({half_time}) and half_size ({half_size}) must be >= 0, "
                         f"batch_points ({batch_points}) >= 1")
    absent = [v for v in variables if v not in cube.data_vars]
    if absent:
        raise MissingVariable(f"cube has no variable(s) {absent}; it holds {sorted(map(str, cube.data_vars))}")
    grid = _Grid.of(cube)
    n = lat.size
    yc, lat_ok = grid.lat.locate(np.where(np.abs(lat) <= 90, lat, np.nan))
    xc, lon_ok = grid.lon.locate(np.where((lon >= -180) & (lon < 360), lon, np.nan))
    tc, time_ok = _locate_time(grid.time, time, max_time_offset)
    found = lat_ok & lon_ok & time_ok
    centre = np.where(found[:, None], np.stack([tc, yc, xc], axis=1), -1)
    order = np.flatnonzero(found)
    order = order[np.argsort(centre[order, 0], kind="stable")]
    half = (half_time, half_size)
    # centres, distances and the inside mask are computed while the first reads decode
    described: list[Windows] = []
    while_reading = [lambda: described.append(_empty_windows(n, grid, centre, found, half, lat, lon))]
    values, wavelengths = {}, {}
    for name in variables:
        reader = _Reader(cube[name], grid)
        values[str(name)] = _read_windows(reader, grid, order, centre, half, batch_points, n, while_reading)
        if reader.extra:
            wavelengths[str(name)] = _extra_coordinate(cube, reader.extra[0])
    for task in while_reading:  # no variables requested
        task()
    windows = described[0]
    windows.values.update(values)
    windows.wavelengths.update(wavelengths)
    log.debug("grid windows: %d points, %d found", n, int(found.sum()))
    return windows


def _read_windows(reader: _Reader, grid: _Grid, order: np.ndarray, centre: np.ndarray, half: tuple[int, int],
                  batch_points: int, n: int, while_reading: list[Callable[[], Any]]) -> np.ndarray:
    """Windows of one variable for every point (padding where not found), batch by batch.

    The output is allocated, and the callables in ``while_reading`` run (once, popped), while the
    first reads are decoding.
    """
    shape = (n, 2 * half[0] + 1, 2 * half[1] + 1, 2 * half[1] + 1) + ((reader.n_extra,) if reader.extra else ())
    out = None
    for start in range(0, order.size, batch_points):
        points = order[start:start + batch_points]
        pairs = _pairs(points, centre[points], half[1], grid, reader.edges)
        with _Prefetcher(reader, _plan(pairs, reader, grid, half[0])) as reads:
            if out is None:
                out = _padding(shape, reader.var.dtype)
                while while_reading:
                    while_reading.pop()()
            for region, box, sel in reads:
                _gather(out, region, box, pairs, sel, half, grid.shape[2], grid.lon.cyclic)
    while while_reading:
        while_reading.pop()()
    return _padding(shape, reader.var.dtype) if out is None else out


def _padding(shape: tuple[int, ...], dtype: np.dtype) -> np.ndarray:
    """Output array full of padding: int64 zeros for integer/bool variables, float64 NaN otherwise."""
    return np.zeros(shape, np.int64) if dtype.kind in "iub" else np.full(shape, np.nan)


def _extra_coordinate(cube: xr.Dataset, dim: str) -> np.ndarray:
    """Values of a spectral dimension's coordinate (float64), or 0..n-1 when it has none."""
    if dim in cube.coords:
        return np.asarray(cube[dim].values, dtype=np.float64)
    return np.arange(cube.sizes[dim], dtype=np.float64)


def _empty_windows(n: int, grid: _Grid, centre: np.ndarray, found: np.ndarray, half: tuple[int, int],
                   lat: np.ndarray, lon: np.ndarray) -> Windows:
    """Windows with centres, distances and the ``inside`` mask filled, no values yet."""
    half_time, half_size = half
    nt, ny, nx = grid.shape
    tc, yc, xc = centre[:, 0], centre[:, 1], centre[:, 2]
    dt, ds = np.arange(-half_time, half_time + 1), np.arange(-half_size, half_size + 1)
    in_t = found[:, None] & (tc[:, None] + dt >= 0) & (tc[:, None] + dt < nt)
    in_y = (yc[:, None] + ds >= 0) & (yc[:, None] + ds < ny)
    in_x = np.ones((n, ds.size), bool) if grid.lon.cyclic else (xc[:, None] + ds >= 0) & (xc[:, None] + ds < nx)
    inside = in_t[:, :, None, None] & in_y[:, None, :, None] & in_x[:, None, None, :]
    center_lat = np.where(found, grid.lat.values[np.maximum(yc, 0)], np.nan)
    center_lon = np.where(found, np.mod(grid.lon.values[np.maximum(xc, 0)] + 180.0, 360.0) - 180.0, np.nan)
    center_time = np.where(found, grid.time[np.maximum(tc, 0)], np.iinfo(np.int64).min).view("datetime64[ns]")
    distance = np.where(found, haversine_m(lat, lon, center_lat, center_lon), np.nan)
    return Windows(values={}, wavelengths={}, inside=inside, found=found, center_lat=center_lat,
                   center_lon=center_lon, center_time=center_time, distance_m=distance,
                   center_index=centre.astype(np.int64))
