"""Blocking: the candidate pairs catch the ways one child's records disagree, and stay bounded
when surnames are very skewed."""

from __future__ import annotations

import duckdb
import numpy as np
import pandas as pd
import pytest
from splink import DuckDBAPI, block_on
from splink.blocking_analysis import count_comparisons_from_blocking_rules

from migrant_linkage import blocking
from migrant_linkage.standardize import standardize

BASE = {
    "state": "TX",
    "first_name": "MARIA GUADALUPE",
    "last_name_1": "GARCIA",
    "last_name_2": "LOPEZ",
    "sex": "F",
    "birth_date": "2012-03-07",
    "parent1_first": "ROSA",
    "parent1_last": "LOPEZ",
    "parent2_first": "JUAN",
    "parent2_last": "GARCIA",
}


def _standardized(rows: list[dict[str, str | None]]) -> pd.DataFrame:
    raw = pd.DataFrame([{**BASE, "record_id": f"r{i}", **row} for i, row in enumerate(rows)])
    return standardize(raw, source_name="test").standardized


def _pairs_found(frame: pd.DataFrame) -> set[tuple[str, str]]:
    """Record pairs (l < r) that at least one prediction rule generates, as the engine blocks."""
    con = duckdb.connect()
    con.register("records", frame)
    sql = blocking.candidate_pairs_sql("records", blocking.prediction_blocking_rules())
    found = {(left, right) for _, left, right in con.execute(sql).fetchall()}
    con.close()
    return found


def _with_block_sizes(frame: pd.DataFrame) -> pd.DataFrame:
    """The records as a table Splink blocks on directly must be: with the block sizes."""
    con = duckdb.connect()
    con.register("records", frame)
    sized = con.execute(blocking.with_block_sizes_sql("records")).df()
    con.close()
    return sized


@pytest.mark.parametrize(
    ("case", "variant"),
    [
        ("maternal surname dropped", {"last_name_2": None}),
        ("surnames swapped", {"last_name_1": "LOPEZ", "last_name_2": "GARCIA"}),
        ("surnames joined in one field", {"last_name_1": "GARCIA LOPEZ", "last_name_2": None}),
        ("day and month transposed", {"birth_date": "2012-07-03"}),
        ("nickname first name", {"first_name": "LUPE"}),
        ("second given name only", {"first_name": "GUADALUPE"}),
        ("birth date missing", {"birth_date": None}),
        ("birth year keyed wrong", {"birth_date": "2013-03-07"}),
        ("paternal surname misspelt", {"last_name_1": "GARSIA", "birth_date": "2012-03-08"}),
        (
            "nickname and surname dropped",
            {"first_name": "LUPE", "last_name_1": "LOPEZ", "last_name_2": None},
        ),
        (
            "second given name only and birth year keyed wrong",
            {"first_name": "GUADALUPE", "birth_date": "2013-03-07"},
        ),
        (
            "second given name only and birth date missing",
            {"first_name": "GUADALUPE", "birth_date": None},
        ),
    ],
)
def test_a_duplicate_with_a_known_error_is_a_candidate_pair(case, variant):
    frame = _standardized([{}, variant])
    assert ("r0", "r1") in _pairs_found(frame), case


def test_the_same_msix_id_is_a_candidate_pair_whatever_else_changed():
    frame = _standardized(
        [
            {"msix_id": "123456789012"},
            {
                "msix_id": "1234-5678-9012",
                "first_name": "LUPE",
                "last_name_1": "LOPES",
                "last_name_2": None,
                "birth_date": "2011-12-30",
                "parent1_first": None,
                "parent2_first": None,
            },
        ]
    )
    assert ("r0", "r1") in _pairs_found(frame)


def test_unrelated_children_with_the_same_common_surname_are_not_compared():
    frame = _standardized(
        [
            {},
            {"first_name": "JOSE", "sex": "M", "birth_date": "2009-11-23", "parent1_first": "ANA"},
        ]
    )
    assert _pairs_found(frame) == set()


def test_namesakes_born_the_same_day_with_nothing_else_in_common_are_not_compared():
    """A national file holds some 150 children per birth date, many named JOSE: the birth date
    and given name bring them together, the corroboration checks keep them from being scored
    when no surname, parent or other given name agrees (MARIA GUADALUPE and MARIA ELENA)."""
    frame = _standardized(
        [
            {},
            {
                "first_name": "MARIA ELENA",
                "last_name_1": "TZUL",
                "last_name_2": "XIQUIN",
                "parent1_first": "PEDRO",
                "parent2_first": "ELENA",
            },
        ]
    )
    assert _pairs_found(frame) == set()


def test_a_namesake_born_the_same_day_is_compared_when_the_middle_name_agrees():
    """The same child under another surname, with nothing but the birth date and both given
    names (or the middle initial, as many systems keep it) in common."""
    frame = _standardized(
        [
            {"parent1_first": None, "parent2_first": None},
            {
                "first_name": "MARIA",
                "middle_name": "G",
                "last_name_1": "TZUL",
                "last_name_2": None,
                "parent1_first": None,
                "parent2_first": None,
            },
        ]
    )
    assert ("r0", "r1") in _pairs_found(frame)


def test_a_namesake_born_the_same_day_is_compared_when_a_parent_agrees():
    """The same child after a surname change (a stepfather's surname): the mother remains."""
    frame = _standardized([{}, {"last_name_1": "TZUL", "last_name_2": "XIQUIN"}])
    assert ("r0", "r1") in _pairs_found(frame)


def test_no_rule_is_an_or_join():
    """An OR in the join keys cannot be a hash join: the database would compare every pair."""
    api = DuckDBAPI()
    frame = _with_block_sizes(_standardized([{}]))
    counts = count_comparisons_from_blocking_rules(
        api.register(frame),
        blocking_rules=blocking.prediction_blocking_rules(),
        link_type="dedupe_only",
        unique_id_column_name="record_id",
        record_sample_proportion=1.0,
    )
    for record in counts:
        assert record["equi_join_conditions"], record["blocking_rule"]


def _skewed_population(n: int, seed: int) -> pd.DataFrame:
    """n distinct children (no duplicates) where half carry one of five surnames."""
    rng = np.random.default_rng(seed)
    common = np.array(["GARCIA", "HERNANDEZ", "MARTINEZ", "LOPEZ", "GONZALEZ"])
    rare = np.array([f"SUR{chr(65 + i // 26)}{chr(65 + i % 26)}" for i in range(600)])
    surnames = np.where(rng.random(n) < 0.5, rng.choice(common, n), rng.choice(rare, n))
    given = np.array([f"NAME{chr(65 + i // 26)}{chr(65 + i % 26)}" for i in range(80)])
    days = rng.integers(0, 365 * 12, n)
    return pd.DataFrame(
        {
            "record_id": [f"r{i}" for i in range(n)],
            "state": "TX",
            "first_name": rng.choice(given, n),
            "last_name_1": surnames,
            "last_name_2": rng.choice(common, n),
            "birth_date": (pd.Timestamp("2006-01-01") + pd.to_timedelta(days, "D")).strftime(
                "%Y-%m-%d"
            ),
            "parent1_first": rng.choice(given, n),
            "parent2_first": rng.choice(given, n),
        }
    )


def _comparisons_per_record(frame: pd.DataFrame, rules: list) -> float:
    counts = count_comparisons_from_blocking_rules(
        DuckDBAPI().register(_with_block_sizes(frame)),
        blocking_rules=rules,
        link_type="dedupe_only",
        unique_id_column_name="record_id",
        record_sample_proportion=1.0,
    )
    return counts[-1]["cumulative_comparison_count"] / len(frame)


def test_skewed_surnames_do_not_blow_up_the_comparisons():
    """Half of 10,000 children share five surnames. Blocking on the surname alone would compare
    each record with about 250 others; every rule pairs the surname with a strong key,
    so the count stays a few per record."""
    frame = standardize(_skewed_population(10_000, seed=1), source_name="skewed").standardized
    ours = _comparisons_per_record(frame, blocking.prediction_blocking_rules())
    surname_alone = _comparisons_per_record(frame, [block_on("surname_paternal")])
    assert surname_alone > 200
    assert ours < 3, ours


def test_candidate_pairs_are_exactly_splinks_own_blocking():
    """The engine computes the blocked pairs itself (one join per rule and a GROUP BY) and hands
    them to Splink: the pairs and the first rule that found each must be what Splink's own
    blocking gives, for a dedupe and for a link restricted to two sides."""
    from splink import Linker

    from migrant_linkage import synthetic
    from migrant_linkage.db import make_db_api
    from migrant_linkage.model import Model
    from migrant_linkage.pipeline.scoring import rules_for, scoring_settings

    frame = standardize(synthetic.generate(400, seed=5), source_name="s").standardized
    frame["_link_side"] = np.where(frame["state_std"] < "M", "a", "b")
    for link_type in ("dedupe_only", "link_only"):
        rules = rules_for(link_type)
        found = {}
        for ours in (False, True):
            db_api, con = make_db_api()
            con.register("_frame", frame)
            con.execute("CREATE TABLE ml_records AS SELECT * FROM _frame").fetchall()
            # Splink blocks on the records with their block sizes; the engine passes the
            # records as they are and candidate_pairs_sql computes the sizes itself.
            table = "ml_records"
            if not ours:
                table = "ml_records_sized"
                sized = blocking.with_block_sizes_sql("ml_records")
                con.execute(f"CREATE TABLE {table} AS {sized}").fetchall()
            linker = Linker(
                db_api.register(table), scoring_settings(Model.default(), rules, frequencies=False)
            )
            if ours:
                con.execute(
                    "CREATE TABLE pairs AS " + blocking.candidate_pairs_sql("ml_records", rules)
                ).fetchall()
                linker.table_management.register_blocked_pairs_for_predict(db_api.register("pairs"))
            scored = linker.inference.predict(warning_mode="never").as_pandas_dataframe()
            found[ours] = set(
                zip(scored["record_id_l"], scored["record_id_r"], scored["match_key"], strict=True)
            )
            con.close()
        assert len(found[False]) > 300, link_type
        assert found[True] == found[False], link_type


def _training_pairs(frame: pd.DataFrame, rule: str) -> int:
    con = duckdb.connect()
    con.register("records", blocking.training_block_sizes(frame))
    n = con.execute(
        f"SELECT count(*) FROM records l JOIN records r ON ({rule}) AND l.record_id < r.record_id"
    ).fetchall()[0][0]
    con.close()
    return n


def test_training_blocks_crowded_with_namesakes_are_left_out_of_em():
    """A given name + birth date block of more records than a child has is mostly namesakes:
    EM would learn "same name" from it. A block at the cap is trained on, one record more is
    not; a record with no birth date is in no block."""
    cap = blocking.TRAINING_BLOCK_MAX_RECORDS
    names = [f"SUR{chr(65 + i)}" for i in range(cap + 1)]
    at_cap = _standardized([{"last_name_1": s, "last_name_2": None} for s in names[:cap]])
    over_cap = _standardized([{"last_name_1": s, "last_name_2": None} for s in names])
    rule = blocking.training_rule_names_and_place()
    assert _training_pairs(at_cap, rule) == cap * (cap - 1) // 2
    assert _training_pairs(over_cap, rule) == 0
    sizes = blocking.training_block_sizes(_standardized([{}, {}, {"birth_date": None}]))
    assert list(sizes[blocking.NAMES_BLOCK_RECORDS]) == [2, 2, 0]
    assert list(sizes[blocking.SURNAMES_BLOCK_RECORDS]) == [3, 3, 3]


# Typo-robust blocking (issue 13): a name error together with a date error, the errors that
# escaped exact keys. Each pair below was never compared by the rules at 4c569a1.
NO_PARENTS = {"parent1_first": None, "parent2_first": None, "parent1_last": None}


@pytest.mark.parametrize(
    ("case", "first", "variant"),
    [
        ("letter doubled", {"first_name": "SOCORRO"}, {"first_name": "SOOORRO"}),
        ("letters transposed", {"first_name": "JUAN"}, {"first_name": "UJAN"}),
        ("placeholder", {"first_name": "JUAN"}, {"first_name": "BABY BOY"}),
    ],
)
def test_given_name_typo_with_year_typo_is_still_compared(case, first, variant):
    frame = _standardized(
        [{**first, **NO_PARENTS}, {**variant, **NO_PARENTS, "birth_date": "2002-03-07"}]
    )
    assert ("r0", "r1") in _pairs_found(frame), case


def test_given_name_typo_with_day_typo_is_still_compared():
    frame = _standardized(
        [
            {"first_name": "SOCORRO", **NO_PARENTS},
            {"first_name": "SOOORRO", "birth_date": "2012-03-17", **NO_PARENTS},
        ]
    )
    assert ("r0", "r1") in _pairs_found(frame)


def test_surname_typo_with_year_typo_is_still_compared():
    frame = _standardized(
        [
            {"last_name_1": "TAPIA", **NO_PARENTS},
            {"last_name_1": "TAPAIA", "birth_date": "2002-03-07", **NO_PARENTS},
        ]
    )
    assert ("r0", "r1") in _pairs_found(frame)


def test_typos_in_both_names_with_the_birth_date_intact_are_compared():
    frame = _standardized(
        [
            {"first_name": "GUADALUPE", "last_name_2": None, **NO_PARENTS},
            {"first_name": "GUADLAUPE", "last_name_1": "GARCAI", "last_name_2": None, **NO_PARENTS},
        ]
    )
    assert ("r0", "r1") in _pairs_found(frame)


def test_given_name_and_surname_swapped_between_fields_is_compared():
    frame = _standardized(
        [
            {"first_name": "FLYNN", "last_name_1": "WELLER", "last_name_2": None, **NO_PARENTS},
            {"first_name": "WELLER", "last_name_1": "FLYNN", "last_name_2": None, **NO_PARENTS},
        ]
    )
    assert ("r0", "r1") in _pairs_found(frame)


def test_names_swapped_between_fields_with_a_date_error_are_compared():
    frame = _standardized(
        [
            {"first_name": "FLYNN", "last_name_1": "WELLER", "last_name_2": None, **NO_PARENTS},
            {
                "first_name": "WELLER",
                "last_name_1": "FLYNN",
                "last_name_2": None,
                "birth_date": "2002-03-07",
                **NO_PARENTS,
            },
        ]
    )
    assert ("r0", "r1") in _pairs_found(frame)


def test_a_name_used_at_home_with_a_year_error_is_compared_through_the_family():
    """Neither the given name (CHAYO for ROSARIO is not in every table) nor the maternal
    surname nor the year agree; the paternal surname, a parent and the day and month do."""
    frame = _standardized(
        [
            {"first_name": "ROSARIO"},
            {"first_name": "CHAYITO", "last_name_2": None, "birth_date": "2013-03-07"},
        ]
    )
    assert ("r0", "r1") in _pairs_found(frame)


def test_birth_date_missing_with_only_one_surname_recorded_is_compared():
    """Systems that keep one surname field (most outside the Hispanic naming convention)."""
    frame = _standardized(
        [
            {"last_name_2": None, **NO_PARENTS},
            {"last_name_2": None, "birth_date": None, **NO_PARENTS},
        ]
    )
    assert ("r0", "r1") in _pairs_found(frame)


def _namesakes(n: int) -> pd.DataFrame:
    """n records of one name with nothing else in common: each born in another year, month and
    day, no parents recorded (parents that conflict would keep them apart on their own)."""
    return _standardized(
        [{"birth_date": f"{2008 + i}-{1 + i:02d}-{1 + i:02d}", **NO_PARENTS} for i in range(n)]
    )


def _with_parents(*parents: tuple[str | None, str | None]) -> pd.DataFrame:
    """Records of one name and birth date, each with its own two parents' given names."""
    return _standardized(
        [{"parent1_first": first, "parent2_first": second} for first, second in parents]
    )


def test_two_children_whose_parents_all_differ_are_not_compared():
    """Same name, same birth date, and each record lists two parents, none shared: two
    families (namesakes), however common the name."""
    assert not _pairs_found(_with_parents(("ROSA", "JUAN"), ("ANA", "PEDRO")))


@pytest.mark.parametrize(
    "other",
    [
        ("JUAN", "ROSA"),  # the same parents, listed the other way round
        ("ROSA", "PEDRO"),  # one parent shared: a step-parent
        ("ROS", "J"),  # both names cut by a short field (MAR for MARIA, V for VICTOR)
        ("ANA", None),  # one parent recorded (another state keeps the other one)
        (None, None),  # no parents recorded
    ],
)
def test_parents_that_do_not_conflict_keep_the_pair(other):
    assert ("r0", "r1") in _pairs_found(_with_parents(("ROSA", "JUAN"), other))


def test_the_same_msix_id_is_compared_even_when_the_parents_differ():
    frame = _standardized(
        [
            {"msix_id": "123456789012", "parent1_first": "ROSA", "parent2_first": "JUAN"},
            {"msix_id": "123456789012", "parent1_first": "ANA", "parent2_first": "PEDRO"},
        ]
    )
    assert ("r0", "r1") in _pairs_found(frame)


def test_a_rarely_shared_name_is_compared_whatever_the_birth_dates_say():
    """A child whose birth date was keyed differently each time (or copied from a sibling) is
    still compared while the name is shared by no more records than one child has."""
    cap = blocking.NAME_BLOCK_MAX_RECORDS
    assert len(_pairs_found(_namesakes(cap))) == cap * (cap - 1) // 2


def test_frequency_cap_keeps_a_common_names_block_from_being_compared():
    """One record more than a child has: the name is common (JOSE GARCIA LOPEZ), the block is
    namesakes, and without a birth date, parent or anything else in common none is compared."""
    assert _pairs_found(_namesakes(blocking.NAME_BLOCK_MAX_RECORDS + 1)) == set()


def test_training_frame_and_the_blocking_query_count_the_same_blocks():
    """Splink training reads the capped rules' columns from training_block_sizes, the engine's
    blocking from with_block_sizes_sql: a record must be in the same capped blocks either way."""
    frame = _namesakes(3)
    frame = pd.concat([frame, _standardized([{"first_name": None}, {"birth_date": None}])])
    frame["record_id"] = [f"x{i}" for i in range(len(frame))]
    columns = ["record_id", *blocking.CAPPED_BLOCKS]
    in_sql = _with_block_sizes(frame)[columns].sort_values("record_id").reset_index(drop=True)
    in_pandas = blocking.training_block_sizes(frame)[columns]
    in_pandas = in_pandas.sort_values("record_id").reset_index(drop=True)
    pd.testing.assert_frame_equal(in_sql, in_pandas, check_dtype=False)
