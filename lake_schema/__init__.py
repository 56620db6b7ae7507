"""Single source of truth for the lake: fields, tables, SQL views and quality suites.

Everything here is data (YAML / SQL files beside this module); the functions only load it and
translate it to DuckDB DDL and Arrow schemas.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

import pyarrow as pa
import yaml

SCHEMA_DIR = Path(str(resources.files(__name__)))


@dataclass(frozen=True)
class Field:
    """One column of the field dictionary (type is a DuckDB SQL type)."""

    name: str
    type: str
    description: str
    units: str | None = None
    standard_name: str | None = None
    valid_min: float | None = None
    valid_max: float | None = None


@dataclass(frozen=True)
class Table:
    """A lake table: ordered fields, natural key, partitioning and the sort order of its data files."""

    name: str
    description: str
    fields: tuple[Field, ...]
    key: tuple[str, ...] = ()
    partition_by: tuple[str, ...] = field(default_factory=tuple)
    sorted_by: tuple[str, ...] = field(default_factory=tuple)
    row_group_size: int | None = None

    @property
    def column_names(self) -> list[str]:
        """Column names in table order."""
        return [f.name for f in self.fields]

    def create_sql(self, qualified_name: str) -> str:
        """``CREATE TABLE IF NOT EXISTS`` statement for this table."""
        cols = ",\n  ".join(f'"{f.name}" {f.type}' for f in self.fields)
        return f"CREATE TABLE IF NOT EXISTS {qualified_name} (\n  {cols}\n)"

    def arrow_schema(self) -> pa.Schema:
        """Arrow schema matching the DuckDB types of the table."""
        return pa.schema([pa.field(f.name, arrow_type(f.type)) for f in self.fields])


def _load_yaml(name: str) -> dict[str, Any]:
    with open(SCHEMA_DIR / name, encoding="utf-8") as fh:
        return yaml.safe_load(fh)


@cache
def fields() -> dict[str, Field]:
    """The field dictionary, by field name."""
    return {name: Field(name=name, **spec) for name, spec in _load_yaml("fields.yaml").items()}


@cache
def tables() -> dict[str, Table]:
    """All table specs, by table name."""
    dictionary = fields()
    out = {}
    for name, spec in _load_yaml("tables.yaml").items():
        missing = [c for c in spec["columns"] if c not in dictionary]
        if missing:
            raise ValueError(f"tables.yaml: table {name} uses fields missing from fields.yaml: {missing}")
        out[name] = Table(
            name=name,
            description=spec["description"],
            fields=tuple(dictionary[c] for c in spec["columns"]),
            key=tuple(spec.get("key", ())),
            partition_by=tuple(spec.get("partition_by", ())),
            sorted_by=tuple(spec.get("sorted_by", ())),
            row_group_size=spec.get("row_group_size"),
        )
    return out


@cache
def provenance() -> dict[str, Any]:
    """What run provenance hashes (``provenance.yaml``): volatile and lake-state columns, output tables per step."""
    spec = _load_yaml("provenance.yaml")
    for name, columns in spec.get("lake_state", {}).items():
        unknown = set(columns) - set(tables()[name].column_names)
        if unknown:
            raise ValueError(f"provenance.yaml: table {name} has no columns {sorted(unknown)}")
    return spec


def table(name: str) -> Table:
    """One table spec; raises KeyError listing the valid names."""
    try:
        return tables()[name]
    except KeyError:
        raise KeyError(f"unknown table {name!r}; tables are: {', '.join(sorted(tables()))}") from None


def views() -> dict[str, str]:
    """SQL view definitions from ``sql/<view>.sql``, by view name, in file-name order."""
    return {p.stem: p.read_text(encoding="utf-8") for p in sorted((SCHEMA_DIR / "sql").glob("*.sql"))}


def suite(name: str) -> dict[str, Any]:
    """A quality suite definition from ``suites/<name>.yaml``."""
    path = SCHEMA_DIR / "suites" / f"{name}.yaml"
    if not path.exists():
        valid = sorted(p.stem for p in (SCHEMA_DIR / "suites").glob("*.yaml"))
        raise KeyError(f"unknown quality suite {name!r}; suites are: {', '.join(valid)}")
    return yaml.safe_load(path.read_text(encoding="utf-8"))


_SCALAR_TYPES = {
    "VARCHAR": pa.string(),
    "DOUBLE": pa.float64(),
    "FLOAT": pa.float32(),
    "INTEGER": pa.int32(),
    "SMALLINT": pa.int16(),
    "BIGINT": pa.int64(),
    "BOOLEAN": pa.bool_(),
    "TIMESTAMP": pa.timestamp("us"),
    "DATE": pa.date32(),
}


def arrow_type(sql_type: str) -> pa.DataType:
    """Arrow type for a DuckDB type string (scalars, ``T[]`` lists and ``MAP(K, V)``)."""
    sql_type = sql_type.strip().upper()
    if sql_type.endswith("[]"):
        return pa.list_(arrow_type(sql_type[:-2]))
    if sql_type.startswith("MAP(") and sql_type.endswith(")"):
        key, value = (part.strip() for part in sql_type[4:-1].split(",", 1))
        return pa.map_(arrow_type(key), arrow_type(value))
    return _SCALAR_TYPES[sql_type]


def products(extra_dirs: tuple[str, ...] = ()) -> dict[str, Any]:
    """Product definitions by id: the built-in ``products/*.yaml`` plus user directories (later wins)."""
    from lake_schema.definitions import load_products

    out = dict(load_products(str(SCHEMA_DIR / "products")))
    for directory in extra_dirs:
        out.update(load_products(str(directory)))
    return out


def product(product_id: str, extra_dirs: tuple[str, ...] = ()):
    """One product definition; raises KeyError listing the valid ids."""
    defs = products(extra_dirs)
    try:
        return defs[product_id]
    except KeyError:
        raise KeyError(f"unknown product {product_id!r}; products are: {', '.join(sorted(defs))}") from None


def protocols(extra_dirs: tuple[str, ...] = ()) -> dict[str, Any]:
    """Match-up protocols by id: the built-in ``protocols/*.yaml`` plus user directories (later wins)."""
    from lake_schema.protocols_def import load_protocols

    out = dict(load_protocols(str(SCHEMA_DIR / "protocols")))
    for directory in extra_dirs:
        out.update(load_protocols(str(directory)))
    return out


def protocol(protocol_id: str, extra_dirs: tuple[str, ...] = ()):
    """One match-up protocol; raises KeyError listing the valid ids."""
    defs = protocols(extra_dirs)
    try:
        return defs[protocol_id]
    except KeyError:
        raise KeyError(f"unknown protocol {protocol_id!r}; protocols are: {', '.join(sorted(defs))}") from None


@cache
def insitu_sources() -> dict[str, Any]:
    """In situ match-up sources (``insitu_sources.yaml``) by id."""
    from lake_schema.protocols_def import InsituSourceDef

    return {name: InsituSourceDef(id=name, **spec) for name, spec in _load_yaml("insitu_sources.yaml").items()}


def insitu_source(source_id: str):
    """One in situ source; raises KeyError listing the valid ids."""
    try:
        return insitu_sources()[source_id]
    except KeyError:
        valid = ", ".join(sorted(insitu_sources()))
        raise KeyError(f"unknown in situ source {source_id!r}; sources are: {valid}") from None
