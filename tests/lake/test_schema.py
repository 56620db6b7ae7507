"""lake_schema: every table column is in the field dictionary, types map to Arrow, docs are in sync."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pytest

import lake_schema
from lake_schema.docs import render_markdown

REPO = Path(__file__).resolve().parents[2]


def test_every_table_uses_dictionary_fields_and_valid_types():
    con = duckdb.connect()
    for spec in lake_schema.tables().values():
        con.execute(spec.create_sql(spec.name))  # DuckDB accepts every type
        arrow = spec.arrow_schema()
        assert arrow.names == spec.column_names
        duck = con.execute(f"SELECT * FROM {spec.name} LIMIT 0").arrow().read_all().schema
        for field in arrow:  # the Arrow types we build are the ones DuckDB returns
            assert duck.field(field.name).type.equals(field.type) or str(field.type).startswith("map"), field


def test_every_field_is_documented_with_description():
    for name, field in lake_schema.fields().items():
        assert field.description and len(field.description) > 10, name


def test_unknown_table_lists_valid_names():
    with pytest.raises(KeyError, match="argo_profiles"):
        lake_schema.table("profiles")


def test_every_table_has_a_quality_suite_naming_real_columns():
    for spec in lake_schema.tables().values():
        if spec.name == "quarantine":
            continue
        suite = lake_schema.suite(spec.name)
        assert suite["table"] == spec.name
        for exp in suite["expectations"]:
            columns = [exp[k] for k in ("column", "column_A", "column_B") if k in exp] + exp.get("column_list", [])
            assert columns and set(columns) <= set(spec.column_names), (spec.name, exp)
            assert exp.get("reason")


def test_docs_tables_md_is_in_sync():
    assert (REPO / "docs" / "tables.md").read_text() == render_markdown(), \
        "regenerate with: python -m lake_schema.docs > docs/tables.md"
