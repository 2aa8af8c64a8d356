"""Property test: whatever sequence of uploads, decisions, merges, splits and undos happens,
every uploaded record is in the index exactly once, the audit log replays to the live state,
and no undecided worklist item pairs two records of one student."""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from migrant_linkage.review import ReviewError
from test_review_helpers import new_index, records

NAMES = ("ANA", "LUIS", "ROSA")
DOBS = ("2015-01-02", "2015-02-01", "2016-03-04")

record_rows = st.fixed_dictionaries(
    {
        "record_id": st.sampled_from([str(i) for i in range(6)]),
        "name": st.sampled_from(NAMES),
        "dob": st.sampled_from(DOBS),
        "sex": st.sampled_from([None, "F", "M"]),
    }
)
operations = st.one_of(
    st.tuples(
        st.just("upload"),
        st.sampled_from(["TX", "CA"]),
        st.lists(record_rows, min_size=1, max_size=4, unique_by=lambda r: r["record_id"]),
    ),
    st.tuples(
        st.just("decide"), st.integers(0, 20), st.sampled_from(["match", "not-a-match", "skip"])
    ),
    st.tuples(st.just("merge"), st.integers(0, 20), st.integers(0, 20)),
    st.tuples(st.just("split"), st.integers(0, 20), st.integers(1, 3)),
    st.tuples(st.just("undo"), st.integers(0, 20), st.just(None)),
)


def pick(seq, i):
    return seq[i % len(seq)] if len(seq) else None


@settings(
    max_examples=12,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(ops=st.lists(operations, min_size=2, max_size=7))
def test_any_sequence_of_actions_keeps_records_once_and_the_audit_replayable(tmp_path_factory, ops):
    index = new_index(tmp_path_factory.mktemp("prop") / "index.duckdb")
    first = [{"record_id": str(i), "name": NAMES[i % 3], "dob": DOBS[i % 2]} for i in range(4)]
    uploaded: set[str] = set()
    for op, a, b in [("upload", "TX", first), *ops]:
        try:
            if op == "upload":
                index.upload_standardized(records(a, b), state=a, actor="loader")
                uploaded |= {f"{a}:{r['record_id']}" for r in b}
            elif op == "decide":
                items = index.worklist()
                if len(items):
                    index.decide(int(pick(items["item_id"].tolist(), a)), b, actor="ana")
            elif op == "merge":
                ids = sorted(set(index.assignments()["student_id"]))
                if len(ids) >= 2 and pick(ids, a) != pick(ids, b):
                    index.merge(pick(ids, a), pick(ids, b), actor="ana")
            elif op == "split":
                groups = index.assignments().groupby("student_id")["record_key"].apply(sorted)
                groups = groups[groups.map(len) >= 2]
                if len(groups):
                    student = pick(groups.index.tolist(), a)
                    members = groups[student]
                    index.split(student, members[: min(b, len(members) - 1)], actor="ana")
            elif op == "undo":
                audit = index.audit()
                merges = audit[audit["action"].isin(["merge", "auto_merge"])]["audit_id"].tolist()
                if merges:
                    index.undo(int(pick(sorted(merges), a)), actor="ana")
        except ReviewError:
            pass  # refused requests (already undone, nothing left to move) change nothing

    assignments = index.assignments()
    assert assignments["record_key"].is_unique
    assert set(assignments["record_key"]) == uploaded
    assert index.check_replay()
    student = dict(zip(assignments["record_key"], assignments["student_id"], strict=True))
    for item in index.worklist().itertuples():
        assert student[item.record_key_l] != student[item.record_key_r]
