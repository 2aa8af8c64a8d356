"""Nothing is lost: every record of either system appears in exactly one reconcile category,
whatever the IDs, flags and names (including records the contract rejects)."""

from __future__ import annotations

import pandas as pd
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from migrant_linkage.reconcile import Category, reconcile

FIRST = ["MARIA", "JOSE LUIS", "LUPE", "KEVIN", None, "--"]
LAST = ["GARCIA", "GARCIA LOPEZ", "DE LA CRUZ", "NGUYEN", None]
DATES = ["2014-03-09", "03/09/2014", "2014-09-03", "31/02/2012", None]
IDS = ["TX1", "TX2", "TX3", " tx1 ", None]
FLAGS = ["Y", "N", "yes", "maybe", None]
DISTRICTS = ["LEA-1", "LEA-2", None]

record = st.fixed_dictionaries(
    {
        "record_id": st.sampled_from(["a", "b", "c", "d", "e", None]),
        "state": st.sampled_from(["TX", "TX", "Texas", None]),
        "state_student_id": st.sampled_from(IDS),
        "first_name": st.sampled_from(FIRST),
        "last_name_1": st.sampled_from(LAST),
        "birth_date": st.sampled_from(DATES),
        "migrant_flag": st.sampled_from(FLAGS),
        "district_id": st.sampled_from(DISTRICTS),
        "active_status": st.sampled_from(["Y", "N", None]),
    }
)
system = st.lists(record, min_size=1, max_size=8).map(lambda rows: pd.DataFrame(rows))


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(migrant=system, state=system)
def test_every_input_record_appears_in_exactly_one_category(migrant, state):
    result = reconcile(migrant, state)
    listed = result.records
    for name, frame in (("migrant", migrant), ("state", state)):
        rows = listed[listed["system"] == name]
        assert sorted(rows["source_row"].astype(int)) == list(range(1, len(frame) + 1))
        counts = result.summary["systems"][name]["categories"]
        assert sum(counts.values()) == len(frame)
        column = f"{name}_system_records"
        assert result.by_district[column].sum() == len(frame)
    assert set(listed["category"]) <= {c.value for c in Category}
    migrant_side = listed.loc[listed["system"] == "migrant", "category"]
    state_side = listed.loc[listed["system"] == "state", "category"]
    assert not migrant_side.str.startswith("STATE_SYSTEM_ONLY").any()
    assert not (state_side == Category.MIGRANT_SYSTEM_ONLY).any()
    assert result.summary["counts_reconcile"]
