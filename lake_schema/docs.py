"""Render the table documentation (docs/tables.md) from the field dictionary and table specs.

Run ``python -m lake_schema.docs > docs/tables.md``; a test keeps the file in sync.
"""

from __future__ import annotations

import lake_schema


def _cell(text: str | None) -> str:
    return (text or "").replace("|", "\\|").replace("\n", " ")


def render_markdown() -> str:
    """Markdown documentation of every table and view of the lake."""
    lines = [
        "# Lake tables and views",
        "",
        "Generated from `lake_schema/fields.yaml` and `lake_schema/tables.yaml` "
        "(`python -m lake_schema.docs > docs/tables.md`). Column names are the SQL interface: "
        "query them with `oceanlake sql`. Times are UTC `TIMESTAMP`s.",
        "",
    ]
    for spec in lake_schema.tables().values():
        lines += [f"## `{spec.name}`", "", spec.description, ""]
        if spec.key:
            lines += [f"Natural key: `{', '.join(spec.key)}` (a newer file with the same key replaces the rows).", ""]
        if spec.partition_by:
            lines += [f"Partitioned by: `{', '.join(spec.partition_by)}`.", ""]
        lines += ["| column | type | units | CF / Argo name | valid range | description |",
                  "|---|---|---|---|---|---|"]
        for f in spec.fields:
            valid = ""
            if f.valid_min is not None or f.valid_max is not None:
                valid = f"{'' if f.valid_min is None else f.valid_min} .. {'' if f.valid_max is None else f.valid_max}"
            lines.append(f"| `{f.name}` | {f.type} | {_cell(f.units)} | {_cell(f.standard_name)} | {valid} | "
                         f"{_cell(f.description)} |")
        lines.append("")
    lines += ["## Views", "", "Defined in `lake_schema/sql/` (one view per file):", ""]
    for name, sql in lake_schema.views().items():
        comment = " ".join(ln.lstrip("- ").strip() for ln in sql.splitlines() if ln.startswith("--"))
        lines.append(f"- `{name}` — {comment}")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    print(render_markdown(), end="")  # noqa: T201 - CLI output
