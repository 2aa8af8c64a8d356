"""The HTML run report: content, escaping, redaction, the CLI, and drawing in real Chromium.

The run folder here is fabricated with the files a run writes (summary.json, pairs.parquet,
worklist.csv, rejects.csv, clusters.csv, model.json) and a model built from the project's own
comparisons, so the report is tested without running the engine. test_notebook.py exercises
the whole chain on real outputs.
"""

from __future__ import annotations

import argparse
import json
import math
import re
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from migrant_linkage.cli.report import add_report_command
from migrant_linkage.comparisons import migrant_comparisons
from migrant_linkage.levels import gamma_value
from migrant_linkage.report import (
    evidence,
    load_run,
    render_report,
    write_report,
)

SCRIPT_NAME = "<script>window.__pwned = 1</script>"
SECRET_SURNAME = "ZZQXWUNIQUE"
SECRET_GIVEN_NAME = "QWXIMENA"
SECRET_BIRTH_DATE = "2011-07-23"


def toy_settings() -> dict:
    """Splink settings with the project's comparisons and hand-set m and u probabilities:
    a level's weight is fixed by its position so the test knows what each level weighs."""
    from splink import SettingsCreator

    creator = SettingsCreator(
        link_type="dedupe_only",
        unique_id_column_name="record_id",
        comparisons=migrant_comparisons(term_frequency=False),
        probability_two_random_records_match=0.001,
    )
    settings = creator.create_settings_dict("duckdb")
    for comparison in settings["comparisons"]:
        levels = [lv for lv in comparison["comparison_levels"] if not lv.get("is_null_level")]
        n = len(levels)
        for i, level in enumerate(levels):
            # From +4 (first level) down to -4 (else): m/u = 2**weight.
            weight = 4.0 - 8.0 * i / max(n - 1, 1)
            u = 0.01
            level["m_probability"] = min(u * 2**weight, 0.99)
            level["u_probability"] = u
    return settings


def level_weight(settings: dict, comparison: str, gamma: int) -> float:
    table = evidence.level_table(settings)
    row = table[(table["comparison"] == comparison) & (table["gamma"] == gamma)]
    return float(row["match_weight"].iloc[0])


def fabricate_run(folder: Path, *, n_pairs: int = 400, seed: int = 1) -> Path:
    """A run folder like engine.Result.write leaves, with known contents."""
    rng = np.random.default_rng(seed)
    settings = toy_settings()
    levels = evidence.level_table(settings)
    folder.mkdir(parents=True, exist_ok=True)
    ids = [f"TX-{i:04d}" for i in range(n_pairs * 2)]
    pairs = pd.DataFrame({"record_id_l": ids[0::2], "record_id_r": ids[1::2]})
    weight = np.zeros(n_pairs)
    for comparison, of_c in levels.groupby("comparison", sort=False):
        gammas = of_c["gamma"].to_numpy()
        chosen = rng.choice(gammas, size=n_pairs)
        pairs[f"gamma_{comparison}"] = chosen
        lookup = dict(zip(of_c["gamma"], of_c["match_weight"].fillna(0.0), strict=True))
        weight += np.array([lookup[g] for g in chosen])
    # Pair 0 is the near match the tests look at: exact birth date.
    pairs.loc[0, "gamma_birth_date"] = gamma_value("birth_date", "exact")
    # Pair 1: a transposed birth date.
    pairs.loc[1, "gamma_birth_date"] = gamma_value("birth_date", "transposed")
    weight = np.zeros(n_pairs)
    for comparison, of_c in levels.groupby("comparison", sort=False):
        lookup = dict(zip(of_c["gamma"], of_c["match_weight"].fillna(0.0), strict=True))
        weight += pairs[f"gamma_{comparison}"].map(lookup).to_numpy()
    pairs["match_weight"] = weight
    match_w, review_w = 10.0, 2.0
    pairs.loc[[0, 1], "match_weight"] = [9.9, 9.8]  # the two strongest near matches
    pairs["match_probability"] = 1 / (1 + 2.0 ** -pairs["match_weight"])
    pairs["zone"] = np.where(
        pairs["match_weight"] >= match_w,
        "match",
        np.where(pairs["match_weight"] >= review_w, "near_match", "non_match"),
    )
    pairs["guarded"] = False
    pairs.to_parquet(folder / "pairs.parquet", index=False)

    near = pairs[pairs["zone"] == "near_match"].copy()
    worklist = near[["record_id_l", "record_id_r", "match_weight", "match_probability", "zone"]]
    worklist = worklist.assign(
        grade="possible",
        reason="near match",
        state_l="TX",
        state_r="CA",
        first_name_l=SECRET_GIVEN_NAME,
        first_name_r=SECRET_GIVEN_NAME,
        last_name_1_l=SECRET_SURNAME,
        last_name_1_r=SECRET_SURNAME,
        sex_l="F",
        sex_r="F",
        birth_date_l="07/23/2011",
        birth_date_r="23/07/2011",
        birth_date_std_l=SECRET_BIRTH_DATE,
        birth_date_std_r=SECRET_BIRTH_DATE,
    )
    worklist.loc[worklist.index[0], "first_name_l"] = SCRIPT_NAME
    worklist.to_csv(folder / "worklist.csv", index=False)
    pd.DataFrame(
        {
            "source_name": ["TX", "CA"],
            "source_row": [3, 9],
            "record_id": ["", "CA-1"],
            "reason": ["MISSING_RECORD_ID", "MISSING_NAME"],
            "message": ["row 3 has no record_id", "record CA-1 has no name"],
        }
    ).to_csv(folder / "rejects.csv", index=False)
    pd.DataFrame({"record_id": ids, "cluster_id": ids}).to_csv(folder / "clusters.csv", index=False)
    (folder / "model.json").write_text(json.dumps(settings), encoding="utf-8")
    summary = {
        "job": "dedupe_only",
        "records_in": len(ids) + 2,
        "rejected": 2,
        "rejected_by_reason": {"MISSING_NAME": 1, "MISSING_RECORD_ID": 1},
        "standardized": len(ids),
        "sources": {"TX": {"records_in": n_pairs + 1}, "CA": {"records_in": n_pairs + 1}},
        "model": "trained on this data",
        "thresholds": {"match_weight": match_w, "review_weight": review_w},
        "comparisons": n_pairs,
        "pairs_per_zone": pairs["zone"].value_counts().to_dict(),
        "guarded_pairs": 0,
        "clusters": len(ids),
        "worklist_pairs": len(worklist),
        "counts_reconcile": True,
        "quality_flags": {"BIRTH_DATE_AMBIGUOUS": 12, "SEX_UNRECOGNISED": 3},
        "timings": {"standardize": 0.5, "train": 1.25, "predict": 2.0, "cluster": 0.25},
    }
    (folder / "summary.json").write_text(json.dumps(summary), encoding="utf-8")
    return folder


@pytest.fixture
def run_dir(tmp_path: Path) -> Path:
    return fabricate_run(tmp_path / "run")


# ---------------------------------------------------------------------------------------------
# Content
# ---------------------------------------------------------------------------------------------


def test_report_is_written_into_the_run_folder(run_dir: Path) -> None:
    path = write_report(run_dir)
    assert path == run_dir / "report.html"
    text = path.read_text(encoding="utf-8")
    assert text.startswith("<!DOCTYPE html>")


def test_report_shows_input_counts_and_rejects_by_reason(run_dir: Path) -> None:
    text = render_report(load_run(run_dir))
    assert "MISSING_RECORD_ID" in text and "MISSING_NAME" in text
    summary = json.loads((run_dir / "summary.json").read_text())
    assert f"{summary['records_in']:,}" in text


def test_report_counts_quality_flags_from_the_standardized_table_when_summary_lacks_them(
    run_dir: Path,
) -> None:
    summary = json.loads((run_dir / "summary.json").read_text())
    del summary["quality_flags"]
    (run_dir / "summary.json").write_text(json.dumps(summary))
    standardized = pd.DataFrame(
        {"quality_flags": ["TWO_DIGIT_YEAR;SEX_UNRECOGNISED", "TWO_DIGIT_YEAR", "", None]}
    )
    text = render_report(load_run(run_dir, standardized=standardized))
    section = text[text.index('id="quality"') : text.index('id="zones"')]
    assert 'TWO_DIGIT_YEAR</td><td class="num">2<' in section
    assert 'SEX_UNRECOGNISED</td><td class="num">1<' in section


def test_report_says_when_quality_flags_are_unavailable(run_dir: Path) -> None:
    summary = json.loads((run_dir / "summary.json").read_text())
    del summary["quality_flags"]
    (run_dir / "summary.json").write_text(json.dumps(summary))
    text = render_report(load_run(run_dir))
    assert "Quality flags are not available" in text


def test_report_lists_pairs_per_zone_matching_the_pairs_table(run_dir: Path) -> None:
    pairs = pd.read_parquet(run_dir / "pairs.parquet")
    text = render_report(load_run(run_dir))
    section = text[text.index('id="zones"') : text.index('id="weights"')]
    near = int((pairs["zone"] == "near_match").sum())
    assert f'near match (review)</td><td class="num">{near:,}<' in section


def test_near_match_evidence_shows_the_level_and_weight_from_the_model(run_dir: Path) -> None:
    settings = json.loads((run_dir / "model.json").read_text())
    exact = gamma_value("birth_date", "exact")
    weight = level_weight(settings, "birth_date", exact)
    text = render_report(load_run(run_dir))
    card_start = text.index("TX-0000 ↔ TX-0001")
    card = text[card_start : text.index("</div></div>", card_start)]
    assert "exact: the same birth date" in card
    assert f"{weight:+.2f}" in card


def test_birth_date_conflicts_list_the_transposed_pair_and_not_the_exact_one(
    run_dir: Path,
) -> None:
    text = render_report(load_run(run_dir), top_n=500)
    section = text[text.index('id="birth-dates"') : text.index('id="timings"')]
    assert "TX-0002" in section  # pair 1: transposed
    assert "transposed: day and month swapped" in section
    assert "TX-0000" not in section  # pair 0: exact birth date


def test_birth_date_conflicts_show_the_dates_from_the_standardized_table(run_dir: Path) -> None:
    # TX-0002 / TX-0003 is the transposed pair; give them dates the worklist does not hold.
    standardized = pd.DataFrame(
        {
            "record_id": ["TX-0002", "TX-0003"],
            "birth_date_std": ["2012-03-04", "2012-04-03"],
            "quality_flags": ["", ""],
        }
    )
    run = load_run(run_dir, standardized=standardized)
    section = render_report(run, top_n=500).split('id="birth-dates"')[1].split('id="timings"')[0]
    assert "2012-03-04" in section and "2012-04-03" in section
    redacted = render_report(run, redact=True, top_n=500).split('id="birth-dates"')[1]
    assert "2012-03-04" not in redacted.split('id="timings"')[0]


def test_report_shows_timings_per_stage(run_dir: Path) -> None:
    text = render_report(load_run(run_dir))
    section = text[text.index('id="timings"') :]
    assert "predict" in section and "2.00" in section and "4.00" in section  # total


def test_a_script_in_a_name_is_shown_as_text_never_run(run_dir: Path) -> None:
    text = render_report(load_run(run_dir), top_n=50)
    assert SCRIPT_NAME not in text
    assert "&lt;script&gt;window.__pwned = 1&lt;/script&gt;" in text


def test_redacted_report_holds_no_name_or_birth_date(run_dir: Path) -> None:
    path = write_report(run_dir, redact=True, top_n=500)
    assert path.name == "report-redacted.html"
    text = path.read_text(encoding="utf-8")
    for secret in (SECRET_SURNAME, SECRET_BIRTH_DATE, SECRET_GIVEN_NAME, "07/23/2011"):
        assert secret not in text
    assert evidence.REDACTED in text
    assert "TX-0000" in text  # record ids stay so staff can look the records up


def test_unredacted_report_does_show_the_names(run_dir: Path) -> None:
    text = render_report(load_run(run_dir), top_n=500)
    assert SECRET_SURNAME in text and SECRET_BIRTH_DATE in text


def test_report_fetches_nothing_from_the_network(run_dir: Path) -> None:
    text = render_report(load_run(run_dir))
    assert "cdn.jsdelivr" not in text
    assert '<script src="http' not in text
    assert "vegaEmbed" in text


def test_a_run_folder_with_csv_pairs_reports_the_same_evidence(run_dir: Path) -> None:
    from_parquet = render_report(load_run(run_dir))
    pairs = pd.read_parquet(run_dir / "pairs.parquet")
    (run_dir / "pairs.parquet").unlink()
    pairs.to_csv(run_dir / "pairs.csv", index=False)
    from_csv = render_report(load_run(run_dir))

    def section(text: str) -> str:
        return text[text.index('id="near-matches"') : text.index('id="timings"')]

    assert section(from_csv) == section(from_parquet)


def test_partial_run_folder_still_reports_and_names_what_is_missing(run_dir: Path) -> None:
    (run_dir / "pairs.parquet").unlink()
    (run_dir / "model.json").unlink()
    text = render_report(load_run(run_dir))
    assert "no pairs table in the run folder" in text
    assert "No model.json in the run folder." in text


def test_a_folder_without_summary_is_not_a_run_folder(tmp_path: Path) -> None:
    from migrant_linkage.report import NotARunFolderError

    with pytest.raises(NotARunFolderError, match="summary.json"):
        write_report(tmp_path)


# ---------------------------------------------------------------------------------------------
# Command line
# ---------------------------------------------------------------------------------------------


def _parse(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="migrant-linkage")
    sub = parser.add_subparsers(dest="command", required=True)
    add_report_command(sub)
    return parser.parse_args(argv)


def test_report_command_writes_the_report(run_dir: Path, capsys: pytest.CaptureFixture) -> None:
    args = _parse(["report", str(run_dir)])
    assert args.func(args) == 0
    assert (run_dir / "report.html").is_file()
    assert "report.html" in capsys.readouterr().out


def test_report_command_redacts(run_dir: Path) -> None:
    args = _parse(["report", str(run_dir), "--redact", "--out", str(run_dir / "share.html")])
    assert args.func(args) == 0
    assert SECRET_SURNAME not in (run_dir / "share.html").read_text(encoding="utf-8")


def _without_timestamp(html_text: str) -> str:
    return re.sub(r"\d{4}-\d{2}-\d{2} \d{2}:\d{2} UTC", "", html_text)


def test_report_option_and_report_command_write_the_same_page(run_dir: Path) -> None:
    from types import SimpleNamespace

    from migrant_linkage.cli.report import add_report_option
    from migrant_linkage.report import report_run

    parser = argparse.ArgumentParser()
    add_report_option(parser)
    assert parser.parse_args(["--report"]).report is True
    assert parser.parse_args([]).report is False
    # A job's Result holds the standardized records; the report must not need them.
    result = SimpleNamespace(standardized=pd.DataFrame({"quality_flags": ["TWO_DIGIT_YEAR"]}))
    during = report_run(result, run_dir).read_text(encoding="utf-8")
    args = _parse(["report", str(run_dir)])
    assert args.func(args) == 0
    afterwards = (run_dir / "report.html").read_text(encoding="utf-8")
    assert _without_timestamp(during) == _without_timestamp(afterwards)


def test_quality_flags_are_summed_over_the_sources_of_the_summary(run_dir: Path) -> None:
    summary = json.loads((run_dir / "summary.json").read_text())
    del summary["quality_flags"]
    summary["sources"] = {
        "tx.csv": {"records_in": 5, "quality_flags": {"BIRTH_DATE_MISSING": 4}},
        "mi.csv": {
            "records_in": 7,
            "quality_flags": {"BIRTH_DATE_MISSING": 1, "TWO_DIGIT_YEAR": 2},
        },
    }
    (run_dir / "summary.json").write_text(json.dumps(summary))
    from migrant_linkage.report.run import quality_flag_counts

    counts = quality_flag_counts(load_run(run_dir))
    assert dict(zip(counts["flag"], counts["records"], strict=True)) == {
        "BIRTH_DATE_MISSING": 5,
        "TWO_DIGIT_YEAR": 2,
    }
    assert "Quality flags are not available" not in render_report(load_run(run_dir))


def test_top_near_matches_list_near_matches_not_pairs_kept_apart(run_dir: Path) -> None:
    worklist = pd.read_csv(run_dir / "worklist.csv", dtype=str)
    kept_apart = worklist.iloc[[0]].assign(
        record_id_l="TX-KEPT",
        record_id_r="TX-APART",
        match_weight="30.0",
        zone="match",
        grade="certain",
        reason="match kept apart: a strong disagreement within the student",
    )
    pd.concat([kept_apart, worklist]).to_csv(run_dir / "worklist.csv", index=False)
    page = render_report(load_run(run_dir), top_n=3)
    section = page[page.index('id="near-matches"') :]
    section = section[: section.index("</section>")]
    assert "TX-KEPT" not in section
    assert section.count('class="pair"') == 3
    assert "1 match-zone pair(s) kept apart" in section


def test_report_command_on_a_wrong_folder_is_a_usage_error(tmp_path: Path) -> None:
    from migrant_linkage.errors import UsageError

    args = _parse(["report", str(tmp_path / "nowhere")])
    with pytest.raises(UsageError, match="no such folder"):
        args.func(args)


# ---------------------------------------------------------------------------------------------
# In a real browser
# ---------------------------------------------------------------------------------------------

CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


#: Splink's accuracy chart has layers that show only the hovered threshold; until the mouse
#: moves they are empty and Vega warns about their empty extent. Any other warning fails.
_HOVER_LAYER_WARNING = re.compile(r'Infinite extent for field "(truth_threshold|score_index)"')


def chromium_path() -> str | None:
    for name in ("chromium", "chromium-browser"):
        found = shutil.which(name)
        if found:
            return found
    return None


def launch_chromium(playwright, tmp_path: Path):
    """Debian's headless Chromium with a fresh profile under tmp_path and no network."""
    return playwright.chromium.launch_persistent_context(
        str(tmp_path / "chromium-profile"),
        executable_path=chromium_path(),
        headless=True,
        args=CHROMIUM_ARGS,
        viewport={"width": 1200, "height": 900},
    )


def open_in_chromium(html_path: Path, screenshot: Path, tmp_path: Path) -> dict:
    """Load the page in headless Chromium (fresh profile, no network) and report what drew."""
    sync_api = pytest.importorskip(
        "playwright.sync_api", reason="playwright is not installed (pip install '.[test]')"
    )
    errors: list[str] = []
    warnings: list[str] = []
    requests: list[str] = []
    with sync_api.sync_playwright() as p:
        context = launch_chromium(p, tmp_path)
        try:
            page = context.new_page()
            page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
            page.on(
                "console",
                lambda m: (
                    warnings.append(m.text)
                    if m.type == "warning" and not _HOVER_LAYER_WARNING.search(m.text)
                    else None
                ),
            )
            page.on("pageerror", lambda e: errors.append(str(e)))
            page.on(
                "request",
                lambda r: (
                    requests.append(r.url) if not r.url.startswith(("file:", "data:")) else None
                ),
            )
            page.goto(html_path.as_uri())
            page.wait_for_load_state("load")
            page.wait_for_function(
                "document.querySelectorAll('.chart').length > 0 && "
                "[...document.querySelectorAll('.chart')].every(c => c.querySelector('svg, canvas') "
                "|| c.textContent.startsWith('Chart error'))",
                timeout=30_000,
            )
            info = page.evaluate(
                """() => ({
                    charts: document.querySelectorAll('.chart').length,
                    drawn: [...document.querySelectorAll('.chart')]
                        .filter(c => c.querySelector('svg, canvas')).length,
                    marks: [...document.querySelectorAll('.chart svg')]
                        .map(s => s.querySelectorAll('path, rect, line').length),
                    pwned: window.__pwned === 1,
                    axis_labels: Object.fromEntries([...document.querySelectorAll('.chart')]
                        .map(c => [c.dataset.chart, [...c.querySelectorAll('.role-axis')]
                            .filter(a => (a.getAttribute('aria-label') || '')
                                .startsWith('Y-axis'))
                            .flatMap(a => [...a.querySelectorAll('.role-axis-label text')]
                                .map(t => t.textContent))])),
                })"""
            )
            page.screenshot(path=str(screenshot), full_page=True)
        finally:
            context.close()
    info["errors"] = errors
    info["warnings"] = warnings
    info["requests"] = requests
    return info


needs_chromium = pytest.mark.skipif(
    chromium_path() is None,
    reason="Chromium is not installed (Debian: apt-get install -y chromium)",
)


@needs_chromium
def test_report_draws_every_chart_in_headless_chromium(run_dir: Path, tmp_path: Path) -> None:
    path = write_report(run_dir, top_n=50)
    shot = tmp_path / "report.png"
    info = open_in_chromium(path, shot, tmp_path)
    assert info["errors"] == []
    assert info["warnings"] == []  # e.g. Vega's "cannot stack a log scale"
    assert info["requests"] == []  # offline: nothing fetched
    assert info["charts"] >= 4  # histogram, sweep, weights, timings
    assert info["drawn"] == info["charts"]
    assert all(n > 5 for n in info["marks"])  # each SVG holds drawn marks, not an empty frame
    assert info["pwned"] is False  # the <script> in a name did not run
    assert shot.stat().st_size > 10_000
    # The sweep's log count axis is labelled where the false-match curve lies (below 1,000) ...
    sweep = [float(t.replace("k", "e3")) for t in info["axis_labels"]["threshold sweep"]]
    assert [t for t in sweep if 0 < t < 1000], sweep
    # ... and no level label of the weights chart is cut off with an ellipsis.
    assert not [t for t in info["axis_labels"]["model weights"] if t.endswith("…")]


@needs_chromium
def test_tuning_charts_draw_offline_in_headless_chromium(run_dir: Path, tmp_path: Path) -> None:
    from migrant_linkage import tuning

    pairs = pd.read_parquet(run_dir / "pairs.parquet")
    settings = json.loads((run_dir / "model.json").read_text())
    truth_like = pd.DataFrame(
        {
            "record_id": pd.concat([pairs["record_id_l"], pairs["record_id_r"]]),
            "true_student_id": list(range(len(pairs))) * 2,
        }
    )
    charts = {
        "histogram": tuning.weight_histogram(pairs, (10, 2)),
        "sweep": tuning.sweep_chart(pairs, (10, 2)),
        "accuracy": tuning.accuracy_chart(pairs, (10, 2), truth=truth_like),
        "waterfall": tuning.waterfall(pairs.iloc[0], settings),
        "weights": tuning.weights_chart(settings),
    }
    for name, chart in charts.items():
        path = tmp_path / f"{name}.html"
        chart.save(path)
        info = open_in_chromium(path, tmp_path / f"{name}.png", tmp_path)
        assert info["errors"] == [], name
        assert info["warnings"] == [], name
        assert info["requests"] == [], name
        assert info["drawn"] == 1, name
        assert not math.isnan(info["marks"][0]) and info["marks"][0] > 3, name


# ---------------------------------------------------------------------------------------------
# Chart details (issue 17)
# ---------------------------------------------------------------------------------------------


def test_symlog_axis_has_ticks_between_zero_and_a_thousand() -> None:
    from migrant_linkage.report.charts import symlog_ticks

    ticks = symlog_ticks(4_321)
    assert ticks[0] == 0 and max(ticks) <= 4_321
    assert {1, 10, 100, 1000} <= set(ticks)
    assert ticks == sorted(ticks)


def test_threshold_labels_sit_on_the_far_sides_of_their_lines() -> None:
    from migrant_linkage.report.charts import _threshold_rules, threshold_marks

    layers = _threshold_rules(threshold_marks(20, 12))
    labels = {layer["data"]["values"][0]["name"]: layer["mark"] for layer in layers[1:]}
    assert labels["review ≥ 12"]["align"] == "right"  # left of the review line
    assert labels["match ≥ 20"]["align"] == "left"  # right of the match line


def test_weights_chart_does_not_cut_level_labels(run_dir: Path) -> None:
    from migrant_linkage.report.charts import model_weights_chart

    spec = model_weights_chart(json.loads((run_dir / "model.json").read_text())).spec
    for part in spec["vconcat"]:
        assert part["encoding"]["y"]["axis"]["labelLimit"] == 0
