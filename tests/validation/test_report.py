"""The validation report: files, figures, statistics, filters, empty lakes, CLI, and a headless Chromium check."""

from __future__ import annotations

import base64
import re
import shutil
import subprocess
from datetime import datetime, timedelta
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import typer
from PIL import Image
from typer.testing import CliRunner

from tasks.config import load_settings
from tasks.errors import ConfigError
from tasks.lake import Lake, conform
from tasks.synthetic.matchups import HASHES, matchup_rows
from tasks.validation import figures
from tasks.validation.metrics import METRIC_COLUMNS, compute_metrics
from tasks.validation.report import ReportFilters, create_report, statistics_table, write_report

EXPECTED_FIGURES = {
    "scatter_occi-l3_bgc-argo-chl_chlor_a.png", "timeseries_occi-l3_bgc-argo-chl_chlor_a.png",
    "scatter_olci-l2-wfr_hypernets_rho_w.png", "spectra_olci-l2-wfr_hypernets_rho_w.png",
    "timeseries_olci-l2-wfr_hypernets_rho_w.png", "map.png", "funnel.png"}
CHROMIUM_NAMES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable", "chrome")


def _lake_with_matchups(root: Path, mp: pytest.MonkeyPatch, **kwargs):
    mp.setenv("OCEANLAKE_CACHE", str(root / "cache"))
    mp.delenv("OCEANLAKE_LAKE", raising=False)
    mp.delenv("OCEANLAKE_CATALOG", raising=False)
    settings = load_settings(lake=str(root / "lake"))
    rows = conform("matchups", matchup_rows(**kwargs))
    with Lake(settings) as lake:
        lake.transaction(lambda con: lake.insert(con, "matchups", rows))
    frame = rows.to_pandas()
    frame["failed_criteria"] = frame["failed_criteria"].map(list)
    return settings, frame


@pytest.fixture(scope="module")
def report(tmp_path_factory):
    """A lake with 700 Argo chlorophyll and 3 sites x 30 HYPERNETS spectra of match-ups, and its report."""
    root = tmp_path_factory.mktemp("report")
    with pytest.MonkeyPatch.context() as mp:
        settings, rows = _lake_with_matchups(root, mp, n_argo=700, n_sequences=30, seed=3)
        steps: list[str] = []
        data = create_report(settings, root / "out", ReportFilters(), on_step=steps.append)
    return settings, data, rows, steps


def _pixels(path: Path) -> np.ndarray:
    with Image.open(path) as image:
        image.load()
        return np.asarray(image.convert("RGB"), dtype=float)


def test_report_writes_every_figure_as_a_non_blank_png(report):
    _, data, _, steps = report
    out = data.path.parent
    assert data.path == out / "report.html" and data.path.is_file()
    assert {p.name for p in out.glob("*.png")} == EXPECTED_FIGURES == {f.path.name for f in data.figures}
    for path in out.glob("*.png"):
        pixels = _pixels(path)
        assert pixels.shape[0] > 200 and pixels.shape[1] > 400, path.name
        assert pixels.std() > 10, f"{path.name} looks blank"
        assert (pixels.min(axis=2) < 200).mean() > 0.01, f"{path.name} is nearly all white"
    assert steps[0] == "reading match-ups" and steps[-1] == "writing report.html"
    assert sum(s.startswith("figure ") for s in steps) == len(EXPECTED_FIGURES)


def test_html_is_self_contained_and_embeds_every_figure(report):
    settings, data, rows, _ = report
    text = data.path.read_text(encoding="utf-8")
    embedded = re.findall(r'<img src="data:image/png;base64,([A-Za-z0-9+/=]+)"', text)
    files = {p.read_bytes() for p in data.path.parent.glob("*.png")}
    assert len(embedded) == len(EXPECTED_FIGURES) == text.count("<img ")
    assert {base64.b64decode(b) for b in embedded} == files  # the HTML alone holds every PNG, byte for byte
    for name in EXPECTED_FIGURES:
        assert f"({name})" in text  # captions name the separate files
    assert "<script" not in text and "<link" not in text
    assert not re.search(r"""(src|href)\s*=\s*["']?(https?:)?//|url\(""", text)  # no network resource
    assert "Content-Security-Policy" in text and "default-src 'none'" in text
    for expected in (settings.lake, f"lake snapshot id</dt><dd>{data.snapshot_id}", *HASHES.values(),
                     "generated at (UTC)", "Statistics per band", "Protocol funnel", "no coastline"):
        assert expected in text
    assert f"{len(rows)} (" in text  # rows read


def test_statistics_per_band_match_the_metrics(report):
    _, data, rows, _ = report
    stats = data.statistics
    assert list(stats.columns) == ["product", "protocol", "variable", "wavelength", "unit", "space", *METRIC_COLUMNS]
    good = rows[rows["passed"] & rows["is_primary"]]
    chl = stats[stats["variable"] == "chlor_a"]
    assert len(chl) == 1 and np.isnan(chl["wavelength"].iloc[0]) and chl["space"].iloc[0] == "log10"
    chl_rows = good[good["variable"] == "chlor_a"]
    expected = compute_metrics(chl_rows["sat_filtered_mean"], chl_rows["insitu_value"], log_space=True)
    assert chl["n"].iloc[0] == expected["n"] == len(chl_rows) > figures.DENSITY_THRESHOLD
    assert chl["slope_rma"].iloc[0] == pytest.approx(expected["slope_rma"])
    rho = stats[stats["variable"] == "rho_w"]
    bands = sorted(good.loc[good["variable"] == "rho_w", "wavelength"].unique())
    assert rho["wavelength"].tolist() == bands and 673.75 not in bands  # band_mismatch rows never pass
    assert (rho["space"] == "linear").all() and (rho["unit"] == "1").all()
    band = good[(good["variable"] == "rho_w") & (good["wavelength"] == 560.0)]
    expected = compute_metrics(band["sat_filtered_mean"], band["insitu_value"])
    row = rho[rho["wavelength"] == 560.0].iloc[0]
    assert row["n"] == len(band) and row["bias"] == pytest.approx(expected["bias"])
    assert row["slope_ols"] == pytest.approx(expected["slope_ols"])
    csv = pd.read_csv(data.path.parent / "statistics.csv")
    assert len(csv) == len(stats) and csv["n"].tolist() == stats["n"].tolist()


def test_statistics_ignore_failed_and_secondary_rows():
    frame = pd.DataFrame({
        "product": "p", "protocol": "q", "variable": "rrs", "wavelength": 443.0, "unit": "sr-1",
        "insitu_value": [1.0, 2.0, 3.0, 4.0, 5.0], "sat_filtered_mean": [1.1, 2.1, 3.1, 40.0, 50.0],
        "passed": [True, True, True, False, True], "is_primary": [True, True, True, True, False]})
    stats = statistics_table(frame)
    assert stats["n"].tolist() == [3] and stats["bias"].iloc[0] == pytest.approx(0.1)
    assert statistics_table(frame.iloc[3:]).empty


def test_scatter_is_a_density_plot_above_the_threshold(report, tmp_path, monkeypatch):
    from matplotlib.axes import Axes

    _, _, rows, _ = report
    calls = []
    original = Axes.hexbin
    monkeypatch.setattr(Axes, "hexbin", lambda self, *a, **k: calls.append(k) or original(self, *a, **k))
    chl = rows[rows["passed"] & rows["is_primary"] & (rows["variable"] == "chlor_a")]
    figures.scatter_figure(chl, tmp_path / "dense.png")
    assert len(calls) == 1 and calls[0]["xscale"] == calls[0]["yscale"] == "log"
    figures.scatter_figure(chl, tmp_path / "points.png", density_threshold=10_000)
    assert len(calls) == 1
    small = chl.head(3).assign(insitu_value=[0.0, 0.2, 0.3])  # a non-positive value on log axes is left out
    assert _pixels(figures.scatter_figure(small, tmp_path / "small.png")).std() > 10


def test_funnel_counts_and_a_run_summary_funnel(report, tmp_path):
    _, _, rows, _ = report
    argo = rows[rows["insitu_source"] == "argo"]
    counts = figures.funnel_counts(argo).set_index("criterion")
    assert list(counts.index) == ["time_difference", "valid_pixels"]  # the engine's order
    failed = argo["failed_criteria"].map(set)
    assert counts.loc["valid_pixels", "failed"] == failed.map(lambda c: "valid_pixels" in c).sum()
    assert counts.loc["valid_pixels", "only"] == failed.map(lambda c: c == {"valid_pixels"}).sum()
    summary_funnel = {"homogeneity": 12, "time_difference": 30, "custom_check": 1}
    path = figures.funnel_figure(None, tmp_path / "summary.png", funnel=summary_funnel)
    assert _pixels(path).std() > 10
    assert figures.funnel_counts(argo.iloc[0:0]).empty


def test_filters_are_bound_and_applied(report, tmp_path):
    settings, _, rows, _ = report
    only_chl = create_report(settings, tmp_path / "chl", ReportFilters(product="occi-l3"))
    assert set(only_chl.frame["product"]) == {"occi-l3"} and len(only_chl.frame) == (rows["product"] == "occi-l3").sum()
    assert {f.path.name for f in only_chl.figures} == {n for n in EXPECTED_FIGURES if "olci" not in n}
    start, end = datetime(2024, 4, 1), datetime(2024, 6, 1)
    path = write_report(settings, tmp_path / "period", insitu="hypernets", start="2024-04-01", end=end)
    in_period = rows[(rows["insitu_source"] == "hypernets") & (rows["time_insitu"] >= start)
                     & (rows["time_insitu"] < end)]
    assert f"<dd>{len(in_period)} (" in path.read_text(encoding="utf-8")
    injected = create_report(settings, tmp_path / "inj", ReportFilters(product="x' OR 1=1 --"))
    assert injected.frame.empty  # a value, never SQL


def test_a_report_without_matchups_is_still_a_valid_report(report, settings, tmp_path):
    lake_settings, *_ = report
    empty = create_report(lake_settings, tmp_path / "none", ReportFilters(protocol="no-such-protocol"))
    text = empty.path.read_text(encoding="utf-8")
    assert empty.frame.empty and not empty.figures and "<img" not in text
    assert "No match-up row matches these filters" in text and "bgc-argo-chl" in text  # lists what the lake holds
    with Lake(settings):
        pass  # a new, empty lake
    path = write_report(settings, tmp_path / "empty")
    text = path.read_text(encoding="utf-8")
    assert "holds no match-up at all" in text and "oceanlake matchup" in text and text.rstrip().endswith("</html>")
    assert pd.read_csv(path.parent / "statistics.csv").empty
    with pytest.raises(ConfigError, match="no lake"):
        write_report(settings.with_lake(str(tmp_path / "nowhere")), tmp_path / "x")


def test_report_on_engine_matchups(settings, tmp_path):
    """Rows written by the real engine (OLCI x HYPERNETS), not synthetic ones."""
    from tasks.ingest import ingest_insitu
    from tasks.ingest_satellite import ingest_satellite
    from tasks.matchup.engine import run_matchups
    from tasks.synthetic import write_hypernets_l2a, write_olci_wfr_sen3

    overpass = datetime(2024, 3, 1, 9, 50)
    sen3 = write_olci_wfr_sen3(tmp_path / "olci", overpass, 43.5, 7.5, shape=(120, 90), seed=1)
    assert ingest_satellite("olci-l2-wfr", [str(sen3)], settings).files_ingested == 1
    files = [write_hypernets_l2a(tmp_path / "hyp", "VEIT", overpass + timedelta(minutes=m), 43.52, 7.49, seed=k)
             for k, m in enumerate((-50, 10, 40))]
    ingest_insitu("hypernets", [str(f) for f in files], settings)
    summary = run_matchups("hypernets", "olci-l2-wfr", "hypernets", settings)
    data = create_report(settings, tmp_path / "out", ReportFilters())
    assert len(data.frame) == summary.rows > 0
    names = {f.path.name for f in data.figures}
    assert {"map.png", "funnel.png"} <= names
    if summary.primary_passed:
        variable = data.frame["variable"].iloc[0]
        assert f"spectra_olci-l2-wfr_hypernets_{variable}.png" in names
        assert (data.statistics["n"] > 0).all()
    counts = figures.funnel_counts(data.frame)
    assert dict(zip(counts["criterion"], counts["failed"], strict=True)) == summary.funnel  # same as the run's
    for fig in data.figures:
        assert _pixels(fig.path).std() > 10


def test_report_command(report, tmp_path):
    from flows.cli_report import report_command

    settings, _, _, _ = report
    app = typer.Typer()
    app.command("report")(report_command)
    app.command("other")(lambda: None)  # a second command keeps "report" a subcommand, as in flows.cli
    runner = CliRunner()
    helped = runner.invoke(app, ["report", "--help"], terminal_width=200)
    assert helped.exit_code == 0 and "--out" in helped.output and "oceanlake report --out" in helped.output
    ok = runner.invoke(app, ["report", "--out", str(tmp_path / "r"), "--lake", settings.lake, "--insitu", "argo",
                             "--start", "2024-03-01", "--end", "2025-06-01"], terminal_width=200)
    assert ok.exit_code == 0, ok.output
    assert "report.html" in ok.output and "figure 1/" in ok.output
    assert (tmp_path / "r" / "report.html").is_file() and (tmp_path / "r" / "map.png").is_file()
    none = runner.invoke(app, ["report", "--out", str(tmp_path / "n"), "--lake", settings.lake, "--product", "nope"])
    assert none.exit_code == 0 and "no match-up matches" in none.output
    bad_date = runner.invoke(app, ["report", "--out", str(tmp_path / "b"), "--lake", settings.lake, "--start", "May"])
    assert bad_date.exit_code == 2 and "not a date" in bad_date.output
    no_lake = runner.invoke(app, ["report", "--out", str(tmp_path / "c"), "--lake", str(tmp_path / "nowhere")])
    assert no_lake.exit_code == 2 and "no lake" in no_lake.output


# -- headless Chromium ---------------------------------------------------------------------------------------

_CHECK_SCRIPT = """<script>
window.addEventListener("load", function () {
  var images = Array.prototype.slice.call(document.images);
  var loaded = images.filter(function (i) { return i.complete && i.naturalWidth > 0 && i.naturalHeight > 0; });
  var broken = images.filter(function (i) { return loaded.indexOf(i) < 0; }).map(function (i) { return i.alt; });
  document.title = "figures-loaded=" + loaded.length + " total=" + images.length + " broken=" + broken.join("|");
});
</script>"""


def _chromium() -> str:
    for name in CHROMIUM_NAMES:
        found = shutil.which(name)
        if found:
            return found
    pytest.skip(f"no Chromium binary on PATH (looked for {', '.join(CHROMIUM_NAMES)}); "
                "install it with: apt-get install -y chromium")


def _run_chromium(binary: str, profile: Path, *args: str) -> subprocess.CompletedProcess:
    command = [binary, "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--no-first-run",
               "--no-default-browser-check", "--disable-extensions", "--hide-scrollbars", "--mute-audio",
               f"--user-data-dir={profile}", "--run-all-compositor-stages-before-draw",
               "--virtual-time-budget=15000", *args]
    last = None
    for _ in range(2):  # one retry: a loaded CI machine can make the first start time out
        try:
            result = subprocess.run(command, capture_output=True, text=True, timeout=180)
        except subprocess.TimeoutExpired as exc:
            last = exc
            continue
        if result.returncode == 0:
            return result
        last = result
    pytest.fail(f"chromium failed: {getattr(last, 'stderr', last)!s}"[:3000])


def _with_check_script(report_html: Path) -> Path:
    """A copy of the report whose script (allowed by an extended CSP) puts the image counts in the title."""
    text = report_html.read_text(encoding="utf-8")
    assert text.count("default-src 'none';") == 1
    text = text.replace("default-src 'none';", "default-src 'none'; script-src 'unsafe-inline';")
    checked = report_html.with_name("report_check.html")
    checked.write_text(text.replace("</body>", _CHECK_SCRIPT + "</body>"), encoding="utf-8")
    return checked


def test_report_opens_in_headless_chromium(report, tmp_path):
    binary = _chromium()
    _, data, _, _ = report
    shot = tmp_path / "screenshot.png"
    _run_chromium(binary, tmp_path / "profile-shot", f"--screenshot={shot}", "--window-size=1400,3000",
                  data.path.resolve().as_uri())
    pixels = _pixels(shot)
    assert pixels.shape[:2] == (3000, 1400)
    assert pixels.std() > 20, "the screenshot is blank"
    assert (pixels.min(axis=2) < 200).mean() > 0.05, "the screenshot is nearly all white"

    dom = _run_chromium(binary, tmp_path / "profile-dom", "--dump-dom",
                        _with_check_script(data.path).resolve().as_uri()).stdout
    found = re.search(r"<title>figures-loaded=(\d+) total=(\d+) broken=([^<]*)</title>", dom)
    assert found, f"the check script did not run; DOM head: {dom[:500]!r}"
    loaded, total, broken = int(found[1]), int(found[2]), found[3]
    assert total == len(EXPECTED_FIGURES) and loaded == total, f"figures that did not load: {broken}"

    # The check itself notices a figure that does not load (a truncated data URI).
    damaged = tmp_path / "damaged" / "report.html"
    damaged.parent.mkdir()
    damaged.write_text(re.sub(r"(data:image/png;base64,)[A-Za-z0-9+/=]{200}", r"\1AAAA", data.path.read_text(
        encoding="utf-8"), count=1), encoding="utf-8")
    dom = _run_chromium(binary, tmp_path / "profile-damaged", "--dump-dom",
                        _with_check_script(damaged).resolve().as_uri()).stdout
    found = re.search(r"<title>figures-loaded=(\d+) total=(\d+) broken=([^<]*)</title>", dom)
    assert found and int(found[1]) == len(EXPECTED_FIGURES) - 1 and found[3]
