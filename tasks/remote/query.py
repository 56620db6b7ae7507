"""SOURCE strings of the remote catalogues: ``<scheme>://<name>[/<name2>]?<param>=<value>&...``.

Parameters shared by every scheme (all optional):

* ``start``, ``end``: ``YYYY-MM-DD`` or ISO 8601 date-times (UTC); a date-only ``end`` includes
  the whole day.
* ``bbox``: ``west,south,east,north`` in degrees.
* ``match``: file-name glob the granules must also match (repeat it for alternatives).
* ``limit``: at most this many granules (the first ones in time order).
"""

from __future__ import annotations

import fnmatch
from dataclasses import dataclass, field
from datetime import UTC, datetime, time, timedelta
from urllib.parse import parse_qs, urlsplit

from tasks.errors import ConfigError

COMMON_PARAMS = frozenset({"start", "end", "bbox", "match", "limit"})


@dataclass(frozen=True)
class RemoteQuery:
    """A parsed remote SOURCE.

    Attributes:
        source: the SOURCE string as given (used in messages).
        scheme: ``cmr``, ``cdse`` or ``cmems``.
        name: the part after ``://`` up to ``/`` or ``?`` (short name, collection, dataset id).
        subname: the path after ``name`` (``cmems://PRODUCT/DATASET``), or None.
        params: every query parameter, as lists of values.
        start: start of the time range (UTC, naive), or None.
        end: end of the time range (UTC, naive, inclusive), or None.
        bbox: ``(west, south, east, north)`` in degrees, or None.
        match: extra file-name globs.
        limit: maximum number of granules, or None.
    """

    source: str
    scheme: str
    name: str
    subname: str | None
    params: dict[str, list[str]] = field(default_factory=dict)
    start: datetime | None = None
    end: datetime | None = None
    bbox: tuple[float, float, float, float] | None = None
    match: tuple[str, ...] = ()
    limit: int | None = None

    def first(self, key: str, default: str | None = None) -> str | None:
        """First value of query parameter ``key``."""
        return self.params.get(key, [default])[0]

    def other_params(self, known: frozenset[str] = frozenset()) -> dict[str, list[str]]:
        """Parameters that are neither common nor in ``known``."""
        return {k: v for k, v in self.params.items() if k not in COMMON_PARAMS | known}

    def check_params(self, known: frozenset[str]) -> None:
        """Raise ConfigError naming unknown parameters (typos would otherwise widen the search)."""
        unknown = sorted(self.other_params(known))
        if unknown:
            valid = ", ".join(sorted(COMMON_PARAMS | known))
            raise ConfigError(f"SOURCE {self.source!r}: unknown parameter(s) {', '.join(unknown)}; valid: {valid}")

    def selects(self, name: str, patterns: tuple[str, ...]) -> bool:
        """True when a granule file name matches the product patterns and every ``match`` glob set."""
        in_product = any(fnmatch.fnmatch(name, p) for p in patterns)
        return in_product and (not self.match or any(fnmatch.fnmatch(name, m) for m in self.match))


def parse(source: str) -> RemoteQuery:
    """Parse a remote SOURCE string.

    Raises:
        ConfigError: when a common parameter is malformed (the message names it and the format).
    """
    parts = urlsplit(source)
    name, _, rest = (parts.netloc + parts.path).partition("/")
    if not name:
        raise ConfigError(f"SOURCE {source!r}: nothing after {parts.scheme}:// (see docs/remote-sources.md)")
    params = parse_qs(parts.query, keep_blank_values=False)
    return RemoteQuery(
        source=source, scheme=parts.scheme.lower(), name=name, subname=rest.strip("/") or None, params=params,
        start=_time(source, "start", params), end=_time(source, "end", params, end=True),
        bbox=_bbox(source, params), match=tuple(params.get("match", [])), limit=_limit(source, params))


def _time(source: str, key: str, params: dict[str, list[str]], end: bool = False) -> datetime | None:
    if key not in params:
        return None
    text = params[key][0]
    try:
        value = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise ConfigError(f"SOURCE {source!r}: {key}={text!r} is not YYYY-MM-DD or an ISO 8601 time") from None
    if value.tzinfo is not None:
        value = value.astimezone(UTC).replace(tzinfo=None)
    if end and len(text) == 10:  # a date: the whole day
        value = datetime.combine(value.date(), time.max)
    return value


def _bbox(source: str, params: dict[str, list[str]]) -> tuple[float, float, float, float] | None:
    if "bbox" not in params:
        return None
    try:
        west, south, east, north = (float(v) for v in params["bbox"][0].split(","))
    except ValueError:
        raise ConfigError(f"SOURCE {source!r}: bbox must be west,south,east,north in degrees") from None
    if not (-180 <= west <= east <= 180 and -90 <= south <= north <= 90):
        raise ConfigError(f"SOURCE {source!r}: bbox {west},{south},{east},{north} is not a box with west <= east "
                          "in [-180, 180] and south <= north in [-90, 90] (split a box crossing 180° in two)")
    return west, south, east, north


def _limit(source: str, params: dict[str, list[str]]) -> int | None:
    if "limit" not in params:
        return None
    text = params["limit"][0]
    if not text.isdigit() or int(text) < 1:
        raise ConfigError(f"SOURCE {source!r}: limit={text!r} must be a positive integer")
    return int(text)


def iso(value: datetime) -> str:
    """``YYYY-MM-DDTHH:MM:SS.mmmZ`` (what CMR and OData expect)."""
    return value.strftime("%Y-%m-%dT%H:%M:%S.") + f"{value.microsecond // 1000:03d}Z"


def number(value: float) -> str:
    """A coordinate for a query: up to 6 decimals (about 0.1 m), no trailing zeros (``-40``, ``44.5``)."""
    return f"{value:.6f}".rstrip("0").rstrip(".")


def months(start: datetime, end: datetime) -> list[tuple[int, int]]:
    """(year, month) pairs from the month of ``start`` to that of ``end``."""
    out, day = [], start.replace(day=1)
    while (day.year, day.month) <= (end.year, end.month):
        out.append((day.year, day.month))
        day = (day + timedelta(days=32)).replace(day=1)
    return out
