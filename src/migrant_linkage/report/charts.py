"""Charts as Vega-Lite specifications that draw offline.

A `Chart` is a Vega-Lite spec (a dict). It renders in three places:

- a notebook (`_repr_mimebundle_`): JupyterLab and VS Code draw the Vega-Lite mime type with
  their own bundled renderer; other front ends get an HTML fallback with the libraries inline;
- a stand-alone HTML file (`Chart.save`), with the Vega libraries inline;
- the run report, which inlines the libraries once and embeds many charts.

Nothing is fetched from a CDN. The Vega, Vega-Lite and vega-embed builds are the ones Splink
ships for its own offline charts (`splink/internals/files/external_js`), so there is no second
copy to keep in step. Where Splink has a chart for the job (model weights, waterfall, accuracy)
we take Splink's spec and only add our thresholds to it.
"""

from __future__ import annotations

import copy
import json
import math
from collections.abc import Mapping, Sequence
from decimal import Decimal
from typing import Any

import numpy as np
import pandas as pd

#: Colours of the three zones, used by every chart and table so a zone looks the same everywhere.
ZONE_COLOURS: dict[str, str] = {
    "match": "#1a7f37",
    "near_match": "#d4a017",
    "non_match": "#8c959f",
}
ZONE_LABELS: dict[str, str] = {
    "match": "match (auto-merge)",
    "near_match": "near match (review)",
    "non_match": "non-match",
}

VEGA_LITE_SCHEMA = "https://vega.github.io/schema/vega-lite/v5.json"
_VEGA_LITE_MIME = "application/vnd.vegalite.v5+json"


def _json_default(value: Any) -> Any:
    if isinstance(value, Decimal | np.floating):
        return float(value)
    if isinstance(value, np.integer):
        return int(value)
    if isinstance(value, np.bool_):
        return bool(value)
    if isinstance(value, pd.Timestamp):
        return value.isoformat()
    raise TypeError(f"cannot put a {type(value).__name__} into a chart")


def _clean(value: Any) -> Any:
    """NaN and infinities are not JSON; Vega reads null as missing."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _clean(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_clean(v) for v in value]
    return value


def json_for_script(value: Any) -> str:
    """JSON safe inside a <script> element: '<', '>' and '&' are escaped, so a value such as
    '</script><script>...' cannot close the element (names are data, never markup)."""
    text = json.dumps(_clean(value), default=_json_default, allow_nan=False)
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


def vega_libraries() -> dict[str, str]:
    """The Vega, Vega-Lite and vega-embed JavaScript that Splink ships, keyed by name."""
    from splink.internals.html_utils import load_chart_libraries

    return load_chart_libraries()


def library_scripts() -> str:
    """<script> elements holding the three libraries inline (about 0.8 MB)."""
    libs = vega_libraries()
    return "".join(
        f"<script>{libs[name]}</script>\n" for name in ("vega", "vega-lite", "vega-embed")
    )


def embed_script(div_id: str, spec: Mapping[str, Any]) -> str:
    """A <script> that draws `spec` into the element `div_id`; errors go to the console and
    into the element, so a broken chart is visible rather than blank."""
    return (
        "<script>\n"
        f"vegaEmbed(document.getElementById({json.dumps(div_id)}), {json_for_script(spec)},"
        ' {"actions": false, "renderer": "svg"}).catch(function (err) {\n'
        f"  var el = document.getElementById({json.dumps(div_id)});\n"
        "  el.textContent = 'Chart error: ' + (err.message || err);\n"
        "  console.error(err);\n"
        "});\n"
        "</script>\n"
    )


class Chart:
    """A Vega-Lite chart that draws without a network connection.

    >>> chart.save("weights.html")          # one self-contained file
    >>> chart                               # in a notebook: drawn in place
    """

    def __init__(self, spec: Mapping[str, Any], title: str = "chart"):
        self.spec: dict[str, Any] = copy.deepcopy(dict(spec))
        self.title = title

    def to_html(self) -> str:
        """A complete HTML document with the libraries inline."""
        from html import escape

        return (
            '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
            f"<title>{escape(self.title)}</title></head><body>\n"
            + self.fragment("chart", include_libraries=True)
            + "</body></html>\n"
        )

    def fragment(self, div_id: str, *, include_libraries: bool = False) -> str:
        """The chart as an HTML fragment: a <div> and its drawing script."""
        from html import escape

        scripts = library_scripts() if include_libraries else ""
        return (
            scripts
            + f'<div id="{escape(div_id)}" class="chart" data-chart="{escape(self.title)}"></div>\n'
            + embed_script(div_id, self.spec)
        )

    def save(self, path: Any) -> None:
        """Write the chart as one HTML file, atomically and private to its owner like every
        output (io.write_text_atomic): a waterfall chart can show a pair's values."""
        from migrant_linkage.io import write_text_atomic

        write_text_atomic(path, self.to_html())

    def _repr_mimebundle_(self, include: Any = None, exclude: Any = None) -> dict[str, Any]:
        from uuid import uuid4

        div_id = "ml-chart-" + uuid4().hex
        return {
            _VEGA_LITE_MIME: _clean(self.spec),
            "text/html": self.fragment(div_id, include_libraries=True),
            "text/plain": f"<Chart: {self.title}>",
        }

    def __repr__(self) -> str:
        return f"<Chart: {self.title}>"


# ---------------------------------------------------------------------------------------------
# Threshold marks shared by our charts
# ---------------------------------------------------------------------------------------------


def _threshold_rules(thresholds: Mapping[str, float] | None, *, axis: str = "x") -> list[dict]:
    """Dashed rules with a label, one per named threshold. The lowest threshold's label sits
    left of its line and the others' right of theirs, so two close thresholds (review 12,
    match 20) never write a label across the other line."""
    if not thresholds:
        return []
    values = [{"name": name, "value": float(v)} for name, v in thresholds.items()]
    numbers = [float(v) for v in thresholds.values()]
    lowest = numbers.index(min(numbers))
    layers: list[dict] = [
        {
            "data": {"values": values},
            "mark": {"type": "rule", "strokeDash": [6, 4], "strokeWidth": 2, "color": "#24292f"},
            "encoding": {axis: {"field": "value", "type": "quantitative"}},
        }
    ]
    for i, value in enumerate(values):
        before = i == lowest and len(values) > 1
        layers.append(
            {
                "data": {"values": [value]},
                "mark": {
                    "type": "text",
                    "align": "right" if before else "left",
                    "baseline": "top",
                    "dx": -4 if before else 4,
                    "dy": 4,
                    "fontSize": 12,
                    "fontWeight": "bold",
                    "color": "#24292f",
                },
                "encoding": {
                    axis: {"field": "value", "type": "quantitative"},
                    "y" if axis == "x" else "x": {"value": 0},
                    "text": {"field": "name", "type": "nominal"},
                },
            }
        )
    return layers


def symlog_ticks(largest: float) -> list[float]:
    """Axis values for a symlog count axis: 0, 1, 2, 5, 10, 20, 50, ... up to `largest`.
    Vega picks too few ticks on a symlog scale (none between 0 and 1,000 on a typical run,
    exactly where the false-match curve lies), so the values are given."""
    ticks: list[float] = [0]
    decade = 1
    while decade <= max(largest, 1):
        ticks.extend(t for t in (decade, 2 * decade, 5 * decade) if t <= max(largest, 1))
        decade *= 10
    return ticks


def threshold_marks(match_weight: float, review_weight: float) -> dict[str, float]:
    return {f"match ≥ {match_weight:g}": match_weight, f"review ≥ {review_weight:g}": review_weight}


# ---------------------------------------------------------------------------------------------
# Our charts
# ---------------------------------------------------------------------------------------------


def histogram_chart(
    bins: pd.DataFrame, thresholds: Mapping[str, float] | None = None, *, log_scale: bool = True
) -> Chart:
    """Bars of pair counts per match-weight bin, coloured by zone.

    `bins` has columns bin_low, bin_high, zone, pairs (see pair_stats.weight_bins)."""
    zones = [z for z in ZONE_COLOURS if z in set(bins["zone"])]
    bins = bins.assign(zone_label=bins["zone"].map(ZONE_LABELS).fillna(bins["zone"]))
    spec = {
        "$schema": VEGA_LITE_SCHEMA,
        "title": {
            "text": "Match weights of the compared pairs",
            "subtitle": "Each bar counts pairs, coloured by the zone the run gave them "
            "(a guard can keep a pair out of a zone); dashed lines are the thresholds",
        },
        "width": 620,
        "height": 260,
        "layer": [
            {
                "data": {"values": bins.to_dict("records")},
                "mark": {"type": "bar", "binSpacing": 0},
                "encoding": {
                    "x": {
                        "field": "bin_low",
                        "type": "quantitative",
                        "bin": "binned",
                        "title": "Match weight (log2 odds the two records are the same child)",
                    },
                    "x2": {"field": "bin_high"},
                    "y": {
                        "field": "pairs",
                        "type": "quantitative",
                        "title": "Pairs" + (" (log scale)" if log_scale else ""),
                        "scale": {"type": "symlog"} if log_scale else {},
                        **(
                            {"axis": {"values": symlog_ticks(float(bins["pairs"].max() or 1))}}
                            if log_scale and len(bins)
                            else {}
                        ),
                        # A log scale cannot stack; a bin straddling a threshold overlays.
                        "stack": None if log_scale else "zero",
                    },
                    "color": {
                        "field": "zone_label",
                        "type": "nominal",
                        "title": "Zone",
                        "scale": {
                            "domain": [ZONE_LABELS[z] for z in zones],
                            "range": [ZONE_COLOURS[z] for z in zones],
                        },
                    },
                    "tooltip": [
                        {"field": "bin_low", "title": "from", "format": ".1f"},
                        {"field": "bin_high", "title": "to", "format": ".1f"},
                        {"field": "zone", "title": "zone"},
                        {"field": "pairs", "title": "pairs", "format": ","},
                    ],
                },
            },
            *_threshold_rules(thresholds),
        ],
    }
    return Chart(spec, title="match-weight histogram")


def sweep_chart(sweep: pd.DataFrame, thresholds: Mapping[str, float] | None = None) -> Chart:
    """Pairs, records and expected true matches at or above each candidate threshold.

    `sweep` is pair_stats.threshold_sweep's table."""
    series = {
        "pairs": "pairs at or above",
        "records": "records in those pairs",
        "expected_matches": "expected true matches (sum of probabilities)",
        "expected_false_matches": "expected false matches",
    }
    long = sweep.melt(
        id_vars=["threshold"],
        value_vars=[c for c in series if c in sweep.columns],
        var_name="measure",
        value_name="count",
    )
    long["measure"] = long["measure"].map(series)
    spec = {
        "$schema": VEGA_LITE_SCHEMA,
        "title": {
            "text": "What each threshold would take in",
            "subtitle": "Counts at or above a candidate threshold (no labels needed)",
        },
        "width": 620,
        "height": 280,
        "layer": [
            {
                "data": {"values": long.to_dict("records")},
                "mark": {"type": "line", "interpolate": "step-after", "point": False},
                "encoding": {
                    "x": {"field": "threshold", "type": "quantitative", "title": "Match weight"},
                    "y": {
                        "field": "count",
                        "type": "quantitative",
                        "title": "Count (log scale)",
                        "scale": {"type": "symlog"},
                        "axis": {
                            "values": symlog_ticks(float(long["count"].max()) if len(long) else 1),
                            "format": "~s",
                        },
                    },
                    "color": {
                        "field": "measure",
                        "type": "nominal",
                        "title": None,
                        "legend": {"labelLimit": 320, "orient": "bottom", "columns": 2},
                    },
                    "tooltip": [
                        {"field": "measure"},
                        {"field": "threshold", "format": ".2f"},
                        {"field": "count", "format": ",.1f"},
                    ],
                },
            },
            *_threshold_rules(thresholds),
        ],
    }
    return Chart(spec, title="threshold sweep")


def timings_chart(timings: Mapping[str, float]) -> Chart:
    values = [{"stage": k, "seconds": float(v)} for k, v in timings.items()]
    spec = {
        "$schema": VEGA_LITE_SCHEMA,
        "title": "Time per stage",
        "width": 420,
        "height": {"step": 22},
        "data": {"values": values},
        "mark": "bar",
        "encoding": {
            "y": {"field": "stage", "type": "nominal", "sort": None, "title": None},
            "x": {"field": "seconds", "type": "quantitative", "title": "seconds"},
            "tooltip": [{"field": "stage"}, {"field": "seconds", "format": ".2f"}],
        },
    }
    return Chart(spec, title="timings")


# ---------------------------------------------------------------------------------------------
# Splink's charts, fed with our data
# ---------------------------------------------------------------------------------------------


def _from_splink(spec: dict[str, Any], title: str) -> Chart:
    """Splink's specs name a newer Vega-Lite schema than the runtime Splink bundles (5.2), and
    vega-embed warns about it on every chart; they draw fine with 5.2, so name plain v5."""
    spec["$schema"] = VEGA_LITE_SCHEMA
    return Chart(spec, title=title)


def accuracy_chart(
    table: pd.DataFrame,
    thresholds: Mapping[str, float] | None = None,
    metrics: Sequence[str] = ("f1",),
) -> Chart:
    """Splink's "link quality evaluation" chart (precision, recall and `metrics` against the
    match-weight threshold), with our thresholds drawn on it and every metric shown at first.

    `table` is tuning.accuracy_by_threshold's table."""
    from splink.internals.charts import AccuracyChart

    records = table.rename(columns={"threshold": "truth_threshold"}).to_dict("records")
    splink_chart = AccuracyChart(_clean(records), add_metrics=list(metrics))
    spec = splink_chart.chart_dict
    spec["title"]["text"] = "Precision, recall and F1 against the match-weight threshold"
    spec["title"]["fontSize"] = 16
    spec["width"], spec["height"] = 620, 360
    shown = [{"metric": m} for m in ("precision", "recall", *metrics)]
    for layer in spec["layer"][0].get("layer", []):
        for param in layer.get("params", []):
            if param.get("bind") == "legend":
                param["value"] = shown
    spec["layer"][0]["encoding"]["y"]["scale"] = {"zero": False}
    spec["layer"].extend(_threshold_rules(thresholds))
    return _from_splink(spec, "accuracy by threshold")


def waterfall_chart(records: list[dict[str, Any]]) -> Chart:
    """Splink's waterfall chart for records built by evidence.waterfall_records."""
    from splink.internals.charts import WaterfallChart

    splink_chart = WaterfallChart(records, filter_nulls=False)
    spec = splink_chart.chart_dict
    # One pair per chart: the record-number slider would only confuse.
    spec["params"][0].pop("bind", None)
    return _from_splink(spec, "waterfall")


def model_weights_chart(settings: Mapping[str, Any]) -> Chart:
    """Splink's match-weights chart of a trained model (the settings JSON)."""
    from migrant_linkage.report.evidence import _splink_settings

    spec = _splink_settings(settings).match_weights_chart().chart_dict
    # Splink cuts level labels at 270 px ("given names: first given name and paternal su...");
    # ours are longer, and the label is what a data specialist reads.
    for part in spec.get("vconcat", []):
        axis = part.get("encoding", {}).get("y", {}).get("axis")
        if isinstance(axis, dict):
            axis["labelLimit"] = 0  # no limit
            axis.pop("maxExtent", None)
    return _from_splink(spec, "model weights")
