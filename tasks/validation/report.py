"""The validation report: one self-contained HTML file plus the PNG figures, from the ``matchups`` table.

:func:`write_report` reads the match-ups through the read-only connection (bound filters, pinned to
one lake snapshot), computes the per-band statistics with
:func:`tasks.validation.metrics.metrics_table` over ``passed AND is_primary`` rows, draws the
figures of :mod:`tasks.validation.figures`, and writes ``report.html`` (inline CSS, every PNG
embedded as a ``data:`` URI, no script, no network resource; a Content-Security-Policy forbids
any), the PNG files and ``statistics.csv`` into one folder.
"""

from __future__ import annotations

import base64
import html
import importlib.metadata
import logging
import re
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime
from pathlib import Path

import numpy as np
import pandas as pd

from tasks.config import Settings
from tasks.query import connect_readonly
from tasks.validation import figures
from tasks.validation.metrics import METRIC_COLUMNS, metrics_table

log = logging.getLogger(__name__)

#: Columns of ``matchups`` the report reads.
COLUMNS = ("insitu_source", "insitu_id", "site", "product", "protocol", "protocol_hash", "granule_id", "variable",
           "wavelength", "unit", "time_insitu", "dt_seconds", "lat_insitu", "lon_insitu", "insitu_value",
           "sat_filtered_mean", "sat_std", "passed", "failed_criteria", "is_primary")
#: Keys of one statistics row, before the metric columns.
GROUP_COLUMNS = ("product", "protocol", "variable", "wavelength")
REPORT_FILE = "report.html"
STATISTICS_FILE = "statistics.csv"
_INT_METRICS = {"n", "n_log_excluded"}
_CSP = "default-src 'none'; img-src data:; style-src 'unsafe-inline'"

StepCallback = Callable[[str], None]


@dataclass(frozen=True)
class ReportFilters:
    """Which match-ups the report covers (None = all); the period applies to the in situ time, end exclusive."""

    product: str | None = None
    protocol: str | None = None
    insitu: str | None = None
    start: datetime | None = None
    end: datetime | None = None

    def where(self) -> tuple[str, dict[str, object]]:
        """SQL ``WHERE`` clause of fixed fragments and the values bound to its ``$name`` parameters."""
        fragments = {"product": "product = $product", "protocol": "protocol = $protocol",
                     "insitu": "insitu_source = $insitu", "start": "time_insitu >= $start",
                     "end": "time_insitu < $end"}
        params = {k: getattr(self, k) for k in fragments if getattr(self, k) is not None}
        clause = " AND ".join(fragments[k] for k in params)
        return (f"WHERE {clause}" if clause else ""), params

    def describe(self) -> dict[str, str]:
        """Human description of each filter ("all" when not set)."""
        return {"in situ source": self.insitu or "all", "product": self.product or "all",
                "protocol": self.protocol or "all",
                "period (in situ time, UTC)": f"{self.start or '…'} to {self.end or '…'} (end exclusive)"
                if self.start or self.end else "all"}


@dataclass
class ReportFigure:
    """One figure of the report: PNG file, section, title and caption."""

    path: Path
    section: str
    title: str
    caption: str


@dataclass
class ReportData:
    """What the report is made of: the rows read, the lake snapshot and what the lake holds overall."""

    frame: pd.DataFrame
    snapshot_id: int
    inventory: pd.DataFrame
    filters: ReportFilters
    figures: list[ReportFigure] = field(default_factory=list)
    statistics: pd.DataFrame | None = None
    path: Path | None = None


def _as_datetime(value: datetime | date | str | None) -> datetime | None:
    """A naive UTC datetime (the lake's TIMESTAMPs) from a datetime, date or ISO string; aware values converted."""
    if value is None:
        return None
    if isinstance(value, str):
        value = datetime.fromisoformat(value.replace("Z", "+00:00"))
    elif not isinstance(value, datetime):
        value = datetime(value.year, value.month, value.day)
    return value.astimezone(UTC).replace(tzinfo=None) if value.tzinfo else value


def read_matchups(settings: Settings, filters: ReportFilters) -> ReportData:
    """Read the filtered match-up rows and the lake inventory at one snapshot (read-only connection).

    Args:
        settings: lake settings.
        filters: which rows to read (values are bound, never pasted into SQL).

    Returns:
        The rows (columns ``COLUMNS``), the snapshot id read, and match-up counts per
        (source, product, protocol) over the whole lake.
    """
    where, params = filters.where()
    con = connect_readonly(settings)
    try:
        snapshot = int(con.execute("SELECT id FROM lake.current_snapshot()").fetchone()[0])
        at = "AT (VERSION => $snapshot)"
        frame = con.execute(f"SELECT {', '.join(COLUMNS)} FROM matchups {at} {where} "
                            "ORDER BY product, protocol, variable, wavelength, time_insitu",
                            {**params, "snapshot": snapshot}).df()
        inventory = con.execute(f"SELECT insitu_source, product, protocol, count(*) AS rows FROM matchups {at} "
                                "GROUP BY ALL ORDER BY ALL", {"snapshot": snapshot}).df()
    finally:
        con.close()
    frame["failed_criteria"] = [list(v) if v is not None else [] for v in frame["failed_criteria"]]
    return ReportData(frame=frame, snapshot_id=snapshot, inventory=inventory, filters=filters)


def _good(frame: pd.DataFrame) -> pd.DataFrame:
    """Rows that count for statistics: passed and primary."""
    return frame[frame["passed"].astype(bool) & frame["is_primary"].astype(bool)]


def statistics_table(frame: pd.DataFrame) -> pd.DataFrame:
    """Per-band statistics of ``passed AND is_primary`` rows: one row per (product, protocol, variable, wavelength).

    Chlorophyll variables are computed with ``log_space=True`` (regression on log10 values), the
    others linear. ``wavelength`` is NaN for variables without bands (NULL keys are kept).

    Args:
        frame: match-up rows (any decisions; filtered here).

    Returns:
        Columns ``GROUP_COLUMNS``, ``unit``, ``space`` (``log10`` or ``linear``) then ``METRIC_COLUMNS``.
    """
    good = _good(frame)
    columns = [*GROUP_COLUMNS, "unit", "space", *METRIC_COLUMNS]
    parts = []
    for log_space, part in good.groupby(good["variable"].map(figures.is_log_variable), sort=True):
        table = metrics_table(part, list(GROUP_COLUMNS), log_space=bool(log_space))
        parts.append(table.assign(space="log10" if log_space else "linear"))
    if not parts:
        return pd.DataFrame(columns=columns)
    units = good.groupby(["product", "variable"])["unit"].first().rename("unit").reset_index()
    stats = pd.concat(parts, ignore_index=True).merge(units, on=["product", "variable"], how="left")
    return stats[columns].sort_values(list(GROUP_COLUMNS), na_position="first").reset_index(drop=True)


# -- figures ----------------------------------------------------------------------------------------------


def _slug(*parts: object) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "-", "_".join(str(p) for p in parts if p is not None)).strip("-")


def _figure_plan(frame: pd.DataFrame) -> list[tuple[str, str, str, Callable[[Path], Path]]]:
    """(file name, section, title, draw function) of every figure, in report order."""
    good, plan = _good(frame), []
    for (product, protocol, variable), part in good.groupby(["product", "protocol", "variable"], sort=True):
        spectral, log = part["wavelength"].notna().any(), figures.is_log_variable(variable)
        name = f"{variable} — {product} / {protocol}"
        plan.append((f"scatter_{_slug(product, protocol, variable)}.png", "scatter",
                     f"{name}: satellite vs in situ" + (" (log10 axes)" if log else ""),
                     lambda out, p=part: figures.scatter_figure(p, out)))
        if spectral:
            plan.append((f"spectra_{_slug(product, protocol, variable)}.png", "spectra",
                         f"{name}: mean spectra per site", lambda out, p=part: figures.spectra_figure(p, out)))
        plan.append((f"timeseries_{_slug(product, protocol, variable)}.png", "timeseries",
                     f"{name}: satellite − in situ over time", lambda out, p=part: figures.difference_figure(p, out)))
    plan.append(("map.png", "map", "Match-up locations", lambda out: figures.map_figure(frame, out)))
    plan.append(("funnel.png", "funnel", "Protocol funnel", lambda out: figures.funnel_figure(frame, out)))
    return plan


_CAPTIONS = {
    "scatter": ("Satellite value (1.5-sigma filtered window mean) against the in situ value, passed primary "
                "match-ups only; one panel per band for spectral variables. Dashed: 1:1; solid: ordinary least "
                "squares (OLS); dash-dot: reduced major axis (RMA, type II). Chlorophyll is drawn on log10 axes "
                "and its regression fitted on log10 values (non-positive values left out). Panels with more than "
                f"{figures.DENSITY_THRESHOLD} points show the density of match-ups per hexagon (log colour scale)."),
    "spectra": ("Mean in situ and satellite spectra per site over the passed primary match-ups, with ± one "
                "standard deviation across match-ups (shaded); N counts observations."),
    "timeseries": ("Satellite − in situ difference of each passed primary match-up against the in situ time "
                   "(UTC); spectral variables coloured by band wavelength."),
    "map": ("In situ positions of the match-ups, one marker per observation, its shape by in situ source: filled "
            "green when at least one of its primary rows passed the protocol, hollow red otherwise; fixed stations "
            "named. Longitude/latitude with a graticule; no coastlines (no map data offline)."),
    "funnel": ("Rows (every overpass, every band) failing each criterion of the protocol, with all rows and passed "
               "rows; a row failing several criteria counts under each, the dark part of a bar is the rows whose "
               "only failure is that criterion. The same counts as the `funnel` of the match-up run summary."),
}


def draw_figures(frame: pd.DataFrame, out_dir: Path, on_step: StepCallback | None = None) -> list[ReportFigure]:
    """Write every figure of the report as a PNG in ``out_dir`` (nothing when there are no rows)."""
    if frame.empty:
        return []
    plan = _figure_plan(frame)
    drawn = []
    for k, (name, section, title, draw) in enumerate(plan, start=1):
        if on_step is not None:
            on_step(f"figure {k}/{len(plan)}: {title}")
        drawn.append(ReportFigure(draw(out_dir / name), section, title, _CAPTIONS[section]))
    return drawn


# -- HTML -------------------------------------------------------------------------------------------------

_STYLE = """
body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,Helvetica,Arial,sans-serif;margin:0;color:#1d2733;
background:#fff}
header{background:#0b3954;color:#fff;padding:18px 28px}header h1{margin:0 0 4px;font-size:24px}
header p{margin:0;opacity:.85}main{padding:8px 28px 40px;max-width:1500px}
h2{border-bottom:2px solid #0b3954;padding-bottom:4px;margin-top:32px}
table{border-collapse:collapse;font-size:12px;margin:8px 0}
th,td{border:1px solid #c9d3dd;padding:3px 7px;white-space:nowrap}
th{background:#e8eef4;text-align:left;position:sticky;top:0}td.num{text-align:right;font-variant-numeric:tabular-nums}
tr:nth-child(even) td{background:#f7f9fb}.scroll{overflow-x:auto;max-height:640px;overflow-y:auto}
dl.meta{display:grid;grid-template-columns:max-content auto;gap:3px 16px;margin:12px 0}dl.meta dt{font-weight:600}
dl.meta dd{margin:0}figure{margin:18px 0 28px}figure img{max-width:100%;height:auto;border:1px solid #dde3e9}
figcaption{font-size:13px;color:#444;max-width:1100px;margin-top:6px}
figcaption .file{font-family:monospace;color:#777}.empty{background:#fff4e5;border:1px solid #f0b264;
padding:14px 18px;border-radius:6px;font-size:15px}.note{font-size:12px;color:#555}code{background:#eef1f4;
padding:1px 4px;border-radius:3px}
"""


def _esc(value: object) -> str:
    return html.escape("" if value is None else str(value))


def _cell(column: str, value: object) -> str:
    if value is None or (isinstance(value, float) and not np.isfinite(value)):
        return '<td class="num">–</td>'
    if isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(value, bool):
        text = f"{int(value)}" if column in _INT_METRICS else f"{float(value):g}" if column == "wavelength" \
            else f"{float(value):.4g}"
        return f'<td class="num">{text}</td>'
    return f"<td>{_esc(value)}</td>"


def _table(frame: pd.DataFrame) -> str:
    head = "".join(f"<th>{_esc(c)}</th>" for c in frame.columns)
    body = "".join("<tr>" + "".join(_cell(c, v) for c, v in zip(frame.columns, row, strict=True)) + "</tr>"
                   for row in frame.itertuples(index=False))
    return f'<div class="scroll"><table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table></div>'


def _catalog_text(settings: Settings) -> str:
    kind, target = settings.catalog.split(":", 1)
    return "postgres (connection string not shown)" if kind == "postgres" else f"{kind}: {target}"


def _version() -> str:
    try:
        return importlib.metadata.version("oceanlake")
    except importlib.metadata.PackageNotFoundError:
        return "unknown"


def _header(settings: Settings, data: ReportData, generated: datetime) -> str:
    frame = data.frame
    meta = {"lake": settings.lake, "catalog": _catalog_text(settings), "lake snapshot id": data.snapshot_id,
            "generated at (UTC)": f"{generated:%Y-%m-%d %H:%M:%S}", "oceanlake version": _version(),
            **data.filters.describe(),
            "rows read": f"{len(frame)} ({len(_good(frame))} passed primary)"}
    items = "".join(f"<dt>{_esc(k)}</dt><dd>{_esc(v)}</dd>" for k, v in meta.items())
    return f'<h2>Lake and filters</h2><dl class="meta">{items}</dl>'


def _protocols(frame: pd.DataFrame) -> str:
    if frame.empty:
        return ""
    work = frame.assign(good=frame["passed"].astype(bool) & frame["is_primary"].astype(bool))
    table = work.groupby(["insitu_source", "product", "protocol", "protocol_hash"], dropna=False).agg(
        rows=("insitu_id", "size"), passed_primary=("good", "sum"), first=("time_insitu", "min"),
        last=("time_insitu", "max")).reset_index()
    for col in ("first", "last"):
        table[col] = pd.to_datetime(table[col]).dt.strftime("%Y-%m-%d %H:%M")
    repeated = table.groupby(["product", "protocol"])["protocol_hash"].nunique()
    warning = ('<p class="note"><b>Note:</b> a protocol has more than one hash here: rows from runs with different '
               "protocol parameters are mixed.</p>" if (repeated > 1).any() else "")
    return ("<h2>Protocols</h2><p class=\"note\">protocol_hash: hash of the protocol's decision parameters, "
            f"recorded in every match-up row.</p>{_table(table)}{warning}")


def _statistics(stats: pd.DataFrame) -> str:
    if stats.empty:
        return "<h2>Statistics per band</h2><p>No passed primary match-up: no statistics.</p>"
    return ("<h2>Statistics per band</h2><p class=\"note\">Passed primary match-ups "
            "(<code>passed AND is_primary</code>), satellite = <code>sat_filtered_mean</code>, grouped by product, "
            "protocol, variable and band. <code>space = log10</code>: chlorophyll, regressions and r on log10 "
            f"values. Definitions of the metrics: docs/validation.md. Also in <code>{STATISTICS_FILE}</code>.</p>"
            + _table(stats))


def _figures(items: list[ReportFigure]) -> str:
    sections = {"scatter": "Satellite vs in situ", "spectra": "Mean spectra per site", "map": "Map of match-ups",
                "timeseries": "Time series of differences", "funnel": "Protocol funnel"}
    parts = []
    for section, heading in sections.items():
        chosen = [f for f in items if f.section == section]
        if not chosen:
            continue
        parts.append(f"<h2>{_esc(heading)}</h2>")
        for fig in chosen:
            data = base64.b64encode(fig.path.read_bytes()).decode("ascii")
            parts.append(f'<figure id="{_esc(fig.path.stem)}"><img src="data:image/png;base64,{data}" '
                         f'alt="{_esc(fig.title)}"><figcaption><b>{_esc(fig.title)}.</b> {_esc(fig.caption)} '
                         f'<span class="file">({_esc(fig.path.name)})</span></figcaption></figure>')
    return "".join(parts)


def _empty_message(data: ReportData) -> str:
    inventory = data.inventory
    listing = (f"<p>The lake holds match-ups for:</p>{_table(inventory)}" if not inventory.empty
               else "<p>The lake holds no match-up at all: compute some with <code>oceanlake matchup --insitu "
                    "argo --product occi-l3 --protocol bgc-argo-chl</code> (see <code>oceanlake matchup --help"
                    "</code>).</p>")
    return ('<h2>No match-ups</h2><p class="empty">No match-up row matches these filters, so there are no '
            f"statistics and no figures.</p>{listing}")


def render_html(settings: Settings, data: ReportData, generated: datetime) -> str:
    """The report as one HTML document (inline CSS, PNGs as data URIs, no script, no external resource)."""
    title = "oceanlake validation report"
    body = _header(settings, data, generated)
    if data.frame.empty:
        body += _empty_message(data)
    else:
        body += _protocols(data.frame) + _statistics(data.statistics) + _figures(data.figures)
    return (f'<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
            f'<meta http-equiv="Content-Security-Policy" content="{_CSP}">'
            f'<meta name="viewport" content="width=device-width, initial-scale=1"><title>{title}</title>'
            f"<style>{_STYLE}</style></head><body><header><h1>{title}</h1><p>Satellite ocean colour vs in situ "
            f"match-ups from the lake {_esc(settings.lake)}</p></header><main>{body}</main></body></html>\n")


def create_report(settings: Settings, out_dir: Path | str, filters: ReportFilters,
                  on_step: StepCallback | None = None) -> ReportData:
    """Write the report (see :func:`write_report`) and return what it is made of (rows, statistics, figures)."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    filters = replace(filters, start=_as_datetime(filters.start), end=_as_datetime(filters.end))
    step = on_step or (lambda message: log.info("report: %s", message))
    step("reading match-ups")
    data = read_matchups(settings, filters)
    step(f"statistics of {len(_good(data.frame))} passed primary rows")
    data.statistics = statistics_table(data.frame)
    data.statistics.to_csv(out_dir / STATISTICS_FILE, index=False)
    data.figures = draw_figures(data.frame, out_dir, step)
    step(f"writing {REPORT_FILE}")
    data.path = out_dir / REPORT_FILE
    data.path.write_text(render_html(settings, data, datetime.now(UTC).replace(tzinfo=None)), encoding="utf-8")
    return data


def write_report(settings: Settings, out_dir: Path | str, *, product: str | None = None,
                 protocol: str | None = None, insitu: str | None = None, start: datetime | date | str | None = None,
                 end: datetime | date | str | None = None, on_step: StepCallback | None = None) -> Path:
    """Write ``report.html``, the PNG figures and ``statistics.csv`` of the lake's match-ups into ``out_dir``.

    Args:
        settings: lake settings (read through a read-only connection).
        out_dir: folder to write into (created).
        product: only this product id.
        protocol: only this protocol id.
        insitu: only this in situ source (``argo``, ``hypernets``).
        start: in situ time from (UTC, inclusive); datetime, date or ISO string.
        end: in situ time before (UTC, exclusive).
        on_step: called with a message before each step (progress); default: log at INFO.

    Returns:
        Path of ``report.html``. With no matching match-up the report still exists and says so.

    Raises:
        ConfigError: when there is no lake at ``settings.lake``.
    """
    filters = ReportFilters(product, protocol, insitu, _as_datetime(start), _as_datetime(end))
    return create_report(settings, out_dir, filters, on_step).path
