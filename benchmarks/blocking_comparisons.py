"""Blocking alone: pairs completeness (the share of true pairs compared) and comparisons per record.

    python benchmarks/blocking_comparisons.py --students 35000
    flock /tmp/heavy.lock python benchmarks/blocking_comparisons.py --students 35000 350000
    python benchmarks/blocking_comparisons.py --per-rule --records 10000 100000

For each data set (our generator at each `--students`; the outside sets of
benchmarks/external.py, through its loaders: FEBRL1, FEBRL2, FEBRL4 linked across its two files,
pseudopeople's WIC, and ACS and CPS each with the 2020 census) the records are standardized with
`migrant_linkage.standardize.standardize` and three blockings are run on the same table:

* `baseline`: the rules at 4c569a1 (frozen below, so the comparison survives later changes);
* `ours`: `blocking.prediction_blocking_rules()` as the engine runs them
  (`blocking.candidate_pairs_sql`);
* `generic`: what a generic Splink user blocks on (benchmarks/generic_splink.py: first name +
  birth date, surname + birth date, first name + surname, on its own preprocessing).

For each: the true pairs (records of one person), the share found (pairs completeness), the
candidate pairs per record and the blocking time. On our generator the completeness is also
split by error kind: a true pair counts under each error code either of its records carries
(`true_error_types`), so one pair can count under two kinds. `--per-rule` prints the older
table: comparisons each rule adds per record, as the population grows.
"""

from __future__ import annotations

import argparse
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import duckdb
import pandas as pd
from splink import DuckDBAPI, block_on
from splink.blocking_analysis import count_comparisons_from_blocking_rules

from migrant_linkage import blocking, synthetic
from migrant_linkage.standardize import standardize

sys.path.insert(0, str(Path(__file__).resolve().parent))
from external import LOADERS, load_set  # noqa: E402
from generic_splink import PREDICTION_BLOCKS, prepare  # noqa: E402

RECORDS_PER_CHILD = 2.85  # the generator's default mean, measured


# --------------------------------------------------------------------------------------------
# The data sets: a raw frame in the record contract plus a `_truth` column (one value a person).
# --------------------------------------------------------------------------------------------


@dataclass
class BlockingSet:
    """Records in the record contract, each with `_truth` (one value a person); a linkage set
    also names its left file's record ids (pairs across the two files only)."""

    name: str
    raw: pd.DataFrame
    date_format: str | None = None
    left_ids: pd.Index | None = None
    by_error: bool = False


def synthetic_set(students: int, seed: int) -> BlockingSet:
    frame = synthetic.generate(students, seed=seed)
    name = f"synthetic {students:,} children"
    return BlockingSet(name, frame.assign(_truth=frame["true_student_id"]), by_error=True)


def outside_set(name: str) -> BlockingSet:
    """An outside set from benchmarks/external.py (its loaders, its mapping onto the contract)."""
    data = load_set(name)
    truth = data.truth.set_index("record_id")["true_student_id"]
    raw = data.records.assign(_truth=data.records["record_id"].map(truth).to_numpy())
    return BlockingSet(data.name, raw, data.date_format, data.left_ids)


# --------------------------------------------------------------------------------------------
# Measuring
# --------------------------------------------------------------------------------------------


def _rules_at_4c569a1() -> list[blocking.BlockingRuleLike]:
    """The prediction rules as they were at 4c569a1, for the before/after columns."""
    b = blocking
    surname_or_parent = (b.SURNAME_SHARED, b.PARENT_SHARED)
    given_or_parent = (b.GIVEN_NAME_SHARED, b.PARENT_SHARED, b.SURNAMES_EQUAL)
    compatible = b.MATERNAL_SURNAME_COMPATIBLE
    corroborated = b._corroborated
    missing = b._when_a_birth_date_missing
    return [
        corroborated(block_on("birth_date_std", "given_name_1_canonical"), *surname_or_parent),
        corroborated(block_on("birth_date_std", "surname_paternal"), *given_or_parent),
        corroborated(block_on("birth_date_std", "surname_maternal"), *given_or_parent),
        *(
            corroborated(rule, *given_or_parent)
            for rule in b._cross("surname_paternal", "surname_maternal", "birth_date_std")
        ),
        corroborated(
            "l.birth_date_std = r.birth_date_transposed "
            "AND l.surname_paternal = r.surname_paternal",
            *given_or_parent,
        ),
        corroborated(
            "l.birth_date_std = r.birth_date_transposed "
            "AND l.given_name_1_canonical = r.given_name_1_canonical",
            *surname_or_parent,
        ),
        corroborated(
            block_on("birth_year", "given_name_1_canonical", "surname_paternal_phonetic"),
            b.BIRTH_MONTH_OR_DAY_SHARED,
            b.PARENT_SHARED,
            b.SURNAMES_EQUAL,
            and_=compatible,
        ),
        corroborated(
            block_on("birth_month", "birth_day", "given_name_1_canonical", "surname_paternal"),
            compatible,
        ),
        corroborated(
            block_on(
                "given_name_1_canonical", "surname_paternal", "parent_given_a", "parent_given_b"
            ),
            compatible,
        ),
        block_on("birth_date_std", "given_name_1_phonetic", "surname_paternal_phonetic"),
        *missing(block_on("given_name_1_canonical", "surname_paternal", "surname_maternal")),
        *missing(block_on("given_name_1_canonical", "surname_paternal_phonetic", "parent_given_a")),
        *missing(
            block_on("given_name_1_canonical", "parent_given_a", "parent_given_b"),
            b.SURNAME_SHARED,
        ),
        corroborated(
            block_on("birth_year", "given_name_1_canonical", "parent_given_a", "parent_given_b"),
            b.SURNAME_SHARED,
        ),
        *missing(
            block_on("surname_paternal_phonetic", "parent_given_a", "parent_given_b"),
            b.GIVEN_NAME_SHARED,
            b.SURNAMES_EQUAL,
        ),
        corroborated(
            block_on(
                "surname_paternal_phonetic", "parent_given_a", "parent_given_b", "birth_month"
            ),
            b.GIVEN_NAME_SHARED,
        ),
        block_on("msix_id_std"),
    ]


def _true_pairs(con: duckdb.DuckDBPyConnection, table: str) -> None:
    con.execute(
        "CREATE OR REPLACE TEMP TABLE true_pairs AS "
        f"SELECT l.record_id AS join_key_l, r.record_id AS join_key_r FROM {table} l "
        f"JOIN {table} r ON l._truth = r._truth AND l.record_id < r.record_id"
    ).fetchall()


def _found(con: duckdb.DuckDBPyConnection, candidates_sql: str) -> tuple[int, int, float]:
    """(candidate pairs, true pairs among them, seconds); leaves table `found` (true pairs,
    with a `hit` flag)."""
    started = time.perf_counter()
    con.execute(f"CREATE OR REPLACE TEMP TABLE candidates AS {candidates_sql}").fetchall()
    seconds = time.perf_counter() - started
    con.execute(
        "CREATE OR REPLACE TEMP TABLE found AS SELECT t.*, c.join_key_l IS NOT NULL AS hit "
        "FROM true_pairs t LEFT JOIN candidates c USING (join_key_l, join_key_r)"
    ).fetchall()
    (n,) = con.execute("SELECT count(*) FROM candidates").fetchall()[0]
    (hits,) = con.execute("SELECT count(*) FILTER (hit) FROM found").fetchall()[0]
    return n, hits, seconds


def _generic_candidates_sql(table: str, rules: list[object]) -> str:
    joins = " UNION ".join(
        f"SELECT l.record_id AS join_key_l, r.record_id AS join_key_r FROM {table} l "
        f"JOIN {table} r ON ({blocking.rule_sql(rule)}) AND l.record_id < r.record_id"
        for rule in rules
    )
    return f"SELECT DISTINCT * FROM ({joins})"


def _linked(rules: list[object], left_ids: pd.Index | None) -> list[object]:
    """For a linkage set, each rule also requires the records to come from different files (as
    the engine's link does)."""
    if left_ids is None:
        return list(rules)
    return [f"({blocking.rule_sql(rule)}) AND l._link_side <> r._link_side" for rule in rules]


def measure(data: BlockingSet) -> list[dict[str, object]]:
    """One row per blocking (and per error kind, when the set carries error codes)."""
    name, raw = data.name, data.raw
    if data.left_ids is not None:
        raw = raw.assign(
            _link_side=raw["record_id"].isin(data.left_ids).map({True: "a", False: "b"})
        )
    standardized = standardize(raw, source_name="blocking").standardized
    con = duckdb.connect()
    con.register("_std", standardized)
    con.execute("CREATE TABLE ml_records AS SELECT * FROM _std").fetchall()
    generic = prepare(raw, date_format=data.date_format).assign(
        _truth=raw["_truth"].astype("string").to_numpy()
    )
    if data.left_ids is not None:
        generic["_link_side"] = raw["_link_side"].to_numpy()
    con.register("_generic", generic)
    con.execute("CREATE TABLE generic_records AS SELECT * FROM _generic").fetchall()
    records = len(standardized)
    _true_pairs(con, "ml_records")
    (true,) = con.execute("SELECT count(*) FROM true_pairs").fetchall()[0]

    rows: list[dict[str, object]] = []
    side = data.left_ids
    ours = _linked(blocking.prediction_blocking_rules(), side)
    runs = (
        (
            "baseline",
            blocking.candidate_pairs_sql("ml_records", _linked(_rules_at_4c569a1(), side)),
        ),
        ("ours", blocking.candidate_pairs_sql("ml_records", ours)),
        ("generic", _generic_candidates_sql("generic_records", _linked(PREDICTION_BLOCKS, side))),
    )
    for label, sql in runs:
        n, hits, seconds = _found(con, sql)
        row = {"data set": name, "records": records, "true pairs": true, "blocking": label}
        row |= {
            "completeness": hits / true if true else float("nan"),
            "missed": true - hits,
            "candidates per record": n / records,
            "seconds": seconds,
        }
        rows.append(row)
        if data.by_error:
            rows.extend(_by_error(con, standardized, name, label))
    con.close()
    return rows


def _by_error(
    con: duckdb.DuckDBPyConnection, standardized: pd.DataFrame, name: str, label: str
) -> list[dict[str, object]]:
    errors = standardized[["record_id", "true_error_types"]].astype("string")
    con.register("_errors", errors)
    per_kind = con.execute(
        """
        WITH codes AS (
            SELECT record_id, unnest(string_split(coalesce(true_error_types, 'NONE'), ';')) AS code
            FROM _errors
        ),
        pair_codes AS (
            SELECT f.join_key_l, f.join_key_r, f.hit, c.code FROM found f
            JOIN codes c ON c.record_id = f.join_key_l
            UNION
            SELECT f.join_key_l, f.join_key_r, f.hit, c.code FROM found f
            JOIN codes c ON c.record_id = f.join_key_r
        )
        SELECT code, count(*) AS pairs, avg(hit::INT) AS completeness
        FROM pair_codes GROUP BY code ORDER BY code
        """
    ).fetchall()
    return [
        {"data set": name, "blocking": label, "error kind": code, "true pairs": pairs}
        | {"completeness": completeness, "missed": round(pairs * (1 - completeness))}
        for code, pairs, completeness in per_kind
    ]


# --------------------------------------------------------------------------------------------
# The per-rule table (comparisons each rule adds as the population grows)
# --------------------------------------------------------------------------------------------


def count_per_rule(records: int, seed: int) -> tuple[int, list[int], float]:
    frame = synthetic.generate(max(1, round(records / RECORDS_PER_CHILD)), seed=seed)
    standardized = standardize(frame, source_name="synthetic").standardized
    started = time.perf_counter()
    rows = count_comparisons_from_blocking_rules(
        DuckDBAPI().register(standardized),
        blocking_rules=blocking.prediction_blocking_rules(),
        link_type="dedupe_only",
        unique_id_column_name="record_id",
        record_sample_proportion=1.0,
    )
    seconds = time.perf_counter() - started
    return len(standardized), [int(r["marginal_comparison_count"]) for r in rows], seconds


def per_rule_table(sizes: list[int], seed: int) -> None:
    results = [count_per_rule(n, seed) for n in sizes]
    header = " | ".join(f"{n:,} records" for n, _, _ in results)
    print(f"| rule | {header} |")
    print("|---|" + "---:|" * len(results))
    for i, sql in enumerate(blocking.rule_descriptions()):
        cells = " | ".join(f"{per_rule[i] / n:.3f}" for n, per_rule, _ in results)
        print(f"| {i}: `{sql}` | {cells} |")
    totals = " | ".join(f"**{sum(per_rule) / n:.2f}**" for n, per_rule, _ in results)
    print(f"| comparisons per record | {totals} |")


# --------------------------------------------------------------------------------------------


def _markdown(rows: list[dict[str, object]], columns: list[str]) -> str:
    def cell(value: object) -> str:
        if isinstance(value, float):
            return f"{value:.4f}" if value <= 1 else f"{value:.2f}"
        return f"{value:,}" if isinstance(value, int) else str(value)

    lines = ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
    lines += ["| " + " | ".join(cell(r.get(c, "")) for c in columns) + " |" for r in rows]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--students", type=int, nargs="*", default=[35_000])
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--no-outside", action="store_true", help="our generator only")
    parser.add_argument("--per-rule", action="store_true", help="the per-rule table instead")
    parser.add_argument("--records", type=int, nargs="+", default=[10_000, 100_000])
    args = parser.parse_args()
    args.students = sorted(args.students)
    print("command: python " + " ".join(sys.argv))
    if args.per_rule:
        per_rule_table(args.records, args.seed)
        return

    rows = [
        row for students in args.students for row in measure(synthetic_set(students, args.seed))
    ]
    if not args.no_outside:
        rows += [row for name in LOADERS for row in measure(outside_set(name))]
    overall = [r for r in rows if "error kind" not in r]
    columns = ["data set", "records", "true pairs", "blocking", "completeness", "missed"]
    print(_markdown(overall, [*columns, "candidates per record", "seconds"]))
    synthetic_rows = [r for r in overall if str(r["data set"]).startswith("synthetic")]
    if len(args.students) > 1:
        print()
        for label in ("baseline", "ours", "generic"):
            per_record = [
                r["candidates per record"] for r in synthetic_rows if r["blocking"] == label
            ]
            print(
                f"{label}: candidates per record at {max(args.students):,} children / at "
                f"{min(args.students):,}: {per_record[-1] / per_record[0]:.2f}"
            )
    kinds = [r for r in rows if "error kind" in r]
    if kinds:
        print()
        wide: dict[tuple[str, str], dict[str, object]] = {}
        for r in kinds:
            key = (str(r["data set"]), str(r["error kind"]))
            entry = wide.setdefault(
                key, {"data set": key[0], "error kind": key[1], "true pairs": r["true pairs"]}
            )
            entry[f"{r['blocking']}"] = r["completeness"]
        print(
            _markdown(
                list(wide.values()),
                ["data set", "error kind", "true pairs", "baseline", "ours", "generic"],
            )
        )


if __name__ == "__main__":
    main()
