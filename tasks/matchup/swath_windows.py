"""Pixel windows around in situ points in swath granules (2-D latitude/longitude), found with a KD-tree.

A swath granule is stored in the lake as one Zarr group (dims ``y, x[, wavelength]``, 2-D
``latitude``/``longitude`` coordinates in degrees). Finding the pixel nearest to a point is a
nearest-neighbour search on the sphere: pixel and point positions become 3-D unit vectors, a
``scipy.spatial.cKDTree`` of the valid pixels answers all points at once (the chord between unit
vectors orders pixels exactly like the great-circle distance), and the distance reported is the
haversine distance to the chosen pixel (:func:`~tasks.matchup.windows.haversine_m`, as for grids).
Unit vectors have no dateline or pole singularity.

Match rule (:meth:`SwathIndex.match`): the nearest pixel is the centre of the window only if the
point lies within :data:`EDGE_TOLERANCE_PIXELS` (0.75) pixel of that pixel's centre along *both*
grid axes, measured in the local pixel geometry (the steps to the neighbouring pixels along ``y``
and ``x``). A point inside the swath always lies inside the footprint of a pixel (offsets at most
0.5, about 0.67 even on a strongly skewed grid), so the rule accepts every point on the swath, with a
quarter-pixel margin for geolocation irregularities; a point beyond the swath edge (or over a hole
of missing geolocation) is more than 0.75 pixel from the edge pixel across the edge and is not
matched. In distance terms the rule is a limit of about 1.5 x the local half-diagonal (0.75 x the
pixel diagonal), following the local pixel size (OLCI 300 m at nadir, wider at the swath edges).
An explicit ``max_distance_m`` is an *additional* cap.

Reads are batched: per variable, the bounding box of all windows is read once with ``isel`` (or,
when that box is larger than :data:`READ_BUDGET_BYTES`, one box per tile of whole Zarr chunks
holding window pixels, so each chunk is read at most once and memory stays bounded) and the
windows are gathered with numpy fancy indexing.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence

import numpy as np
import xarray as xr
from scipy.spatial import cKDTree

from tasks.errors import InvalidFile, MissingVariable
from tasks.matchup.windows import Windows, haversine_m

#: A point matches its nearest pixel when it lies within this many pixels of the pixel centre along both
#: grid axes (0.5 = the pixel footprint; the extra 0.25 absorbs geolocation irregularities).
EDGE_TOLERANCE_PIXELS = 0.75

#: Largest block (bytes, in memory) read at once for one variable; beyond it windows are read per tile.
READ_BUDGET_BYTES = 64 * 2**20

_SPECTRAL_DIM = "wavelength"


def unit_vectors(lat: np.ndarray, lon: np.ndarray) -> np.ndarray:
    """3-D unit vectors ``(..., 3)`` float64 of positions given in degrees (Earth-centred, Earth-fixed axes).

    Computed in place (two temporaries of the input size), since swaths hold millions of pixels.
    """
    phi = np.radians(np.asarray(lat, dtype=np.float64))
    lam = np.radians(np.asarray(lon, dtype=np.float64))
    xyz = np.empty((*phi.shape, 3))
    np.sin(phi, out=xyz[..., 2])
    np.cos(phi, out=phi)  # phi now holds cos(latitude)
    np.cos(lam, out=xyz[..., 0])
    xyz[..., 0] *= phi
    np.sin(lam, out=lam)
    np.multiply(lam, phi, out=xyz[..., 1])
    return xyz


def valid_positions(lat: np.ndarray, lon: np.ndarray) -> np.ndarray:
    """True where a position is usable: finite, latitude in [-90, 90], longitude in [-180, 360] (degrees)."""
    with np.errstate(invalid="ignore"):
        return np.isfinite(lat) & np.isfinite(lon) & (np.abs(lat) <= 90.0) & (lon >= -180.0) & (lon <= 360.0)


class SwathIndex:
    """Nearest-pixel search on one swath granule, built once and reused for any number of points.

    Pixels whose latitude or longitude is NaN (or out of range) are left out of the index.

    Attributes:
        latitude: pixel latitudes (degree_north), float64 ``(ny, nx)``.
        longitude: pixel longitudes (degree_east), float64 ``(ny, nx)``.
        valid: bool ``(ny, nx)``: the pixel has a usable position (it is in the index).
        shape: ``(ny, nx)``.
    """

    def __init__(self, latitude: np.ndarray, longitude: np.ndarray) -> None:
        """Build the KD-tree of the valid pixels.

        Args:
            latitude: 2-D pixel latitudes (degree_north), any array-like (an xarray DataArray is loaded).
            longitude: 2-D pixel longitudes (degree_east), same shape.

        Raises:
            InvalidFile: when latitude and longitude are not 2-D arrays of the same shape.
        """
        self.latitude = np.asarray(latitude, dtype=np.float64)
        self.longitude = np.asarray(longitude, dtype=np.float64)
        if self.latitude.ndim != 2 or self.latitude.shape != self.longitude.shape:
            raise InvalidFile(f"swath latitude {self.latitude.shape} and longitude {self.longitude.shape} must be "
                              "2-D arrays of the same shape (y, x); is this a gridded product?")
        self.shape: tuple[int, int] = self.latitude.shape
        self.valid = valid_positions(self.latitude, self.longitude)
        # flat pixel index of each tree point; None = every pixel is valid (identity, no copies)
        self._flat = None if self.valid.all() else np.flatnonzero(self.valid)
        self._tree = None
        if self._flat is None:
            self._tree = cKDTree(unit_vectors(self.latitude.ravel(), self.longitude.ravel()), balanced_tree=False,
                                 compact_nodes=False)
        elif self._flat.size:
            xyz = unit_vectors(self.latitude.ravel()[self._flat], self.longitude.ravel()[self._flat])
            self._tree = cKDTree(xyz, balanced_tree=False, compact_nodes=False)

    def nearest(self, lat: np.ndarray, lon: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Nearest valid pixel of each point by great-circle distance, without any distance limit.

        Args:
            lat: point latitudes (degree_north), 1-D (scalars are promoted).
            lon: point longitudes (degree_east), same length; [-180, 180) or [0, 360).

        Returns:
            ``(iy, ix, distance_m)``: int64 row and column of the nearest pixel (-1 for unusable
            positions: NaN, latitude beyond +-90, or an index without valid pixels) and the
            great-circle distance (m, haversine), NaN for those.
        """
        lat, lon = _points(lat, lon)
        iy = np.full(lat.shape, -1, dtype=np.int64)
        ix = iy.copy()
        distance = np.full(lat.shape, np.nan)
        ok = valid_positions(lat, lon)
        if self._tree is None or not ok.any():
            return iy, ix, distance
        _, k = self._tree.query(unit_vectors(lat[ok], lon[ok]))
        flat = k if self._flat is None else self._flat[k]
        iy[ok], ix[ok] = np.divmod(flat, self.shape[1])
        distance[ok] = haversine_m(lat[ok], lon[ok], self.latitude.ravel()[flat], self.longitude.ravel()[flat])
        return iy, ix, distance

    def pixel_offsets(self, iy: np.ndarray, ix: np.ndarray, lat: np.ndarray,
                      lon: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Position of each point relative to pixel ``(iy, ix)``, in pixels along the ``y`` and ``x`` axes.

        The local axes are the steps to the neighbouring pixels (central differences, one-sided at
        edges and next to pixels without geolocation; an axis without any valid neighbour is taken
        perpendicular to the other with the same length). ``(0, 0)`` is the pixel centre; the pixel
        footprint is about ``|dy|, |dx| <= 0.5``.

        Args:
            iy: pixel rows (-1 = none).
            ix: pixel columns (-1 = none).
            lat: point latitudes (degree_north).
            lon: point longitudes (degree_east).

        Returns:
            ``(dy, dx)`` float64 arrays; NaN for ``iy == -1`` or when the pixel has no valid neighbour.
        """
        lat, lon = _points(lat, lon)
        iy, ix = np.asarray(iy, dtype=np.int64), np.asarray(ix, dtype=np.int64)
        dy, dx = np.full(lat.shape, np.nan), np.full(lat.shape, np.nan)
        has = iy >= 0
        if not has.any():
            return dy, dx
        cy, cx = iy[has], ix[has]
        centre = unit_vectors(self.latitude[cy, cx], self.longitude[cy, cx])
        e_y, e_x = self._axis_step(cy, cx, centre, 0), self._axis_step(cy, cx, centre, 1)
        only_x, only_y = np.isnan(e_y[:, 0]) & ~np.isnan(e_x[:, 0]), np.isnan(e_x[:, 0]) & ~np.isnan(e_y[:, 0])
        e_y[only_x] = np.cross(centre[only_x], e_x[only_x])
        e_x[only_y] = np.cross(centre[only_y], e_y[only_y])
        d = unit_vectors(lat[has], lon[has]) - centre
        g_yy, g_xx, g_yx = (e_y * e_y).sum(1), (e_x * e_x).sum(1), (e_y * e_x).sum(1)
        r_y, r_x = (e_y * d).sum(1), (e_x * d).sum(1)
        det = g_yy * g_xx - g_yx**2
        with np.errstate(invalid="ignore", divide="ignore"):
            det = np.where(det > 1e-9 * g_yy * g_xx, det, np.nan)  # degenerate: duplicated geolocation
            dy[has] = (g_xx * r_y - g_yx * r_x) / det
            dx[has] = (g_yy * r_x - g_yx * r_y) / det
        return dy, dx

    def _axis_step(self, iy: np.ndarray, ix: np.ndarray, centre: np.ndarray, axis: int) -> np.ndarray:
        """Unit-vector step ``(m, 3)`` to the next pixel along ``axis`` (NaN rows without valid neighbour)."""
        size = self.shape[axis]
        here = iy if axis == 0 else ix

        def neighbour(step: int) -> tuple[np.ndarray, np.ndarray]:
            j = np.clip(here + step, 0, size - 1)
            rows, cols = (j, ix) if axis == 0 else (iy, j)
            ok = (here + step >= 0) & (here + step < size) & self.valid[rows, cols]
            return ok, unit_vectors(self.latitude[rows, cols], self.longitude[rows, cols])

        ok_p, p = neighbour(1)
        ok_m, m = neighbour(-1)
        both = (ok_p & ok_m)[:, None]
        step = np.where(both, (p - m) / 2, np.where(ok_p[:, None], p - centre, m - centre))
        step[~(ok_p | ok_m)] = np.nan
        return step

    def match(self, lat: np.ndarray, lon: np.ndarray,
              max_distance_m: float | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """Centre pixel of each point under the match rule of this module (see the module docstring).

        Args:
            lat: point latitudes (degree_north).
            lon: point longitudes (degree_east).
            max_distance_m: optional extra cap on the great-circle distance (m). Without it, a pixel
                with no valid neighbour (a 1x1 granule) matches nothing; with it, such a pixel
                matches within the cap.

        Returns:
            ``(iy, ix, distance_m, found)``; ``iy``/``ix`` are -1 and ``distance_m`` NaN where not found.
        """
        iy, ix, distance = self.nearest(lat, lon)
        dy, dx = self.pixel_offsets(iy, ix, lat, lon)
        offset = np.maximum(np.abs(dy), np.abs(dx))
        with np.errstate(invalid="ignore"):
            found = (iy >= 0) & (offset <= EDGE_TOLERANCE_PIXELS)
            if max_distance_m is not None:
                found |= (iy >= 0) & np.isnan(offset)
                found &= distance <= max_distance_m
        iy[~found], ix[~found], distance[~found] = -1, -1, np.nan
        return iy, ix, distance, found


def extract_swath_windows(granule: xr.Dataset, variables: Sequence[str], lat: np.ndarray, lon: np.ndarray,
                          half_size: int = 2, max_distance_m: float | None = None, *,
                          index: SwathIndex | None = None) -> Windows:
    """Windows of ``(1, 2h+1, 2h+1)`` pixels of a swath granule around in situ points.

    Args:
        granule: the granule (dims ``y, x[, wavelength]`` in any order, 2-D ``latitude``/``longitude``
            coordinates in degrees), lazily opened (``tasks.cubes.open_cube(..., group=granule_id)``)
            or in memory.
        variables: names of the variables to extract. Variables with a ``wavelength`` dimension are
            spectral (last axis of their windows); ``flags`` and integer variables come back as
            int64 (0 in padding), everything else as float64 (NaN in padding).
        lat: point latitudes (degree_north), 1-D.
        lon: point longitudes (degree_east), same length.
        half_size: ``h``, half width of the window (pixels); 0 gives the centre pixel alone.
        max_distance_m: optional cap (m) on the point-to-centre great-circle distance, on top of the
            module's match rule (a point must lie within 0.75 pixel of the centre pixel along both axes,
            so points off the swath never match an edge pixel).
        index: a :class:`SwathIndex` of this granule built earlier (reused across calls); built from
            the granule's latitude/longitude when None.

    Returns:
        The windows; ``center_time`` is NaT (the caller knows the granule time). Points at unusable
        positions (NaN, out of range) or not on the swath are ``found=False`` with all-padding windows.

    Raises:
        MissingVariable: when a requested variable or the latitude/longitude coordinates are absent.
        InvalidFile: when a variable is not on the ``(y, x)`` grid or has other dimensions than
            ``y``, ``x`` and ``wavelength``.
        ValueError: when ``half_size`` is negative or ``lat``/``lon`` differ in length.
    """
    if half_size < 0:
        raise ValueError(f"half_size must be >= 0, got {half_size}")
    arrays = {name: _grid_variable(granule, name) for name in variables}
    if index is None:
        if "latitude" not in granule.variables or "longitude" not in granule.variables:
            raise MissingVariable("swath granule has no 2-D latitude/longitude coordinates; open it with "
                                  "tasks.cubes.open_cube(..., group=granule_id)")
        index = SwathIndex(granule["latitude"].values, granule["longitude"].values)
    shape = (granule.sizes["y"], granule.sizes["x"])
    if index.shape != shape:
        raise InvalidFile(f"swath index shape {index.shape} differs from the granule grid {shape}")
    lat, lon = _points(lat, lon)
    iy, ix, distance, found = index.match(lat, lon, max_distance_m)
    offsets = np.arange(-half_size, half_size + 1)
    rows, cols = iy[:, None] + offsets, ix[:, None] + offsets
    inside = (found[:, None, None] & ((rows >= 0) & (rows < shape[0]))[:, :, None]
              & ((cols >= 0) & (cols < shape[1]))[:, None, :])
    values, wavelengths = {}, {}
    for name, var in arrays.items():
        values[name] = _gather(var, name, rows, cols, inside)[:, None]
        if _SPECTRAL_DIM in var.dims:
            wavelengths[name] = np.asarray(var[_SPECTRAL_DIM].values, dtype=np.float64)
    n = lat.size
    center_lat, center_lon = np.full(n, np.nan), np.full(n, np.nan)
    center_lat[found] = index.latitude[iy[found], ix[found]]
    centre_lon = index.longitude[iy[found], ix[found]]
    center_lon[found] = np.where(centre_lon >= 180.0, centre_lon - 360.0, centre_lon)  # [0, 360) sources
    center_index = np.full((n, 3), -1, dtype=np.int64)
    center_index[found] = np.stack([np.zeros(found.sum(), dtype=np.int64), iy[found], ix[found]], axis=1)
    return Windows(values=values, wavelengths=wavelengths, inside=inside[:, None], found=found,
                   center_lat=center_lat, center_lon=center_lon,
                   center_time=np.full(n, np.datetime64("NaT", "ns")), distance_m=distance,
                   center_index=center_index)


def _points(lat, lon) -> tuple[np.ndarray, np.ndarray]:
    """Point coordinates as 1-D float64 arrays of the same length.

    Raises:
        ValueError: when their lengths differ.
    """
    lat = np.atleast_1d(np.asarray(lat, dtype=np.float64)).ravel()
    lon = np.atleast_1d(np.asarray(lon, dtype=np.float64)).ravel()
    if lat.shape != lon.shape:
        raise ValueError(f"lat ({lat.size}) and lon ({lon.size}) must have the same length")
    return lat, lon


def _grid_variable(granule: xr.Dataset, name: str) -> xr.DataArray:
    """Variable ``name`` transposed to ``(y, x[, wavelength])`` (lazy).

    Raises:
        MissingVariable: when the granule lacks it.
        InvalidFile: when it is not on the ``(y, x)`` grid.
    """
    if name not in granule.variables:
        raise MissingVariable(f"swath granule has no variable {name!r}; it holds {', '.join(map(str, granule))}")
    var = granule[name]
    extra = set(var.dims) - {"y", "x", _SPECTRAL_DIM}
    if "y" not in var.dims or "x" not in var.dims or extra:
        raise InvalidFile(f"swath variable {name!r} has dims {var.dims}; expected (y, x[, wavelength]) in any order")
    return var.transpose("y", "x", ...)


def _gather(var: xr.DataArray, name: str, rows: np.ndarray, cols: np.ndarray, inside: np.ndarray) -> np.ndarray:
    """Windows ``(n, w, w[, n_wavelength])`` of one variable, read block by block (see :func:`_read_plan`)."""
    integer = name == "flags" or var.dtype.kind in "iub"
    n, w = rows.shape
    out = np.full((n, w, w, *var.shape[2:]), 0 if integer else np.nan, dtype=np.int64 if integer else np.float64)
    flat_out = out.reshape(n * w * w, *var.shape[2:])  # a view: padding cells are never written
    point, wy, wx = np.nonzero(inside)
    row, col, position = rows[point, wy], cols[point, wx], (point * w + wy) * w + wx
    bytes_per_pixel = var.dtype.itemsize * math.prod(var.shape[2:])
    for pixels, (y0, y1, x0, x1) in _read_plan(var, row, col, bytes_per_pixel):
        block = np.asarray(var.isel(y=slice(y0, y1), x=slice(x0, x1)).values)
        if integer and block.dtype.kind == "f":  # flags decoded with a fill value: missing -> 0
            block = np.where(np.isfinite(block), block, 0)
        flat_out[position[pixels]] = block[row[pixels] - y0, col[pixels] - x0]
    return out


def _read_plan(var: xr.DataArray, row: np.ndarray, col: np.ndarray,
               bytes_per_pixel: int) -> Iterator[tuple[np.ndarray | slice, tuple[int, int, int, int]]]:
    """Groups of window pixels (``row``, ``col``) and the ``(y0, y1, x0, x1)`` box (end exclusive) to read for each.

    One box for all pixels when it fits in :data:`READ_BUDGET_BYTES`; otherwise pixels are grouped
    by tiles of whole chunks of ``var`` sized to the budget, so every chunk is read at most once.
    """
    if row.size == 0:
        return
    if (int(row.max()) - int(row.min()) + 1) * (int(col.max()) - int(col.min()) + 1) * bytes_per_pixel \
            <= READ_BUDGET_BYTES:
        yield slice(None), _box(row, col)
        return
    chunk_y, chunk_x = _chunk_shape(var)
    side = max(int(math.sqrt(READ_BUDGET_BYTES / bytes_per_pixel)), 1)
    tile_y, tile_x = max(side // chunk_y, 1) * chunk_y, max(side // chunk_x, 1) * chunk_x
    key = (row // tile_y) * (var.shape[1] // tile_x + 1) + col // tile_x
    order = np.argsort(key, kind="stable")
    starts = np.flatnonzero(np.r_[True, np.diff(key[order]) != 0])
    for group in np.split(order, starts[1:]):
        yield group, _box(row[group], col[group])


def _box(row: np.ndarray, col: np.ndarray) -> tuple[int, int, int, int]:
    """Smallest pixel box ``(y0, y1, x0, x1)`` (end exclusive) holding all the pixels."""
    return int(row.min()), int(row.max()) + 1, int(col.min()), int(col.max()) + 1


def _chunk_shape(var: xr.DataArray) -> tuple[int, int]:
    """Chunk lengths of ``var`` along ``y`` and ``x`` (dask chunks, else the Zarr encoding, else 1)."""
    if var.chunks is not None:
        return int(var.chunks[0][0]), int(var.chunks[1][0])
    preferred = var.encoding.get("preferred_chunks") or {}
    if "y" in preferred and "x" in preferred:
        return int(preferred["y"]), int(preferred["x"])
    return 1, 1

