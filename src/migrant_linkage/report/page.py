"""The run report: one self-contained HTML page a state coordinator can open offline.

Every value from the data passes through `_e` (HTML escaping) or, inside chart scripts,
through charts.json_for_script: a name like "<script>" shows as text and never runs. With
`redact=True` names, birth dates and other identifying values are replaced before they reach
the page, so the file can be shared outside the data team.
"""

from __future__ import annotations

import datetime as dt
import html
import math
from importlib import resources
from pathlib import Path
from string import Template
from typing import Any

import pandas as pd

from migrant_linkage.io import write_text_atomic
from migrant_linkage.report import charts, conventions, evidence, pair_stats
from migrant_linkage.report.run import Run, load_run, quality_flag_counts, thresholds_of

#: The worklist columns shown for each near match, with a heading. `_l`/`_r` are appended.
RECORD_FIELDS: tuple[tuple[str, str], ...] = (
    ("state", "state"),
    ("source_name", "file"),
    ("first_name", "first name"),
    ("middle_name", "middle name"),
    ("last_name_1", "last name 1"),
    ("last_name_2", "last name 2"),
    ("sex", "sex"),
    ("birth_date", "birth date (as sent)"),
    ("birth_date_std", "birth date (read as)"),
    ("multiple_birth", "multiple birth"),
    ("parent1_first", "parent 1 first"),
    ("parent1_last", "parent 1 last"),
    ("parent2_first", "parent 2 first"),
    ("parent2_last", "parent 2 last"),
    ("birth_city", "birth city"),
    ("birth_state", "birth state"),
    ("birth_country", "birth country"),
    ("state_student_id", "state student id"),
)
#: Worklist columns that do not identify a child, so a redacted report still shows them.
SHAREABLE_RECORD_FIELDS = frozenset(
    {"state", "source_name", "sex", "multiple_birth", "birth_country", "birth_state"}
)
BIRTH_DATE_COMPARISON = "birth_date"
#: Birth-date levels that mean "the same date" (labels as in comparisons.py: "<label>: <meaning>").
SAME_BIRTH_DATE_LEVELS = ("exact", "default_equal")
REVIEW_ZONES = ("match", "near_match")
NEAR_MATCH_ZONE = "near_match"


def _e(value: Any) -> str:
    """HTML-escape anything, showing missing values as an empty cell."""
    if value is None or (isinstance(value, float) and math.isnan(value)) or value is pd.NA:
        return ""
    return html.escape(str(value), quote=True)


def _fmt(value: Any, kind: str = "") -> str:
    if value is None or value is pd.NA or (isinstance(value, float) and math.isnan(value)):
        return ""
    if kind == "int":
        return f"{int(value):,}"
    if kind == "weight":
        return f"{float(value):+.2f}"
    if kind == "prob":
        return f"{float(value):.4f}"
    if kind == "sec":
        return f"{float(value):.2f}"
    return str(value)


def _table(frame: pd.DataFrame, formats: dict[str, str] | None = None, cls: str = "") -> str:
    """An escaped HTML table of `frame` (column names are the headings)."""
    formats = formats or {}
    head = "".join(f"<th>{_e(c)}</th>" for c in frame.columns)
    rows = []
    for values in frame.itertuples(index=False, name=None):  # report tables are small
        cells = []
        for col, value in zip(frame.columns, values, strict=True):
            kind = formats.get(col, "")
            num = ' class="num"' if kind in ("int", "weight", "prob", "sec") else ""
            cells.append(f"<td{num}>{_e(_fmt(value, kind))}</td>")
        rows.append("<tr>" + "".join(cells) + "</tr>")
    cls_attr = f' class="{_e(cls)}"' if cls else ""
    return f"<table{cls_attr}><thead><tr>{head}</tr></thead><tbody>{''.join(rows)}</tbody></table>"


def _section(anchor: str, title: str, body: str, intro: str = "") -> str:
    intro_html = f'<p class="intro">{_e(intro)}</p>' if intro else ""
    return f'<section id="{_e(anchor)}"><h2>{_e(title)}</h2>{intro_html}{body}</section>\n'


def _missing(text: str) -> str:
    return f'<p class="missing">{_e(text)}</p>'


class _Charts:
    """Collects charts; each gets a unique element id."""

    def __init__(self) -> None:
        self.count = 0

    def add(self, chart: charts.Chart) -> str:
        self.count += 1
        return chart.fragment(f"chart-{self.count}")


# ---------------------------------------------------------------------------------------------
# Sections
# ---------------------------------------------------------------------------------------------


def _inputs(run: Run) -> str:
    s = run.summary
    totals = pd.DataFrame(
        {
            "": ["records in", "standardized", "rejected"],
            "records": [s.get("records_in"), s.get("standardized"), s.get("rejected")],
        }
    )
    body = _table(totals, {"records": "int"}, "narrow")
    if s.get("counts_reconcile") is False:
        body += (
            '<p class="warn">The counts do not reconcile: records in ≠ standardized + rejected.</p>'
        )
    sources = s.get("sources")
    if isinstance(sources, dict) and sources:
        rows = [
            {"input": name, **(v if isinstance(v, dict) else {})} for name, v in sources.items()
        ]
        frame = pd.DataFrame(rows)
        keep = ["input"] + [c for c in ("records_in", "standardized", "rejected") if c in frame]
        body += "<h3>By input</h3>" + _table(frame[keep], dict.fromkeys(keep[1:], "int"))
    by_reason = s.get("rejected_by_reason")
    if not isinstance(by_reason, dict) and run.rejects is not None:
        by_reason = run.rejects["reason"].value_counts().sort_index().to_dict()
    body += "<h3>Rejected records by reason</h3>"
    if by_reason:
        frame = pd.DataFrame({"reason": list(by_reason), "records": list(by_reason.values())})
        body += _table(frame, {"records": "int"}, "narrow")
        body += '<p class="note">Each rejected record, with its file, row and reason, is in rejects.csv.</p>'
    else:
        body += "<p>No record was rejected.</p>"
    return _section("inputs", "Input", body)


def _quality(run: Run) -> str:
    flags = quality_flag_counts(run)
    if flags is None:
        body = _missing(
            "Quality flags are not available: the run folder holds neither a flag count in "
            "summary.json nor a standardized table."
        )
    elif flags.empty:
        body = "<p>No record carries a quality flag.</p>"
    else:
        total = run.summary.get("standardized") or 0
        if total:
            flags = flags.assign(share=(flags["records"] / total).map(lambda v: f"{v:.1%}"))
        body = _table(flags, {"records": "int"}, "narrow")
    return _section(
        "quality",
        "Quality flags",
        body,
        "Soft problems found while standardizing. Flagged records are kept and linked; the flag "
        "tells staff and the comparisons what to trust.",
    )


def _conventions(run: Run) -> str:
    table = conventions.conventions_table(run)
    body = (
        _missing("The naming-convention profile needs the run's standardized records.")
        if table is None
        else _table(table, {"records": "int"}, "narrow")
    )
    return _section("conventions", "Naming conventions", body, conventions.INTRO)


def _zones(run: Run, chart_box: _Charts) -> str:
    s = run.summary
    thresholds = thresholds_of(run)
    per_zone = s.get("pairs_per_zone") or {}
    frame = pd.DataFrame({"zone": list(charts.ZONE_LABELS)})
    frame["pairs"] = [per_zone.get(z) for z in charts.ZONE_LABELS]
    histogram = run.histogram  # every scored pair, counted per zone and weight bin
    if histogram is not None and len(histogram):
        counts = pair_stats.zone_counts(histogram, n_records=s.get("standardized"))
        frame = frame.drop(columns="pairs").merge(counts, on="zone", how="left")
    frame["zone"] = frame["zone"].map(charts.ZONE_LABELS)
    frame = frame.rename(
        columns={"records": "records (best zone)", "expected_matches": "expected true matches"}
    )
    body = ""
    if thresholds:
        body += (
            f"<p>Thresholds: match at match weight ≥ <b>{_e(_fmt(thresholds[0], 'weight'))}</b>, "
            f"near match (review) at ≥ <b>{_e(_fmt(thresholds[1], 'weight'))}</b>.</p>"
        )
    body += _table(
        frame,
        {
            "pairs": "int",
            "records (best zone)": "int",
            "expected true matches": "int",
        },
        "narrow",
    )
    extra = [
        ("comparisons (pairs scored)", s.get("comparisons")),
        ("pairs kept apart by the family guard", s.get("guarded_pairs")),
        ("proposed students (clusters)", s.get("clusters")),
        ("records in multi-record students", s.get("records_in_multi_record_clusters")),
        ("students split for a strong disagreement", s.get("components_split")),
        ("worklist pairs", s.get("worklist_pairs")),
    ]
    extra = [(k, v) for k, v in extra if v is not None]
    if extra:
        body += _table(pd.DataFrame(extra, columns=["", "count"]), {"count": "int"}, "narrow")
    if histogram is not None and len(histogram):
        marks = charts.threshold_marks(*thresholds) if thresholds else None
        bins = pair_stats.weight_bins(histogram)  # zones as the run assigned them
        body += chart_box.add(charts.histogram_chart(bins, marks, log_scale=False))
        body += chart_box.add(charts.sweep_chart(pair_stats.threshold_sweep(histogram), marks))
    else:
        body += _missing("No scored pairs in the run folder: no histogram.")
    return _section(
        "zones",
        "Pairs and records per zone",
        body,
        "A record counts in the best zone any of its pairs reaches. Expected true matches sum "
        "the model's match probabilities.",
    )


def _weights(run: Run, chart_box: _Charts) -> str:
    if run.model_settings is None:
        return _section("weights", "Model weights", _missing("No model.json in the run folder."))
    try:
        body = chart_box.add(charts.model_weights_chart(run.model_settings))
    except Exception as err:  # noqa: BLE001 - a broken model file must not stop the report
        body = _missing(f"The model weights could not be drawn ({type(err).__name__}).")
    return _section(
        "weights",
        "Model weights",
        body,
        "How much each comparison level counts for (right, green) or against (left, red) two "
        "records being the same child. The top bar is the prior the model learnt; the run's "
        "match weights and thresholds leave it out (they weigh the evidence alone).",
    )


def _evidence_lookup(run: Run, pairs: pd.DataFrame) -> pd.DataFrame | None:
    if run.model_settings is None or pairs.empty:
        return None
    try:
        return evidence.pair_evidence(pairs, run.model_settings)
    except ValueError:
        return None


def _record_table(row: pd.Series, redact: bool) -> str:
    """The two records side by side; rows where they differ are highlighted (computed before
    redaction: that a field differs identifies no one)."""
    heads, left, right, differs = [], [], [], []
    for column, heading in RECORD_FIELDS:
        lv, rv = row.get(f"{column}_l"), row.get(f"{column}_r")
        if _blank(lv) and _blank(rv):
            continue
        differs.append(not _same(lv, rv))
        if redact and column not in SHAREABLE_RECORD_FIELDS:
            lv = "" if _blank(lv) else evidence.REDACTED
            rv = "" if _blank(rv) else evidence.REDACTED
        heads.append(heading)
        left.append(lv)
        right.append(rv)
    if not heads:
        return ""
    differs_attr = ' class="differs"'
    cells = "".join(
        f"<tr{differs_attr if d else ''}><th>{_e(h)}</th><td>{_e(a)}</td><td>{_e(b)}</td></tr>"
        for h, a, b, d in zip(heads, left, right, differs, strict=True)
    )
    return (
        '<table class="records"><thead><tr><th></th>'
        f"<th>{_e(row.get('record_id_l'))}</th><th>{_e(row.get('record_id_r'))}</th></tr></thead>"
        f"<tbody>{cells}</tbody></table>"
    )


def _blank(value: Any) -> bool:
    return (
        value is None
        or value is pd.NA
        or (isinstance(value, float) and math.isnan(value))
        or (str(value).strip() == "")
    )


def _same(a: Any, b: Any) -> bool:
    return (_blank(a) and _blank(b)) or (not _blank(a) and not _blank(b) and str(a) == str(b))


def _near_matches(run: Run, redact: bool, top_n: int) -> str:
    worklist = run.worklist
    if worklist is None:
        return _section(
            "near-matches", "Top near matches", _missing("No worklist in the run folder.")
        )
    if worklist.empty:
        return _section("near-matches", "Top near matches", "<p>The worklist is empty.</p>")
    # The worklist also holds match-zone pairs a guard kept apart ("match kept apart"); they
    # outweigh every near match, and listing them first hid the near matches altogether.
    if "zone" in worklist.columns:
        in_zone = worklist["zone"] == NEAR_MATCH_ZONE
    else:  # an older worklist without zones: every pair is a near match
        in_zone = pd.Series(True, index=worklist.index)
    kept_apart = int((~in_zone).sum())
    top = worklist[in_zone].copy()
    top["match_weight"] = pd.to_numeric(top["match_weight"])
    top = top.sort_values("match_weight", ascending=False).head(top_n).reset_index(drop=True)
    note = (
        f'<p class="note">The worklist also holds {kept_apart} match-zone pair(s) kept apart '
        "by a guard; they are in worklist.csv with their reason.</p>"
        if kept_apart
        else ""
    )
    if top.empty:
        return _section(
            "near-matches", "Top near matches", "<p>No pair is in the near-match zone.</p>" + note
        )
    scored = _pairs_for(run, top)
    ev = _evidence_lookup(run, scored) if scored is not None else None
    cards = []
    for i in range(len(top)):  # at most top_n pairs
        row = top.iloc[i]
        facts = [
            f"match weight <b>{_e(_fmt(row.get('match_weight'), 'weight'))}</b>",
            f"probability {_e(_fmt(_num(row.get('match_probability')), 'prob'))}",
        ]
        if not _blank(row.get("grade")):
            facts.append(f"grade {_e(row.get('grade'))}")
        if not _blank(row.get("reason")):
            facts.append(_e(row.get("reason")))
        card = (
            f'<div class="pair"><h3>{_e(row.get("record_id_l"))} ↔ {_e(row.get("record_id_r"))}</h3>'
            f'<p class="facts">{" · ".join(facts)}</p><div class="side">'
        )
        card += _record_table(row, redact)
        if ev is not None:
            mine = ev[
                (ev["record_id_l"] == str(row.get("record_id_l")))
                & (ev["record_id_r"] == str(row.get("record_id_r")))
            ]
            if len(mine):
                card += _evidence_table(mine, _num(row.get("match_weight")))
        card += "</div></div>"
        cards.append(card)
    intro = (
        f"The {len(top)} near matches with the highest match weight: the ones a reviewer "
        "should see first. Evidence: the comparison level each pair reached and its weight."
    )
    if redact:
        intro += " Names, birth dates and other identifying values are redacted."
    return _section("near-matches", "Top near matches", note + "".join(cards), intro)


def _num(value: Any) -> float | None:
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


def _evidence_table(ev: pd.DataFrame, total: float | None) -> str:
    """Comparison levels reached and their weights, plus the remainder of the pair's weight
    (term-frequency adjustments: a rare name agreeing counts more than a common one)."""
    items = list(zip(ev["comparison"], ev["level"], ev["match_weight"], strict=True))
    if total is not None:
        rest = total - float(ev["match_weight"].fillna(0).sum())
        if abs(rest) >= 0.005:
            items.append(
                ("adjustments", "term-frequency adjustments (rare values count more)", rest)
            )
    rows = []
    for comparison, level, w in items:  # one row per comparison
        cls = "pos" if w and w > 0 else "neg" if w and w < 0 else "zero"
        width = min(abs(w or 0) * 4, 60)
        bar = f'<span class="bar {cls}" style="width:{width:.0f}px"></span>'
        rows.append(
            f"<tr><td>{_e(comparison)}</td><td>{_e(level)}</td>"
            f'<td class="num">{_e(_fmt(w, "weight"))}</td><td>{bar}</td></tr>'
        )
    if total is not None:
        rows.append(
            f'<tr class="total"><td>total</td><td>match weight</td>'
            f'<td class="num">{_e(_fmt(total, "weight"))}</td><td></td></tr>'
        )
    return (
        '<table class="evidence"><thead><tr><th>comparison</th><th>level reached</th>'
        f"<th>weight</th><th></th></tr></thead><tbody>{''.join(rows)}</tbody></table>"
    )


def _pairs_for(run: Run, wanted: pd.DataFrame) -> pd.DataFrame | None:
    """The scored pairs (with gamma columns) of the wanted record-id pairs."""
    if run.pairs is None:
        return None
    keys = wanted[["record_id_l", "record_id_r"]].astype(str)
    pairs = run.pairs.assign(
        record_id_l=run.pairs["record_id_l"].astype(str),
        record_id_r=run.pairs["record_id_r"].astype(str),
    )
    return pairs.merge(keys, on=["record_id_l", "record_id_r"], how="inner")


def _birth_date_conflicts(run: Run, redact: bool, top_n: int) -> str:
    title = "Birth-date conflicts"
    intro = (
        "Pairs in the match or near-match zone whose birth dates differ. Per the records "
        "exchange guide, look at the other evidence (sex, parents) and agree the true date with "
        "the other state, preferring the state that holds a birth certificate."
    )
    if run.pairs is None or run.model_settings is None:
        return _section("birth-dates", title, _missing("Needs the pairs table and model.json."))
    levels = evidence.level_table(run.model_settings)
    dob = levels[levels["comparison"] == BIRTH_DATE_COMPARISON]
    gamma_column = f"gamma_{BIRTH_DATE_COMPARISON}"
    if dob.empty or gamma_column not in run.pairs.columns:
        return _section("birth-dates", title, _missing("The model has no birth_date comparison."))
    short = dob["level"].str.split(":", n=1).str[0].str.strip()
    same = dob.loc[dob["is_null_level"] | short.isin(SAME_BIRTH_DATE_LEVELS), "gamma"]
    pairs = run.pairs
    in_zone = pairs["zone"].isin(REVIEW_ZONES) if "zone" in pairs.columns else True
    gamma = pd.to_numeric(pairs[gamma_column])
    conflicts = pairs[in_zone & ~gamma.isin(set(same))].copy()
    if conflicts.empty:
        return _section(
            "birth-dates",
            title,
            "<p>No match or near-match pair has differing birth dates.</p>",
            intro,
        )
    conflicts["gamma"] = pd.to_numeric(conflicts[gamma_column]).astype(int)
    conflicts = conflicts.merge(dob[["gamma", "level"]], on="gamma", how="left")
    by_level = (
        conflicts.groupby(["level", "zone"]).size().unstack("zone", fill_value=0).reset_index()
    )
    for zone in REVIEW_ZONES:
        if zone not in by_level.columns:
            by_level[zone] = 0
    by_level = by_level.rename(columns={"level": "how the birth dates differ"})
    body = _table(
        by_level[["how the birth dates differ", *REVIEW_ZONES]],
        dict.fromkeys(REVIEW_ZONES, "int"),
    )
    listed = conflicts.sort_values("match_weight", ascending=False).head(top_n)
    listed = listed[["record_id_l", "record_id_r", "zone", "match_weight", "level"]].copy()
    listed["level"] = listed["level"].str.split(":", n=1).str[0]
    listed["record_id_l"] = listed["record_id_l"].astype(str)
    listed["record_id_r"] = listed["record_id_r"].astype(str)
    dates = _birth_dates(run)
    if dates is not None:
        for side in ("l", "r"):
            shown = listed[f"record_id_{side}"].map(dates)
            if redact:
                shown = shown.where(shown.isna(), evidence.REDACTED)
            listed[f"birth date ({side})"] = shown
        if listed[["birth date (l)", "birth date (r)"]].isna().all().all():
            listed = listed.drop(columns=["birth date (l)", "birth date (r)"])
    body += f"<h3>The {len(listed)} strongest</h3>" + _table(
        listed.rename(columns={"level": "birth dates", "match_weight": "weight"}),
        {"weight": "weight"},
        "list",
    )
    return _section("birth-dates", title, body, intro)


def _birth_dates(run: Run) -> pd.Series | None:
    """record_id -> standardized birth date, from the standardized table when the run has it,
    else from the worklist (which holds both records of each pair it lists)."""
    std = run.standardized
    if std is not None and {"record_id", "birth_date_std"} <= set(std.columns):
        ids = std.assign(record_id=std["record_id"].astype(str))
        return ids.drop_duplicates("record_id").set_index("record_id")["birth_date_std"]
    wl = run.worklist
    if wl is None or "birth_date_std_l" not in wl.columns:
        return None
    both = pd.concat(
        [
            pd.DataFrame({"id": wl["record_id_l"], "d": wl["birth_date_std_l"]}),
            pd.DataFrame({"id": wl["record_id_r"], "d": wl["birth_date_std_r"]}),
        ]
    )
    both["id"] = both["id"].astype(str)
    return both.drop_duplicates("id").set_index("id")["d"]


def _timings(run: Run, chart_box: _Charts) -> str:
    timings = run.summary.get("timings")
    if not isinstance(timings, dict) or not timings:
        return _section("timings", "Timings", _missing("The summary holds no timings."))
    frame = pd.DataFrame({"stage": list(timings), "seconds": [float(v) for v in timings.values()]})
    total = pd.DataFrame({"stage": ["total"], "seconds": [frame["seconds"].sum()]})
    body = _table(pd.concat([frame, total], ignore_index=True), {"seconds": "sec"}, "narrow")
    body += chart_box.add(charts.timings_chart(timings))
    return _section("timings", "Timings", body)


# ---------------------------------------------------------------------------------------------
# The page
# ---------------------------------------------------------------------------------------------


def _template() -> Template:
    text = resources.files("migrant_linkage.report").joinpath("template.html").read_text("utf-8")
    return Template(text)


def render_report(run: Run, *, redact: bool = False, top_n: int = 10) -> str:
    """The report of `run` as one HTML document (charts' JavaScript inline, nothing fetched)."""
    chart_box = _Charts()
    sections = [
        _inputs(run),
        _quality(run),
        _conventions(run),
        _zones(run, chart_box),
        _weights(run, chart_box),
        _near_matches(run, redact, top_n),
        _birth_date_conflicts(run, redact, top_n),
        _timings(run, chart_box),
    ]
    if run.notes:
        notes = "".join(f"<li>{_e(n)}</li>" for n in run.notes)
        sections.append(_section("notes", "Not shown", f"<ul>{notes}</ul>"))
    job = run.summary.get("job", "run")
    model = run.summary.get("model")
    subtitle = f"{job} · model: {model}" if model else str(job)
    generated = dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC")
    banner = (
        '<p class="banner">Redacted: names, birth dates and other identifying values are '
        "replaced. Record ids remain, so staff with access can look the records up.</p>"
        if redact
        else '<p class="banner private">Contains student names and birth dates: share only '
        "with staff entitled to see them (FERPA). Use --redact for a shareable copy.</p>"
    )
    return _template().substitute(
        title=_e(f"migrant-linkage run report: {run.folder.name}"),
        heading=_e(run.folder.name),
        subtitle=_e(subtitle),
        generated=_e(generated),
        banner=banner,
        libraries=charts.library_scripts() if chart_box.count else "",
        body="".join(sections),
    )


def write_report(
    run_dir: str | Path,
    *,
    redact: bool = False,
    out_path: str | Path | None = None,
    standardized: pd.DataFrame | None = None,
    top_n: int = 10,
) -> Path:
    """Write the HTML report of the run in `run_dir` to `out_path` (default
    RUN_DIR/report.html, or report-redacted.html with `redact`) and return its path.

    `standardized` (e.g. Result.standardized) supplies the quality-flag counts when the run
    folder lacks them. The file is written atomically and private (io.write_text_atomic)."""

    run = load_run(run_dir, standardized=standardized)
    text = render_report(run, redact=redact, top_n=top_n)
    default_name = "report-redacted.html" if redact else "report.html"
    target = Path(out_path) if out_path is not None else run.folder / default_name
    return write_text_atomic(target, text)  # whole or not at all, and 0600
