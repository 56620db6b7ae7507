"""Match-up protocols (``protocols/<id>.yaml``) and in situ sources (``insitu_sources.yaml``), as data.

A protocol says how a satellite window around an in situ observation is extracted and judged:
window size, time and geometry limits, pixel flags, the valid-pixel rule, the outlier filter,
the homogeneity (CV) test and how in situ spectra are matched to sensor bands. Its
``config_hash`` is stored with every match-up, so a decision can always be traced to the exact
configuration that made it.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import yaml

_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(s|min|h|d)\s*$")
_UNIT_SECONDS = {"s": 1, "min": 60, "h": 3600, "d": 86400}

#: (in situ quantity, satellite quantity) -> factor applied to the in situ value (rho_w = pi * Rrs).
CONVERSIONS = {("rrs", "rho_w"): 3.141592653589793, ("rho_w", "rrs"): 1 / 3.141592653589793}


def parse_duration(value: str | float | int) -> float:
    """Seconds of ``"3h"``, ``"90min"``, ``"1d"``, ``"30s"`` or a number of seconds."""
    if isinstance(value, (int, float)):
        return float(value)
    match = _DURATION.match(str(value))
    if not match:
        raise ValueError(f"invalid duration {value!r}: use a number of seconds or e.g. '3h', '90min', '1d'")
    return float(match.group(1)) * _UNIT_SECONDS[match.group(2)]


@dataclass(frozen=True)
class ProtocolDef:
    """One match-up protocol.

    Attributes:
        id: protocol name, e.g. ``bailey-werdell-2006``.
        window_size: N of the N x N pixel window (odd).
        time_half_steps: gridded cubes: slices either side of the nearest time slice.
        max_time_difference_s: largest accepted |t_satellite - t_insitu| (s).
        time_reference: ``midpoint`` (granule mid time) or ``coverage`` (0 inside the granule's
            sensing period, else the distance to its nearest end: "same day" for daily L3).
        max_distance_m: largest centre-pixel distance (m); None = the window extractor's default.
        max_solar_zenith / max_viewing_zenith: degree at the centre pixel; None = not applied.
        land_flags: flags that remove a pixel from the valid-fraction denominator.
        invalid_flags: flags that make a pixel invalid (plus the product definition's own).
        min_valid_fraction: n_valid / denominator threshold (None = not applied).
        min_valid_count: n_valid threshold (None = not applied).
        valid_denominator: ``non_land`` or ``window``.
        filter_n_sigma: filtered mean keeps valid pixels within mean +- n_sigma * std.
        cv_statistic: ``median`` or ``max`` over the homogeneity bands; None = no CV test.
        cv_bands_nm: inclusive wavelength range (nm) of the homogeneity test.
        max_cv: largest accepted CV.
        spectral_method: ``nearest`` or ``srf``; None for non-spectral protocols.
        spectral_tolerance_nm: nearest: largest band mismatch; srf: FWHM assumed when the product
            gives none.
        pairs: satellite variable -> in situ variables it is compared with (first available wins;
            quantities converted with :data:`CONVERSIONS`).
    """

    id: str
    title: str = ""
    reference: str = ""
    window_size: int = 3
    time_half_steps: int = 0
    max_time_difference_s: float = 3 * 3600.0
    time_reference: str = "midpoint"
    max_distance_m: float | None = None
    max_solar_zenith: float | None = None
    max_viewing_zenith: float | None = None
    land_flags: tuple[str, ...] = ()
    invalid_flags: tuple[str, ...] = ()
    min_valid_fraction: float | None = None
    min_valid_count: int | None = None
    valid_denominator: str = "window"
    filter_n_sigma: float = 1.5
    cv_statistic: str | None = None
    cv_bands_nm: tuple[float, float] | None = None
    max_cv: float | None = None
    spectral_method: str | None = None
    spectral_tolerance_nm: float = 5.0
    pairs: dict[str, tuple[str, ...]] = field(default_factory=dict)

    @property
    def half_size(self) -> int:
        """Pixels either side of the centre pixel."""
        return self.window_size // 2

    @property
    def config_hash(self) -> str:
        """SHA-256 (first 16 hex digits) of the protocol's decision parameters."""
        data = {k: v for k, v in asdict(self).items() if k not in ("title", "reference")}
        text = json.dumps(data, sort_keys=True, default=list)
        return hashlib.sha256(text.encode()).hexdigest()[:16]


def parse_protocol(spec: dict[str, Any], origin: str) -> ProtocolDef:
    """Build and check a protocol from its YAML mapping.

    Raises:
        ValueError: naming ``origin`` and the problem.
    """
    try:
        window = spec.get("window") or {}
        flags = spec.get("flags") or {}
        valid = spec.get("valid_pixels") or {}
        homogeneity = spec.get("homogeneity") or {}
        spectral = spec.get("spectral_matching") or {}
        protocol = ProtocolDef(
            id=str(spec["id"]), title=spec.get("title", ""), reference=spec.get("reference", ""),
            window_size=int(window.get("size", 3)), time_half_steps=int(window.get("time_half_steps", 0)),
            max_time_difference_s=parse_duration(spec.get("max_time_difference", "3h")),
            time_reference=spec.get("time_reference", "midpoint"),
            max_distance_m=spec.get("max_distance_m"),
            max_solar_zenith=spec.get("max_solar_zenith"), max_viewing_zenith=spec.get("max_viewing_zenith"),
            land_flags=tuple(flags.get("land") or ()), invalid_flags=tuple(flags.get("invalid") or ()),
            min_valid_fraction=valid.get("min_fraction"), min_valid_count=valid.get("min_count"),
            valid_denominator=valid.get("denominator", "window"),
            filter_n_sigma=float((spec.get("filter") or {}).get("n_sigma", 1.5)),
            cv_statistic=homogeneity.get("statistic"),
            cv_bands_nm=tuple(float(b) for b in homogeneity["bands_nm"]) if homogeneity.get("bands_nm") else None,
            max_cv=homogeneity.get("max_cv"),
            spectral_method=spectral.get("method"), spectral_tolerance_nm=float(spectral.get("tolerance_nm", 5)),
            pairs={k: tuple(v) for k, v in (spec.get("pairs") or {}).items()},
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise ValueError(f"{origin}: invalid protocol definition: {exc}") from exc
    problems = []
    if protocol.window_size < 1 or protocol.window_size % 2 == 0:
        problems.append(f"window size must be a positive odd number, got {protocol.window_size}")
    if protocol.time_reference not in ("midpoint", "coverage"):
        problems.append(f"time_reference must be midpoint or coverage, got {protocol.time_reference!r}")
    if protocol.valid_denominator not in ("non_land", "window"):
        problems.append(f"valid_pixels.denominator must be non_land or window, got {protocol.valid_denominator!r}")
    if protocol.cv_statistic not in (None, "median", "max"):
        problems.append(f"homogeneity.statistic must be median or max, got {protocol.cv_statistic!r}")
    if protocol.spectral_method not in (None, "nearest", "srf"):
        problems.append(f"spectral_matching.method must be nearest or srf, got {protocol.spectral_method!r}")
    if not protocol.pairs:
        problems.append("pairs (in situ variable -> satellite variables) is empty")
    if problems:
        raise ValueError(f"{origin}: " + "; ".join(problems))
    return protocol


def load_protocols(directory: str) -> dict[str, ProtocolDef]:
    """Every ``*.yaml`` protocol of a folder, by id."""
    out = {}
    for path in sorted(Path(directory).glob("*.yaml")):
        spec = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        protocol = parse_protocol(spec, str(path))
        out[protocol.id] = protocol
    return out


@dataclass(frozen=True)
class InsituSourceDef:
    """Where match-up observations of one in situ source come from (a lake view).

    Attributes:
        id: source name used on the command line (``argo``, ``hypernets``).
        view: the lake view with one row per observation (or per observation and wavelength).
        id_column / time_column / lat_column / lon_column: the view's identity and position columns.
        values: in situ variable -> view column (canonical units of fields.yaml).
        wavelength_column: spectral sources: the wavelength column (nm); None for scalar ones.
        filter: SQL boolean expression over the view's columns selecting usable rows.
        site_column: column naming the site or platform (statistics group by it).
    """

    id: str
    view: str
    id_column: str
    time_column: str = "time"
    lat_column: str = "latitude"
    lon_column: str = "longitude"
    values: dict[str, str] = field(default_factory=dict)
    wavelength_column: str | None = None
    filter: str | None = None
    site_column: str | None = None
