"""Gridded and swath cubes: Zarr v3 in Icechunk repositories, one ingest = one commit.

A cube lives at ``<lake>/cubes/<name>`` (a local folder, or ``s3://bucket/prefix/cubes/<name>``)
and is an Icechunk repository whose ``main`` branch holds one Zarr v3 group written by xarray.
Every :func:`write_cube` call is a single Icechunk commit: readers see the cube before or after
the write, never half of it, and every earlier snapshot stays readable (:func:`open_cube` with
``snapshot_id``) until snapshots are expired and garbage-collected.

Concurrency: two writers appending to the same cube both start from the same parent snapshot.
The one that commits second gets :class:`icechunk.ConflictError`; the session is rebased with
:class:`icechunk.ConflictDetector` (which succeeds when the writers touched different arrays or
chunks). Two appends along the same dimension always conflict (both resize the same arrays), so
the losing write is then redone from scratch on a fresh session on top of the winner, up to
``max_attempts`` times; past that :class:`~tasks.errors.TransientError` is raised and nothing of
the losing write is committed. Local-folder repositories are not safe for concurrent commits by
themselves (Icechunk warns about it), so commits to local cubes hold an advisory file lock.
"""

from __future__ import annotations

import contextlib
import fcntl
import inspect
import json
import logging
import math
import re
import threading
import warnings
from collections import OrderedDict
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import icechunk
import numpy as np
import xarray as xr
import zarr

from tasks.config import Settings
from tasks.errors import ConfigError, SourceNotFound, TransientError

log = logging.getLogger(__name__)

# Icechunk warns on every open of a local repository that local storage is unsafe for concurrent
# commits; write_cube serialises local commits with a file lock, so keep only errors.
icechunk.set_logs_filter("error")

BRANCH = "main"
"""The branch every cube is written to and read from."""
#: Compressor of cube variables without one in their encoding (lake_schema/cubes.yaml): Blosc
#: zstd level 1 with byte shuffle - about as small as zstd alone on scaled integers and floats, and
#: several times faster to write and read. Byte rather than bit shuffle: on float32 L3m chlor_a it
#: compresses 1.45x and decodes 1.4x faster and stores 25 % less; on scaled int16 Rrs it is on par.
#: Arrays keep the codec they were created with (appends reuse it).
DEFAULT_COMPRESSOR = zarr.codecs.BloscCodec(cname="zstd", clevel=1, shuffle="shuffle")

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")
_TIME_DIMS = ("time",)
_SPATIAL_DIMS = ("lat", "latitude", "y", "lon", "longitude", "x")


def _icechunk_writer_is_compatible() -> bool:
    """Whether ``icechunk.xarray.to_icechunk`` can run with the installed xarray.

    icechunk 1.1.21 passes ``synchronizer=`` and ``zarr_version=`` to ``ZarrStore.open_group``,
    which recent xarray releases removed (``TypeError`` on every call).
    """
    from xarray.backends.zarr import ZarrStore

    return "synchronizer" in inspect.signature(ZarrStore.open_group).parameters


_USE_TO_ICECHUNK = _icechunk_writer_is_compatible()

try:  # the encoder xarray's Zarr backend applies to every variable it writes
    from xarray.backends.zarr import encode_zarr_variable
except ImportError:  # pragma: no cover - another xarray layout: appends go through to_zarr, variables are
    encode_zarr_variable = None  # packed at write time


# --------------------------------------------------------------------------------------------
# Location and repository
# --------------------------------------------------------------------------------------------


def _check_name(name: str) -> str:
    if not _NAME.match(name or ""):
        raise ConfigError(
            f"cube name {name!r} is invalid: use letters, digits, '_', '.' and '-' (no '/'), "
            "e.g. 'cmems_glo_phy_so'"
        )
    return name


def cube_location(settings: Settings, name: str) -> str:
    """Path or URL of cube ``name`` in the lake (``<lake>/cubes/<name>``; never holds credentials).

    Args:
        settings: run settings (lake root).
        name: cube name (letters, digits, ``_``, ``.``, ``-``).

    Raises:
        ConfigError: when ``name`` is not a valid cube name.
    """
    return settings.lake_path("cubes", _check_name(name))


def cube_storage(settings: Settings, name: str) -> icechunk.Storage:
    """Icechunk storage of cube ``name``: a local folder or an S3 prefix, from ``settings`` only.

    For an S3 lake the key id, secret, endpoint and region come from ``settings.s3``; a custom
    endpoint (MinIO, moto) uses path-style addressing and may be plain ``http://``. Without a key
    id in the settings the bucket is accessed anonymously (no environment or instance-profile
    lookup happens here). Secrets are never logged.

    Args:
        settings: run settings (lake root and S3 credentials).
        name: cube name.

    Returns:
        The storage object to open or create the repository with.

    Raises:
        ConfigError: when ``name`` is invalid.
    """
    location = cube_location(settings, name)
    if not settings.is_s3:
        return icechunk.local_filesystem_storage(location)
    bucket, _, prefix = location.removeprefix("s3://").partition("/")
    creds = settings.s3
    log.debug("cube storage s3 bucket=%s prefix=%s endpoint=%s", bucket, prefix, creds.endpoint or "AWS")
    return icechunk.s3_storage(
        bucket=bucket,
        prefix=prefix,
        region=creds.region,
        endpoint_url=creds.endpoint,
        allow_http=bool(creds.endpoint) and not creds.use_ssl,
        force_path_style=bool(creds.endpoint),
        access_key_id=creds.key_id,
        secret_access_key=creds.secret,
        anonymous=None if creds.key_id else True,
    )


def open_cube_repository(settings: Settings, name: str, create: bool = True) -> icechunk.Repository:
    """Open the Icechunk repository of cube ``name``, creating it (empty) when absent.

    Args:
        settings: run settings.
        name: cube name.
        create: create the repository when it does not exist yet.

    Returns:
        The repository (its ``main`` branch starts at Icechunk's "Repository initialized" snapshot).

    Raises:
        SourceNotFound: when the cube does not exist and ``create`` is False.
        ConfigError: when ``name`` is invalid.
    """
    storage = cube_storage(settings, name)
    if icechunk.Repository.exists(storage):
        return icechunk.Repository.open(storage)
    if not create:
        raise SourceNotFound(
            f"cube {name!r} does not exist at {cube_location(settings, name)}; write it first with write_cube()"
        )
    if not settings.is_s3:
        Path(cube_location(settings, name)).parent.mkdir(parents=True, exist_ok=True)
    log.info("creating cube repository %s", cube_location(settings, name))
    try:
        return icechunk.Repository.create(storage)
    except icechunk.IcechunkError:
        # another writer created it between exists() and create()
        if icechunk.Repository.exists(storage):
            return icechunk.Repository.open(storage)
        raise


# --------------------------------------------------------------------------------------------
# Writing
# --------------------------------------------------------------------------------------------


def _has_array(store: Any, name: str | None = None) -> bool:
    """Whether the root group of ``store`` exists (and holds array ``name`` when given)."""
    try:
        group = zarr.open_group(store, mode="r", zarr_format=3)
    except (FileNotFoundError, zarr.errors.GroupNotFoundError):
        return False
    if name is None:
        return True
    return name in group.array_keys()


def _check_metadata(metadata: Mapping[str, Any] | None) -> dict[str, Any]:
    meta = dict(metadata or {})
    try:
        json.dumps(meta)
    except TypeError as exc:
        raise ValueError(f"commit metadata must be JSON-serialisable (str, numbers, lists, dicts): {exc}") from exc
    return meta


def _write_to_session(dataset: xr.Dataset, session: icechunk.Session, mode: str, append_dim: str | None,
                      group: str | None = None, same_coords: tuple[str, ...] = (),
                      stored: _Coordinates | None = None) -> _Coordinates | None:
    """Write ``dataset`` into the (uncommitted) session, with each variable's own encoding.

    When appending, dask chunks are re-aligned to the cube's existing Zarr chunks (which are
    fixed by the first write), so an ingest chunked differently still writes safely. Values of
    ``append_dim`` already in the cube are overwritten in place (region write) instead of being
    appended twice, so re-ingesting or reprocessing a time step is idempotent.

    ``stored``: the cube's coordinates at the session's parent snapshot when known (else read).
    Returns the coordinates after this write when appending (None otherwise).
    """
    align = append_dim is not None
    after = None
    if mode != "a":  # new arrays: default codec (appends and region writes reuse the stored one)
        for var in dataset.data_vars.values():
            var.encoding.setdefault("compressors", (DEFAULT_COMPRESSOR,))
    if append_dim is not None and mode == "a":
        dataset, after = _overwrite_existing(dataset, session, append_dim, same_coords, stored)
        if dataset is None or (after is not None and _append_in_memory(dataset, session, append_dim, after)):
            return after
    if _USE_TO_ICECHUNK and group is None:
        from icechunk.xarray import to_icechunk

        to_icechunk(dataset, session, mode=mode, append_dim=append_dim, align_chunks=align)
        return after
    # Same writes, same process: fine for in-memory arrays and dask's threaded/sync schedulers.
    dataset.to_zarr(session.store, group=group, mode=mode, append_dim=append_dim, consolidated=False,
                    zarr_format=3, align_chunks=align)
    return after


@dataclass
class _Coordinates:
    """1-D coordinates of a cube snapshot: the append dimension's and those that must stay equal."""

    dim: str
    values: dict[str, np.ndarray]
    attrs: dict[str, Any]  # the append dimension's stored attributes (CF time units)
    dtype: np.dtype | None  # the append dimension's stored (encoded) dtype
    encodings: dict[str, dict[str, Any]] | None = None  # of the arrays along ``dim``, as xarray decodes them


#: Coordinates of the last snapshots this process committed, by (cube location, snapshot id): a
#: snapshot never changes, so the next append on top of it needs not read them back (one group
#: listing and three array reads per granule otherwise).
_SNAPSHOT_COORDINATES: OrderedDict[tuple[str, str], _Coordinates] = OrderedDict()
_SNAPSHOT_COORDINATES_MAX = 16
_snapshot_coordinates_lock = threading.Lock()


def _remember_coordinates(location: str, snapshot: str, coords: _Coordinates) -> None:
    with _snapshot_coordinates_lock:
        _SNAPSHOT_COORDINATES[(location, snapshot)] = coords
        while len(_SNAPSHOT_COORDINATES) > _SNAPSHOT_COORDINATES_MAX:
            _SNAPSHOT_COORDINATES.popitem(last=False)


def _known_coordinates(location: str, snapshot: str) -> _Coordinates | None:
    with _snapshot_coordinates_lock:
        return _SNAPSHOT_COORDINATES.get((location, snapshot))


def _stored_coordinate(group: zarr.Group, name: str, names: set[str] | None = None) -> np.ndarray | None:
    """Values of a stored 1-D coordinate, CF-decoded for times (None when absent; ``names``: the group's arrays)."""
    if name not in (set(group.array_keys()) if names is None else names):
        return None
    array = group[name]
    values = array[:]
    units = array.attrs.get("units", "")
    if " since " in str(units):
        values = xr.coding.times.decode_cf_datetime(values, units, array.attrs.get("calendar", "standard"))
    return np.asarray(values)


def _as_stored(values: np.ndarray, coords: _Coordinates) -> np.ndarray | None:
    """``values`` of the append dimension as they read back once appended (None: not stored exactly)."""
    existing = coords.values[coords.dim]
    units = str(coords.attrs.get("units", ""))
    try:
        if " since " in units:
            calendar = coords.attrs.get("calendar", "standard")
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # xarray warns when it changes units or dtype: the round trip
                # through the stored units below then differs
                encoded, _, _ = xr.coding.times.encode_cf_datetime(values, units, calendar, dtype=coords.dtype)
                if encoded.dtype != coords.dtype:
                    return None
                decoded = np.asarray(xr.coding.times.decode_cf_datetime(encoded, units, calendar))
        else:
            decoded = values.astype(existing.dtype)
    except (ValueError, TypeError, OverflowError):
        return None
    return decoded if decoded.dtype == existing.dtype and np.array_equal(decoded, values) else None


def _read_coordinates(session: icechunk.Session, dim: str, same_coords: tuple[str, ...]) -> _Coordinates:
    group = zarr.open_group(session.store, mode="r", zarr_format=3)
    names = set(group.array_keys())
    values = {name: v for name in (dim, *same_coords) if (v := _stored_coordinate(group, name, names)) is not None}
    if dim not in names:
        return _Coordinates(dim, values, {}, None)
    return _Coordinates(dim, values, dict(group[dim].attrs), group[dim].dtype)


def _overwrite_existing(dataset: xr.Dataset, session: icechunk.Session, dim: str,
                        same_coords: tuple[str, ...] = (), stored: _Coordinates | None = None,
                        ) -> tuple[xr.Dataset | None, _Coordinates | None]:
    """Region-write the ``dim`` values already in the cube; return the rest to append (None if nothing).

    Coordinates of ``same_coords`` found equal to the cube's are left out of the returned dataset:
    appending would rewrite them unchanged. ``stored``: the cube's coordinates when known (else
    read from the session). Also returns the coordinates the cube has after the write (None when
    they cannot be told without reading them back).

    Raises:
        ValueError: when a coordinate of ``same_coords`` differs from the cube's (another grid).
    """
    if stored is None or stored.dim != dim or any(n not in stored.values for n in same_coords if n in dataset.coords):
        stored = _read_coordinates(session, dim, same_coords)
    unchanged = []
    for name in same_coords:
        values = stored.values.get(name)
        if values is None or name not in dataset.coords or dim in dataset[name].dims:
            continue
        if not np.array_equal(values, dataset[name].values):
            raise ValueError(f"its {name} coordinate differs from the cube's; a product definition must map "
                             "each grid to its own cube (its `cube` template)")
        unchanged.append(name)
    dataset = dataset.drop_vars(unchanged)
    existing = stored.values.get(dim)
    position = {value: i for i, value in enumerate(existing)}
    new_values = dataset[dim].values
    repeated = [v for v in new_values if v in position]
    for value in repeated:
        index = position[value]
        piece = dataset.sel({dim: [value]})
        piece = piece.drop_vars([n for n, v in piece.variables.items() if dim not in v.dims])
        piece.to_zarr(session.store, region={dim: slice(index, index + 1)}, consolidated=False, zarr_format=3,
                      align_chunks=True)
    appended = np.asarray([v for v in new_values if v not in position], dtype=new_values.dtype)
    after = None
    if set(unchanged) == {n for n in same_coords if n in stored.values}:  # else: coordinates were rewritten
        readback = _as_stored(appended, stored)
        if readback is not None:
            after = _Coordinates(dim, {**stored.values, dim: np.concatenate([existing, readback])}, stored.attrs,
                                 stored.dtype, stored.encodings)
    if not repeated and dim in dataset.indexes and dataset.indexes[dim].is_unique:
        return dataset, after  # all new: append as is (selecting them all would copy every array)
    if len(repeated) == len(new_values):
        return None, after
    return dataset.sel({dim: list(appended)}), after


def _append_in_memory(dataset: xr.Dataset, session: icechunk.Session, dim: str, state: _Coordinates) -> bool:
    """Append in-memory ``dataset`` along ``dim`` with Zarr directly; False (nothing written) when xarray must.

    The same writes as ``to_zarr(append_dim=dim)``: each variable encoded with the encoding of its
    stored array (:attr:`_Coordinates.encodings`, decoded once per cube and process and then carried
    from snapshot to snapshot), each array resized and its new slice written; attributes untouched.
    Without re-opening the cube through xarray, which decodes the stored time coordinate on
    every append (~30 % of an L3m day's write). Only when every variable is a numpy array along
    ``dim`` that the cube already holds with the same dimensions and encoded dtype.
    """
    variables = dict(dataset.variables)
    if encode_zarr_variable is None or any(
            dim not in var.dims or not isinstance(var.data, np.ndarray) for var in variables.values()):
        return False
    group = zarr.open_group(session.store, mode="r+", zarr_format=3)
    if not set(variables) <= set(group.array_keys()):
        return False
    if state.encodings is None or not set(variables) <= set(state.encodings):
        state.encodings = _stored_encodings(session, sorted(map(str, variables)))
    plans = []
    for name, var in variables.items():
        array = group[str(name)]
        axis = var.dims.index(dim)
        encoded = encode_zarr_variable(xr.Variable(var.dims, var.data, var.attrs, dict(state.encodings[name])),
                                        name=str(name), zarr_format=3)
        if tuple(array.metadata.dimension_names or ()) != var.dims or encoded.dtype != array.dtype or \
                array.shape[:axis] + array.shape[axis + 1:] != var.shape[:axis] + var.shape[axis + 1:]:
            return False
        plans.append((array, axis, encoded.values))
    for array, axis, values in plans:
        start = array.shape[axis]
        array.resize(array.shape[:axis] + (start + values.shape[axis],) + array.shape[axis + 1:])
        array[tuple(slice(start, None) if i == axis else slice(None) for i in range(values.ndim))] = values
    return True


def _stored_encodings(session: icechunk.Session, names: list[str]) -> dict[str, dict[str, Any]]:
    """The encodings xarray appends ``names`` with: those of the stored arrays, CF-decoded."""
    store = xr.backends.zarr.ZarrStore.open_group(session.store, mode="r", zarr_format=3, consolidated=False)
    decoded, _, _ = xr.conventions.decode_cf_variables({n: store.open_store_variable(n) for n in names}, {})
    return {name: dict(var.encoding) for name, var in decoded.items()}


@contextlib.contextmanager
def _commit_lock(settings: Settings, name: str) -> Iterator[None]:
    """Serialise commits to a local cube (Icechunk's local storage has no atomic ref update)."""
    if settings.is_s3:  # S3 ref updates are conditional writes: safe without a lock
        yield
        return
    lock_path = Path(cube_location(settings, name) + ".commit.lock")
    with open(lock_path, "a+b") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _commit(session: icechunk.Session, message: str, metadata: dict[str, Any], rebase_tries: int) -> tuple[str, bool]:
    """Commit, rebasing on :class:`icechunk.ConflictError` up to ``rebase_tries`` times.

    Returns:
        The new snapshot id, and whether the session was rebased on other writers' commits.

    Raises:
        icechunk.RebaseFailedError: when the concurrent changes really conflict with this session.
        icechunk.ConflictError: when the branch still moved after ``rebase_tries`` rebases.
    """
    for attempt in range(rebase_tries + 1):
        try:
            return session.commit(message, metadata=metadata), attempt > 0
        except icechunk.ConflictError:
            if attempt == rebase_tries:
                raise
            log.info("commit conflict (branch moved); rebasing, attempt %d/%d", attempt + 1, rebase_tries)
            session.rebase(icechunk.ConflictDetector())
    raise AssertionError("unreachable")  # pragma: no cover


def _discard(session: icechunk.Session) -> None:
    with contextlib.suppress(Exception):
        if not session.read_only:
            session.discard_changes()


def write_cube(
    settings: Settings,
    name: str,
    dataset: xr.Dataset,
    message: str,
    append_dim: str | None = None,
    metadata: Mapping[str, Any] | None = None,
    *,
    group: str | None = None,
    same_coords: tuple[str, ...] = (),
    max_attempts: int = 4,
    rebase_tries: int = 3,
) -> str:
    """Write ``dataset`` to cube ``name`` in ONE Icechunk commit and return its snapshot id.

    Without ``append_dim`` the cube must not hold data yet (a new cube). With ``append_dim``
    (e.g. ``"time"``) the dataset is appended along that dimension; the first write of an empty
    cube creates it, and values of ``append_dim`` already in the cube are overwritten in place.
    With ``group`` the dataset replaces that Zarr group of the cube (one group per swath granule).
    Each variable's ``encoding`` (dtype, chunks, compressors, fill value, time
    units) is passed through, so the first write fixes the cube's Zarr chunks: chunk it with
    :func:`default_chunks` (time chunk 1) when later appends are expected. Appended dask data is
    re-aligned to those chunks.

    Any exception while writing or committing discards the session: nothing is committed and
    the cube stays at its previous snapshot (chunks already uploaded become unreferenced objects
    that Icechunk garbage collection removes). The exception propagates.

    Args:
        settings: run settings.
        name: cube name.
        dataset: the data to write (numpy- or dask-backed; dask is computed chunk by chunk).
        message: commit message (e.g. ``"ingest cmems so 2025-09-24"``).
        append_dim: dimension to append along, or None to create a new cube.
        metadata: JSON-serialisable commit metadata (e.g. ``{"sources": {"file.nc": "sha256:.."}}``).
        group: write to (and replace) this Zarr group instead of the root.
        same_coords: when appending, coordinates that must equal the cube's (e.g. ``("lat", "lon")``).
        max_attempts: how many times a write that lost a race (conflicting rebase) is redone on
            top of the winning commit.
        rebase_tries: rebases per attempt when the branch moved during the commit.

    Returns:
        The id of the new snapshot (20-character Icechunk id).

    Raises:
        ValueError: when ``append_dim`` is not a dimension of ``dataset``, ``metadata`` is not
            JSON-serialisable, or a ``same_coords`` coordinate differs from the cube's.
        FileExistsError: when the cube already holds data and ``append_dim`` is None.
        TransientError: when concurrent writers kept winning for ``max_attempts`` attempts.
    """
    if append_dim is not None and append_dim not in dataset.dims:
        raise ValueError(f"cube {name!r}: append_dim {append_dim!r} is not a dimension of the dataset "
                         f"(dimensions: {sorted(map(str, dataset.dims))})")
    meta = _check_metadata(metadata)
    repo = open_cube_repository(settings, name, create=True)
    location = cube_location(settings, name)
    for attempt in range(1, max_attempts + 1):
        session = repo.writable_session(BRANCH)
        parent = session.snapshot_id
        after = None
        try:
            if group is not None:
                _write_to_session(dataset, session, "w", None, group=group)
            else:
                known = _known_coordinates(location, parent) if append_dim is not None else None
                if append_dim is None and _has_array(session.store):
                    raise FileExistsError(f"cube {location} already holds data; pass append_dim= to append, "
                                          "or write to a new cube name")
                appending = known is not None or (append_dim is not None and _has_array(session.store, append_dim))
                after = _write_to_session(dataset, session, "a" if appending else "w-",
                                          append_dim if appending else None, same_coords=same_coords, stored=known)
            with _commit_lock(settings, name):
                snapshot, rebased = _commit(session, message, meta, rebase_tries)
            if after is not None and not rebased:  # after a rebase the cube also holds others' appends
                _remember_coordinates(location, snapshot, after)
        except (icechunk.RebaseFailedError, icechunk.ConflictError) as exc:
            _discard(session)
            if attempt == max_attempts:
                raise TransientError(f"cube {location}: write {message!r} lost {max_attempts} races against "
                                     "concurrent writers; nothing was committed, retry later") from exc
            log.info("cube %s: concurrent write conflicted (%s); redoing the write, attempt %d/%d",
                     location, type(exc).__name__, attempt + 1, max_attempts)
            continue
        except BaseException:
            _discard(session)
            raise
        log.info("cube %s: committed snapshot %s (%s)", location, snapshot, message)
        return snapshot
    raise AssertionError("unreachable")  # pragma: no cover


# --------------------------------------------------------------------------------------------
# Reading
# --------------------------------------------------------------------------------------------


def open_cube(settings: Settings, name: str, snapshot_id: str | None = None, group: str | None = None) -> xr.Dataset:
    """Open cube ``name`` lazily (dask arrays), at the tip of ``main`` or at ``snapshot_id``.

    Args:
        settings: run settings.
        name: cube name.
        snapshot_id: a snapshot id from :func:`cube_history` or :func:`write_cube` (time travel);
            None for the latest commit.
        group: Zarr group of a swath/binned granule (None: the root, i.e. a grid cube).

    Returns:
        The dataset, decoded by xarray (CF times, fill values) as written; its
        ``encoding["icechunk_snapshot_id"]`` names the snapshot read.

    Raises:
        SourceNotFound: when the cube does not exist or holds no data at that snapshot.
    """
    repo = open_cube_repository(settings, name, create=False)
    if snapshot_id is None:
        session = repo.readonly_session(branch=BRANCH)
    else:
        session = repo.readonly_session(snapshot_id=snapshot_id)
    if not _has_array(session.store):
        raise SourceNotFound(f"cube {cube_location(settings, name)} holds no data at snapshot "
                             f"{session.snapshot_id}; write it first with write_cube()")
    try:
        dataset = xr.open_zarr(session.store, group=group, consolidated=False)
        dataset.encoding["icechunk_snapshot_id"] = session.snapshot_id  # lineage of what was read
        return dataset
    except (FileNotFoundError, zarr.errors.GroupNotFoundError) as exc:
        raise SourceNotFound(f"cube {cube_location(settings, name)} has no group {group!r}") from exc


def cube_history(settings: Settings, name: str) -> list[dict[str, Any]]:
    """Commits of cube ``name`` on ``main``, newest first (the last one is "Repository initialized").

    Args:
        settings: run settings.
        name: cube name.

    Returns:
        One dict per snapshot: ``snapshot_id``, ``parent_id``, ``written_at`` (timezone-aware UTC
        datetime), ``message`` and ``metadata`` (the dict given to :func:`write_cube`).

    Raises:
        SourceNotFound: when the cube does not exist.
    """
    repo = open_cube_repository(settings, name, create=False)
    return [
        {"snapshot_id": info.id, "parent_id": info.parent_id, "written_at": info.written_at,
         "message": info.message, "metadata": dict(info.metadata)}
        for info in repo.ancestry(branch=BRANCH)
    ]


# --------------------------------------------------------------------------------------------
# Chunking
# --------------------------------------------------------------------------------------------


def default_chunks(dataset: xr.Dataset, target_mb: float = 4) -> dict[str, int]:
    """Dask/Zarr chunk sizes for a (time, lat, lon[, wavelength]) cube of about ``target_mb`` MB.

    ``time`` gets chunks of 1 (an ingest appends whole time steps and a match-up reads one time
    step at one point or window); every non-spatial dimension other than time (wavelength,
    depth, band) is kept whole so a spectrum or profile is one read; latitude/longitude (``lat``,
    ``latitude``, ``y``, ``lon``, ``longitude``, ``x``) get square tiles sized so one chunk of
    the widest data variable is close to ``target_mb`` megabytes (10**6 bytes), clipped to the
    dimension sizes, then evened out: a dimension split into n chunks gets chunks of
    ``ceil(size / n)``, so the last chunk is not a mostly empty one that Zarr still stores,
    compresses and decodes at full size (a 0.1° global grid: (1, 1800, 1800), not
    (1, 1800, 2222)). Use as ``dataset.chunk(default_chunks(dataset))``.

    Args:
        dataset: the cube to chunk.
        target_mb: target uncompressed chunk size, MB (10**6 bytes).

    Returns:
        Mapping from dimension name to chunk length (elements).
    """
    sizes = {str(dim): int(size) for dim, size in dataset.sizes.items()}
    chunks: dict[str, int] = {}
    for dim, size in sizes.items():
        if dim in _TIME_DIMS:
            chunks[dim] = 1
        elif dim not in _SPATIAL_DIMS:
            chunks[dim] = max(size, 1)
    spatial = [dim for dim in sizes if dim in _SPATIAL_DIMS]
    if not spatial:
        return chunks
    itemsize = max((np.dtype(var.encoding.get("dtype", var.dtype)).itemsize  # stored, not in-memory, size
                    for var in dataset.data_vars.values()), default=8)
    per_cell = itemsize * math.prod(chunks.values())  # bytes of one spatial cell across other dims
    cells = max(target_mb * 1e6 / per_cell, 1.0)
    side = max(int(cells ** (1 / len(spatial))), 1)
    for dim in spatial:
        chunks[dim] = max(min(side, sizes[dim]), 1)
    # a dimension clipped to its size leaves room for the others
    if len(spatial) == 2:
        a, b = spatial
        if chunks[a] == sizes[a]:
            chunks[b] = max(min(int(cells // chunks[a]), sizes[b]), 1)
        elif chunks[b] == sizes[b]:
            chunks[a] = max(min(int(cells // chunks[b]), sizes[a]), 1)
    for dim in spatial:  # even chunks: n pieces of ceil(size / n), none larger than before
        pieces = math.ceil(sizes[dim] / chunks[dim]) if sizes[dim] else 1
        chunks[dim] = max(math.ceil(sizes[dim] / pieces), 1)
    return chunks
