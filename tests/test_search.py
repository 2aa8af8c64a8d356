"""Search and match over the master index (review/search.py, review/match.py), on synthetic
files uploaded with the shipped model: what a data specialist types, what a vendor system sends."""

from __future__ import annotations

import pandas as pd
import pytest

from migrant_linkage import synthetic
from migrant_linkage.review import MasterIndex
from migrant_linkage.review import search as search_module
from migrant_linkage.review.match import MATCHED, NEW, REVIEW, match
from migrant_linkage.review.search import MAX_CANDIDATES, SearchError, search
from migrant_linkage.review.search_fields import QUERY_FIELDS
from migrant_linkage.schema import INPUT_COLUMNS

STATES = ("CA", "FL", "TX")


@pytest.fixture(scope="module")
def population() -> pd.DataFrame:
    return synthetic.generate(150, seed=5, states=list(STATES))


@pytest.fixture(scope="module")
def built(tmp_path_factory, population) -> MasterIndex:
    """CA and FL uploaded; TX held back as the incoming state."""
    path = tmp_path_factory.mktemp("search") / "index.duckdb"
    index = MasterIndex.create(path, administrator="admin")
    for state in ("CA", "FL"):
        part = population[population["state"] == state].reset_index(drop=True)
        index.upload(part, state=state, actor="admin")
    return index


def indexed(index: MasterIndex) -> pd.DataFrame:
    return index.records()


def contract(row: pd.Series | dict) -> dict[str, str]:
    return {c: row[c] for c in INPUT_COLUMNS if c in row and isinstance(row[c], str) and row[c]}


def query_of(row: pd.Series | dict) -> dict[str, str]:
    return {k: v for k, v in contract(row).items() if k in QUERY_FIELDS}


def students_found(result) -> list[str]:
    return [c.student_id for c in result.candidates]


def a_record(index: MasterIndex, *required: str) -> pd.Series:
    records = indexed(index)
    mask = pd.Series(True, index=records.index)
    for column in required:
        mask &= records[column].notna() & (records[column].astype(str).str.strip() != "")
    return records[mask].sort_values("record_key").iloc[0]


# ------------------------------------------------------------------------------- search
def test_name_only_search_finds_the_child_without_a_birth_date(built):
    row = a_record(built, "first_name", "last_name_1", "birth_date")
    result = search(built, {"first_name": row.first_name, "last_name_1": row.last_name_1})
    assert row.student_id in students_found(result)
    found = next(c for c in result.candidates if c.student_id == row.student_id)
    birth = next(e for e in found.evidence if e["comparison"] == "birth_date")
    assert birth["level"].startswith("null") and birth["weight"] == 0.0


def test_birth_date_only_search_lists_children_born_that_day(built):
    row = a_record(built, "birth_date")
    result = search(built, {"birth_date": row.birth_date}, page_size=100)
    assert row.student_id in students_found(result)
    records = indexed(built).set_index("record_key")
    for candidate in result.candidates:
        same_day = records.loc[candidate.record_key, "birth_date_std"]
        swapped = records.loc[candidate.record_key, "birth_date_transposed"]
        assert row.birth_date_std in (same_day, swapped)


def test_phonetic_spelling_of_the_surname_still_finds_the_child(built):
    records = indexed(built)
    spelt = records[records["last_name_1"].fillna("").str.contains("Z")].sort_values("record_key")
    row = spelt.iloc[0]
    query = {"first_name": row.first_name, "last_name_1": row.last_name_1.replace("Z", "S")}
    assert query["last_name_1"] != row.last_name_1
    assert row.student_id in students_found(search(built, query))


def test_results_are_students_ranked_by_weight_with_a_grade_and_evidence(built):
    row = a_record(built, "first_name", "last_name_1", "birth_date")
    result = search(built, query_of(row))
    weights = [c.match_weight for c in result.candidates]
    assert weights == sorted(weights, reverse=True)
    assert len(set(students_found(result))) == len(result.candidates)
    top = result.candidates[0]
    assert top.student_id == row.student_id and top.grade == "certain"
    # weights are shown to 4 decimals: the sum of 8 rounded terms is within 8 * 0.00005
    assert abs(sum(e["weight"] for e in top.evidence) - top.match_weight) <= 8 * 0.00005 + 1e-9


def test_search_scores_a_pair_as_an_upload_scores_it(built):
    """The same pair scored by an upload's Splink session (review.scoring) gets the same level
    on every comparison and the same weight on every comparison without term frequencies (the
    others differ by design: an upload counts the incoming record in the population)."""
    from migrant_linkage.review.scoring import score_upload
    from migrant_linkage.standardize import standardize

    row = a_record(built, "first_name", "last_name_1", "birth_date")
    top = search(built, query_of(row)).candidates[0]
    probe = {**contract(row), "record_id": "probe"}
    incoming = standardize(pd.DataFrame([probe])).standardized
    existing = indexed(built)
    existing = existing.assign(record_id=existing["record_key"])
    pairs = score_upload(incoming, existing, model=built.model(), thresholds=built.thresholds())
    ids = pairs[["record_id_l", "record_id_r"]].apply(frozenset, axis=1)
    pair = pairs[ids == frozenset({"probe", top.record_key})].iloc[0]
    with_tf = {
        c["output_column_name"]
        for c in built.model().trained_settings()["comparisons"]
        if any(level.get("tf_adjustment_column") for level in c["comparison_levels"])
    }
    for evidence in top.evidence:
        name = evidence["comparison"]
        assert evidence["gamma"] == int(pair[f"gamma_{name}"]), name
        if name not in with_tf:
            assert evidence["weight"] == pytest.approx(pair[f"weight_{name}"], abs=1e-3), name


def test_pages_continue_without_repeating_a_student(built):
    records = indexed(built)
    common = records["surname_paternal_phonetic"].value_counts().index[0]
    row = records[records["surname_paternal_phonetic"] == common].iloc[0]
    first = search(built, {"last_name_1": row.last_name_1}, page_size=2)
    second = search(built, {"last_name_1": row.last_name_1}, page=2, page_size=2)
    assert first.total == second.total >= 3
    assert len(first.candidates) == 2 and second.candidates
    assert not set(students_found(first)) & set(students_found(second))


def test_state_filter_keeps_only_that_states_records(built):
    row = a_record(built, "first_name", "last_name_1")
    result = search(
        built, {"first_name": row.first_name, "last_name_1": row.last_name_1}, state="FL"
    )
    assert all(c.state == "FL" for c in result.candidates)


def test_search_scores_only_the_records_sharing_a_key(built):
    row = a_record(built, "first_name", "last_name_1", "birth_date")
    result = search(built, query_of(row))
    assert 0 < result.records_scored < len(indexed(built))
    assert result.records_scored <= MAX_CANDIDATES


def test_searches_at_once_each_get_their_own_answer(built):
    """Callers share one scoring session; each must still see only its own query's candidates."""
    from concurrent.futures import ThreadPoolExecutor

    records = indexed(built).sort_values("record_key")
    rows = records[records["first_name"].notna() & records["last_name_1"].notna()].iloc[::7]
    queries = [query_of(r) for _, r in rows.head(12).iterrows()]
    alone = [search(built, q).as_dict() for q in queries]
    with ThreadPoolExecutor(max_workers=6) as pool:
        together = list(pool.map(lambda q: search(built, q).as_dict(), queries * 3))
    assert together == alone * 3
    assert len({str(a["candidates"][:1]) for a in alone}) > 1  # the queries differ


def test_an_uploaded_record_is_searchable_at_once(built, population):
    tx = population[population["state"] == "TX"].reset_index(drop=True)
    row = tx.iloc[0]
    fresh = MasterIndex.create(built.path.parent / "fresh.duckdb", administrator="admin")
    assert search(fresh, query_of(row)).total == 0
    fresh.upload(tx.head(1), state="TX", actor="admin")
    result = search(fresh, query_of(row))
    assert [c.record_key for c in result.candidates] == [f"TX:{row.record_id}"]


def test_a_changed_record_is_found_by_its_new_values_only(tmp_path, population):
    tx = population[population["state"] == "TX"].reset_index(drop=True).head(1)
    index = MasterIndex.create(tmp_path / "index.duckdb", administrator="admin")
    index.upload(tx, state="TX", actor="admin")
    old_id = tx.loc[0, "msix_id"] if isinstance(tx.loc[0, "msix_id"], str) else None
    changed = tx.copy()
    changed.loc[0, "msix_id"] = "998877665544"
    index.upload(changed, state="TX", actor="admin")
    assert search(index, {"msix_id": "998877665544"}).total == 1
    if old_id:
        assert search(index, {"msix_id": old_id}).total == 0


def test_an_index_made_before_search_gets_its_keys_built(tmp_path, population):
    import duckdb

    part = population[population["state"] == "CA"].reset_index(drop=True).head(20)
    index = MasterIndex.create(tmp_path / "index.duckdb", administrator="admin")
    index.upload(part, state="CA", actor="admin")
    con = duckdb.connect(str(index.path))
    con.execute(f"DROP TABLE {search_module.KEYS_TABLE}")
    con.execute(f"DROP TABLE {search_module.FREQUENCIES_TABLE}")
    con.close()
    row = query_of(part.iloc[0])
    with pytest.raises(SearchError, match="no search keys"):
        search(index, row)
    search_module.build_keys(index)
    assert search(index, row).total >= 1


def test_unknown_or_empty_queries_are_refused_with_the_field_names(built):
    with pytest.raises(SearchError, match="unknown search fields"):
        search(built, {"nickname": "LUPE"})
    with pytest.raises(SearchError, match="at least one of"):
        search(built, {"first_name": "  "})
    with pytest.raises(SearchError, match="page_size"):
        search(built, {"first_name": "ANA"}, page_size=0)


def test_an_unreadable_birth_date_is_refused_without_echoing_it(built):
    with pytest.raises(SearchError) as error:
        search(built, {"birth_date": "31/31/2011"})
    assert "31/31" not in str(error.value) and "birth_date" in str(error.value)


def test_query_fields_are_contract_columns():
    assert set(QUERY_FIELDS) < set(INPUT_COLUMNS)


# ------------------------------------------------------------------------------- match
def test_match_outcome_is_what_the_upload_then_does(tmp_path, population):
    """matched: committing joins that student; new: committing mints a new student; review:
    committing joins no candidate (an upload never merges on a near match)."""
    index = MasterIndex.create(tmp_path / "index.duckdb", administrator="admin")
    for state in ("CA", "FL"):
        index.upload(population[population["state"] == state], state=state, actor="admin")
    tx = population[population["state"] == "TX"].sort_values("record_id").head(12)
    seen = set()
    for row in tx.to_dict("records"):
        before = set(index.assignments()["student_id"])
        outcome = match(index, contract(row), commit=True, reviewer="admin")
        seen.add(outcome.outcome)
        placed = outcome.committed["student_id"]
        if outcome.outcome == MATCHED:
            assert placed == outcome.student_id
        elif outcome.outcome == NEW:
            assert placed not in before
        else:
            assert outcome.outcome == REVIEW
            assert placed not in {
                c["student_id"] for c in outcome.candidates if c["zone"] != "match"
            }
    assert MATCHED in seen


def test_match_without_commit_changes_nothing(built, population):
    row = population[population["state"] == "TX"].iloc[0]
    before = built.assignments()
    match(built, contract(row))
    pd.testing.assert_frame_equal(before, built.assignments())


def test_a_record_already_in_the_index_is_reported_as_known(built):
    row = a_record(built, "first_name", "last_name_1")
    outcome = match(built, contract(row), state=row.submitting_state)
    assert outcome.known_as == row.student_id
    assert outcome.record_key == row.record_key


def test_commit_needs_a_reviewer_and_a_record_id(built, population):
    row = contract(population[population["state"] == "TX"].iloc[0])
    with pytest.raises(ValueError, match="reviewer"):
        match(built, row, commit=True)
    without_id = {k: v for k, v in row.items() if k != "record_id"}
    with pytest.raises(ValueError, match="record_id"):
        match(built, without_id, commit=True, reviewer="admin")


# ------------------------------------------------------------------------------- command line
def test_index_search_command_prints_students_and_no_names(built, capsys):
    import json

    from migrant_linkage.cli import main

    row = a_record(built, "first_name", "last_name_1")
    argv = ["index", "search", "--index", str(built.path), "--first-name", row.first_name]
    assert main([*argv, "--last-name-1", row.last_name_1]) == 0
    shown = capsys.readouterr().out
    assert row.student_id in shown and row.first_name not in shown
    assert main([*argv, "--last-name-1", row.last_name_1, "--json"]) == 0
    body = json.loads(capsys.readouterr().out)
    assert row.student_id in [c["student_id"] for c in body["candidates"]]


def test_index_match_command_answers_and_a_bad_query_exits_2(built, capsys, population):
    from migrant_linkage.cli import main

    tx = population[population["state"] == "TX"].iloc[0]
    argv = ["index", "match", "--index", str(built.path), "--state", "TX"]
    assert main([*argv, "--first-name", tx.first_name, "--last-name-1", tx.last_name_1]) == 0
    assert capsys.readouterr().out.startswith("outcome: ")
    assert main(["index", "search", "--index", str(built.path), "--birth-date", "31/31/2011"]) == 2
    assert "31/31" not in capsys.readouterr().err
