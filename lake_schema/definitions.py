"""Product definitions (``products/<id>.yaml``), loaded and validated against the field dictionary.

A definition says, as data, how to read one satellite product: file patterns, which reader
family opens it, where each canonical variable is in the file, flags, time and version sources.
Metadata sources are strings ``"attr:<global attribute>"``, ``"name:<regex group>"``,
``"var:<path>"`` or ``"const:<value>"``; the first one found wins.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import cache
from typing import Any

import yaml

GEOMETRIES = ("grid", "swath", "binned")


@dataclass(frozen=True)
class VariableDef:
    """A canonical cube variable and where to find it in the source files.

    Attributes:
        name: canonical name (an entry of fields.yaml), e.g. ``rrs``, ``chlor_a``.
        paths: candidate in-file paths (``group/variable``), first found wins; for 3-D spectral
            variables the wavelengths come from ``wavelengths``.
        bands: for products with one variable per band: wavelength (nm) -> candidate paths; the
            bands are stacked along a ``wavelength`` dimension.
        wavelengths: candidate paths of the wavelength coordinate of a 3-D spectral variable.
        scale: factor to reach canonical units (e.g. ``0.3183098861837907`` = 1/π for ρw → Rrs).
        units: canonical units (must equal the field dictionary's).
        required: a missing required variable makes the file invalid; optional ones are skipped.
    """

    name: str
    paths: tuple[str, ...] = ()
    bands: dict[float, tuple[str, ...]] = field(default_factory=dict)
    wavelengths: tuple[str, ...] = ()
    scale: float = 1.0
    units: str | None = None
    required: bool = True


@dataclass(frozen=True)
class FlagsDef:
    """The quality-flag variable and the flag names that make a pixel invalid."""

    paths: tuple[str, ...]
    invalid: tuple[str, ...]


@dataclass(frozen=True)
class ProductDef:
    """One satellite product, as data (satpy reader YAML / Felyx dataset configuration style).

    ``granule_key`` and ``cube`` are ``str.format`` templates over ``product``, ``granule_id`` and
    the ``name_regex`` groups: the key identifies a granule across reprocessings, the cube names
    the Icechunk repository (grid products sharing a grid and period share a cube). With
    ``options.require_any`` (one parameter per file, e.g. OBPG L3m) the main variable is the first
    variable present in the file.
    """

    id: str
    title: str
    sensor: str
    platform: str
    provider: str
    reader: str
    geometry: str
    file_patterns: tuple[str, ...]
    main_variable: str
    variables: dict[str, VariableDef]
    name_regex: str | None = None
    granule_key: str = "{granule_id}"
    cube: str = "{product}"
    time_start: tuple[str, ...] = ("attr:time_coverage_start",)
    time_end: tuple[str, ...] = ("attr:time_coverage_end",)
    processing_version: tuple[str, ...] = ()
    latitude: tuple[str, ...] = ("lat", "latitude")
    longitude: tuple[str, ...] = ("lon", "longitude")
    angles: dict[str, tuple[str, ...]] = field(default_factory=dict)
    flags: FlagsDef | None = None
    reference: str | None = None
    options: dict[str, Any] = field(default_factory=dict)

    def name_fields(self, name: str) -> dict[str, str]:
        """Named groups of ``name_regex`` matched on a file name ({} when no regex or no match)."""
        if not self.name_regex:
            return {}
        match = re.search(self.name_regex, name)
        return {k: v for k, v in match.groupdict().items() if v is not None} if match else {}


def _paths(value: Any) -> tuple[str, ...]:
    if value is None:
        return ()
    return (value,) if isinstance(value, str) else tuple(value)


def parse_product(spec: dict[str, Any], known_fields: dict[str, Any]) -> ProductDef:
    """Build and validate a :class:`ProductDef` from a YAML mapping.

    Raises:
        ValueError: naming the product and the problem (unknown variable name, units that differ
            from the field dictionary, unknown geometry, main variable not defined).
    """
    pid = spec.get("id", "<no id>")
    variables = {}
    for name, var in (spec.get("variables") or {}).items():
        if name not in known_fields:
            raise ValueError(f"product {pid}: variable {name!r} is not in lake_schema/fields.yaml")
        units = var.get("units")
        if units != known_fields[name].units:
            raise ValueError(f"product {pid}: variable {name} units {units!r} differ from fields.yaml "
                             f"({known_fields[name].units!r}); convert with `scale`")
        bands = {float(k): _paths(v) for k, v in (var.get("bands") or {}).items()}
        variables[name] = VariableDef(name=name, paths=_paths(var.get("paths")), bands=bands,
                                      wavelengths=_paths(var.get("wavelengths")), scale=float(var.get("scale", 1.0)),
                                      units=units, required=bool(var.get("required", True)))
    if spec.get("geometry") not in GEOMETRIES:
        raise ValueError(f"product {pid}: geometry must be one of {GEOMETRIES}")
    if spec.get("main_variable") not in variables:
        raise ValueError(f"product {pid}: main_variable {spec.get('main_variable')!r} is not among its variables")
    flags = spec.get("flags")
    simple = {k: spec[k] for k in ("id", "title", "sensor", "platform", "provider", "reader", "geometry",
                                   "main_variable", "name_regex", "granule_key", "cube", "reference") if k in spec}
    tuples = {k: _paths(spec[k]) for k in ("file_patterns", "time_start", "time_end", "processing_version",
                                          "latitude", "longitude") if k in spec}
    return ProductDef(
        **simple, **tuples, variables=variables,
        angles={k: _paths(v) for k, v in (spec.get("angles") or {}).items()},
        flags=FlagsDef(paths=_paths(flags["paths"]), invalid=tuple(flags["invalid"])) if flags else None,
        options=dict(spec.get("options") or {}),
    )


@cache
def load_products(directory: str) -> dict[str, ProductDef]:
    """All product definitions of a directory, by id (the file name must equal the id)."""
    from pathlib import Path

    import lake_schema

    out = {}
    for path in sorted(Path(directory).glob("*.yaml")):
        spec = yaml.safe_load(path.read_text(encoding="utf-8"))
        product = parse_product(spec, lake_schema.fields())
        if product.id != path.stem:
            raise ValueError(f"{path}: id {product.id!r} must equal the file name {path.stem!r}")
        out[product.id] = product
    return out
