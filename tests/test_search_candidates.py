"""The in-memory copies of an index's compared columns (review/candidates.py), its search keys
and its records' students (review/held_keys.py) follow the index: after an upload, a merge, a
split or an undo, a search answers as it would with copies loaded afresh."""

from __future__ import annotations

import pandas as pd
import pytest

from migrant_linkage import synthetic
from migrant_linkage.review import MasterIndex, candidates, held_keys
from migrant_linkage.review.search import search
from migrant_linkage.review.search_fields import QUERY_FIELDS


@pytest.fixture(autouse=True)
def load_at_once(monkeypatch):
    """The copies loaded in the searching thread, so every search here answers from them."""
    monkeypatch.setattr(held_keys, "LOAD_IN_BACKGROUND", False)


@pytest.fixture(scope="module")
def population() -> pd.DataFrame:
    return synthetic.generate(80, seed=9, states=["CA", "TX"])


def query_of(row: pd.Series) -> dict[str, str]:
    return {c: row[c] for c in QUERY_FIELDS if isinstance(row.get(c), str) and row[c]}


def answers(index: MasterIndex, queries: list[dict[str, str]]) -> list[dict]:
    return [search(index, q).as_dict() for q in queries]


def afresh(index: MasterIndex, queries: list[dict[str, str]]) -> list[dict]:
    candidates.forget(index.path)
    held_keys.forget(index.path)
    return answers(index, queries)


def test_an_upload_after_a_search_brings_the_new_records_into_the_copy(tmp_path, population):
    ca = population[population["state"] == "CA"].reset_index(drop=True)
    tx = population[population["state"] == "TX"].reset_index(drop=True)
    index = MasterIndex.create(tmp_path / "index.duckdb", administrator="admin")
    index.upload(ca, state="CA", actor="admin")
    queries = [query_of(r) for _, r in tx.head(8).iterrows()]
    answers(index, queries)  # the copy now holds CA only
    index.upload(tx, state="TX", actor="admin")
    followed = answers(index, queries)
    for answer, record_id in zip(followed, tx.head(8)["record_id"], strict=True):
        # results are students: the student now holding the uploaded record is found
        holder = index.student_of(f"TX:{record_id}")
        assert holder in {c["student_id"] for c in answer["candidates"]}
    assert followed == afresh(index, queries)


def test_a_changed_record_is_scored_by_its_new_values_after_a_search(tmp_path, population):
    tx = population[population["state"] == "TX"].reset_index(drop=True).head(10)
    index = MasterIndex.create(tmp_path / "index.duckdb", administrator="admin")
    index.upload(tx, state="TX", actor="admin")
    row = tx.iloc[0]
    before = search(index, query_of(row)).candidates[0]
    changed = tx.copy()
    changed.loc[0, "birth_date"] = "2001-12-25"  # a new version of the same record
    index.upload(changed, state="TX", actor="admin")
    after = {c.record_key: c for c in search(index, query_of(row)).candidates}
    key = f"TX:{row.record_id}"
    assert before.record_key == key
    gamma = {e["comparison"]: e["gamma"] for e in after[key].evidence}
    was = {e["comparison"]: e["gamma"] for e in before.evidence}
    assert gamma["birth_date"] != was["birth_date"]
    queries = [query_of(r) for _, r in changed.iterrows()]
    assert answers(index, queries) == afresh(index, queries)


def test_a_merge_shows_in_the_next_search_without_reloading(tmp_path, population):
    """A merge moves records without an upload: the held students follow its audit rows."""
    tx = population[population["state"] == "TX"].reset_index(drop=True)
    index = MasterIndex.create(
        tmp_path / "index.duckdb", administrator="admin", two_person_rule=False
    )
    index.upload(tx, state="TX", actor="admin")
    row = tx.iloc[0]
    first = search(index, query_of(row))
    assert len(first.candidates) >= 2
    a, b = first.candidates[0], first.candidates[1]
    index.merge(a.student_id, b.student_id, actor="admin", reason="test")
    merged = {c.record_key: c.student_id for c in search(index, query_of(row)).candidates}
    survivor = min(a.student_id, b.student_id)
    assert merged[a.record_key] == survivor
    assert b.record_key not in merged or merged[b.record_key] == survivor
    queries = [query_of(r) for _, r in tx.head(12).iterrows()]
    assert answers(index, queries) == afresh(index, queries)


def test_a_split_and_an_undone_merge_show_in_the_next_search(tmp_path, population):
    tx = population[population["state"] == "TX"].reset_index(drop=True)
    index = MasterIndex.create(
        tmp_path / "index.duckdb", administrator="admin", two_person_rule=False
    )
    index.upload(tx, state="TX", actor="admin")
    queries = [query_of(r) for _, r in tx.head(12).iterrows()]
    row = tx.iloc[0]
    first = search(index, query_of(row))
    a, b = first.candidates[0], first.candidates[1]
    merge = index.merge(a.student_id, b.student_id, actor="admin", reason="test")
    answers(index, queries)  # the held students now know the merge
    index.undo(merge["audit_id"], actor="admin", reason="test")
    undone = {c.record_key: c.student_id for c in search(index, query_of(row)).candidates}
    assert undone[a.record_key] != undone[b.record_key]
    assert answers(index, queries) == afresh(index, queries)
    merge = index.merge(
        a.student_id, b.student_id, actor="admin", reason="test", reverse_decisions=True
    )
    answers(index, queries)
    split = index.split(merge["student_id"], [b.record_key], actor="admin", reason="test")
    after = {c.record_key: c.student_id for c in search(index, query_of(row)).candidates}
    assert after[b.record_key] == split["new_student_id"]
    assert answers(index, queries) == afresh(index, queries)


def test_search_finds_the_records_and_students_the_index_tables_hold(tmp_path, population):
    """The held keys give, for any set of keys, the records and counts search_keys gives, and
    each record's student as records gives it."""
    from migrant_linkage.review.search import KEYS_TABLE

    index = MasterIndex.create(tmp_path / "index.duckdb", administrator="admin")
    for state in ("CA", "TX"):
        part = population[population["state"] == state].reset_index(drop=True)
        index.upload(part, state=state, actor="admin")
    with index._read() as con:
        keys, students = held_keys.held_for(con, index.path, KEYS_TABLE)
        every = [k for (k,) in con.execute(f"SELECT DISTINCT key FROM {KEYS_TABLE}").fetchall()]
        for chosen in (every[:1], every[::7], every[3::11] + ["name:NO|SUCH KEY"], every):
            rows, counts = keys.sharing(sorted(set(chosen)))
            got = dict(zip(keys.record_keys.take(rows).to_pylist(), counts.tolist(), strict=True))
            placeholders = ", ".join("?" for _ in chosen)
            expected = dict(
                con.execute(
                    f"SELECT record_key, count(*) FROM {KEYS_TABLE} "
                    f"WHERE key IN ({placeholders}) GROUP BY record_key",
                    chosen,
                ).fetchall()
            )
            assert got == expected
        live = dict(
            con.execute("SELECT record_key, student_id FROM records WHERE active").fetchall()
        )
        held = dict(zip(keys.record_keys.to_pylist(), students.students.tolist(), strict=True))
        assert {k: v for k, v in held.items() if v is not None} == live


def test_a_search_on_an_older_view_keeps_the_newer_copy(tmp_path, population):
    """A connection opened before an upload committed must not turn the copy back."""
    tx = population[population["state"] == "TX"].reset_index(drop=True)
    index = MasterIndex.create(tmp_path / "index.duckdb", administrator="admin")
    index.upload(tx.head(5), state="TX", actor="admin")
    with index._read() as old:
        old.execute("BEGIN TRANSACTION")  # its view of the index is fixed from here
        assert old.execute("SELECT count(*) FROM records").fetchall() == [(5,)]
        index.upload(tx, state="TX", actor="admin")
        search(index, query_of(tx.iloc[0]))  # brings the copy up to date
        from migrant_linkage.review.search import FREQUENCIES_TABLE, searcher_for

        searcher = searcher_for(index)
        held = candidates.columns_for(
            old, index.path, searcher._held, searcher._tf, FREQUENCIES_TABLE
        )
    assert len(held.rows) == len(tx)


def test_old_versions_do_not_pile_up_in_the_copy(tmp_path, population):
    """Changed records add rows to the copy; past a fifth of the index it loads afresh."""
    from migrant_linkage.review.search import FREQUENCIES_TABLE, searcher_for

    tx = population[population["state"] == "TX"].reset_index(drop=True).head(10)
    index = MasterIndex.create(tmp_path / "index.duckdb", administrator="admin")
    index.upload(tx, state="TX", actor="admin")
    searcher = searcher_for(index)

    def held_rows() -> int:
        search(index, query_of(tx.iloc[0]))
        with index._read() as con:
            copy = candidates.columns_for(
                con, index.path, searcher._held, searcher._tf, FREQUENCIES_TABLE
            )
        return copy.table.num_rows

    assert held_rows() == 10
    changed = tx.copy()
    changed.loc[0, "birth_date"] = "2001-12-25"
    index.upload(changed, state="TX", actor="admin")
    assert held_rows() == 11  # one older version kept: within a fifth
    changed.loc[1:2, "birth_date"] = "2002-11-24"
    index.upload(changed, state="TX", actor="admin")
    assert held_rows() == 10  # three would be more than a fifth: loaded afresh


def test_searches_read_the_index_while_the_copies_load_and_answer_the_same(
    tmp_path, population, monkeypatch
):
    """The first search after the server starts (or after an upload) does not wait for the
    keys to load: it reads the index tables, with the answer the loaded copies then give."""
    from migrant_linkage.review.search import KEYS_TABLE

    monkeypatch.setattr(held_keys, "LOAD_IN_BACKGROUND", True)
    tx = population[population["state"] == "TX"].reset_index(drop=True)
    index = MasterIndex.create(tmp_path / "index.duckdb", administrator="admin")
    index.upload(tx, state="TX", actor="admin")
    queries = [query_of(r) for _, r in tx.head(12).iterrows()]
    held_keys.forget(index.path)
    with index._read() as con:
        assert held_keys.held_for(con, index.path, KEYS_TABLE) is None  # loading begins
    from_index = answers(index, queries)
    held_keys.wait_for_loading(index.path)
    with index._read() as con:
        assert held_keys.held_for(con, index.path, KEYS_TABLE) is not None
    assert answers(index, queries) == from_index
    by_state = [search(index, q, state="TX").as_dict() for q in queries]
    assert by_state == from_index
