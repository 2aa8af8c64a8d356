"""Helpers shared by the review tests (no tests here): a deterministic scorer standing in for
Splink, and small standardized frames.

The fake scorer pairs records that share a birth date: same given name too -> match zone (weight
25), different given name -> near match (weight 10). Records both flagged multiple birth are
"guarded" (twins), as the family guard would, and zoned non-match as the engine zones them. Records whose `sex_std` differ score -5 (strong
disagreement); pairs scored inside a cluster with different birth dates score -10. It pairs
incoming records with the index and with each other, never index with index, exactly as the real
scorer."""

from __future__ import annotations

import numpy as np
import pandas as pd

from migrant_linkage.review import MasterIndex
from migrant_linkage.zones import Thresholds


class FakeScorer:
    """Same protocol as review.scoring.SplinkScorer: `load`, `predict`, `score_within`, `close`.
    "Blocking" is on the birth date; `score_within` scores the other pairs inside clusters."""

    def __init__(self, *, model, thresholds):
        self.thresholds = thresholds
        self.both = None
        self.scored: set[tuple[str, str]] = set()

    def load(self, incoming, existing):
        if hasattr(existing, "read_pandas"):  # the index arrives as an Arrow stream
            existing = existing.read_pandas()
        self.both = pd.concat([existing.assign(_in=0), incoming.assign(_in=1)], ignore_index=True)

    def predict(self):
        m = self.both.merge(self.both, on="birth_date_std", suffixes=("_l", "_r"))
        m = m[(m["record_id_l"] < m["record_id_r"]) & ((m["_in_l"] == 1) | (m["_in_r"] == 1))]
        m = m.rename(columns={"birth_date_std": "birth_date_std_l"}).assign(
            birth_date_std_r=m["birth_date_std"]
        )
        out = self._pairs(m)
        self.scored = set(zip(out["record_id_l"], out["record_id_r"], strict=True))
        return out

    def score_within(self, clusters):
        rows = clusters.merge(self.both, on="record_id")
        m = rows.merge(rows, on="cluster_id", suffixes=("_l", "_r"))
        m = m[m["record_id_l"] < m["record_id_r"]]
        done = [
            (a, b) in self.scored for a, b in zip(m["record_id_l"], m["record_id_r"], strict=True)
        ]
        return self._pairs(m[~pd.Series(done, index=m.index, dtype=bool)])

    def close(self):
        self.both = None

    def _pairs(self, m):
        same_name = m["given_name_full_l"] == m["given_name_full_r"]
        same_dob = m["birth_date_std_l"] == m["birth_date_std_r"]
        sex_differs = (
            m["sex_std_l"].notna() & m["sex_std_r"].notna() & (m["sex_std_l"] != m["sex_std_r"])
        )
        weight = same_name.map({True: 25.0, False: 10.0}).where(~sex_differs, -5.0)
        weight = weight.where(same_dob, -10.0)
        out = pd.DataFrame(
            {
                "record_id_l": m["record_id_l"],
                "record_id_r": m["record_id_r"],
                "match_weight": weight.astype(float),
                "match_probability": 1 / (1 + 2 ** (-weight.astype(float))),
            }
        )
        t = self.thresholds
        out["zone"] = pd.cut(
            out["match_weight"],
            [-1e9, t.review_weight, t.match_weight, 1e9],
            right=False,
            labels=["non_match", "near_match", "match"],
        ).astype(str)
        out["guarded"] = (m["multiple_birth_std_l"] == "Y") & (m["multiple_birth_std_r"] == "Y")
        out.loc[out["guarded"].to_numpy(), "zone"] = "non_match"  # as zones.zone_sql routes it
        out["guard_reason"] = np.where(out["guarded"], "family", None)
        out["gamma_given_name"] = same_name.astype(int)
        out["weight_given_name"] = same_name.map({True: 8.0, False: -6.0})
        return out.reset_index(drop=True)


fake_scorer = FakeScorer


def records(state: str, rows: list[dict]) -> pd.DataFrame:
    """Standardized-looking records: each row needs record_id, name, dob; optional sex,
    verified, enrolled, twin, surname."""
    out = []
    for row in rows:
        out.append(
            {
                "record_id": row["record_id"],
                "state": state,
                "first_name": row["name"],
                "last_name_1": row.get("surname", "GARCIA"),
                "birth_date": row["dob"],
                "sex": row.get("sex"),
                "given_name_full": row["name"],
                "surname_paternal": row.get("surname", "GARCIA"),
                "birth_date_std": row["dob"],
                "sex_std": row.get("sex"),
                "multiple_birth_std": "Y" if row.get("twin") else None,
                "birth_date_verified": bool(row.get("verified", False)),
                "enrollment_date_std": row.get("enrolled"),
                "state_std": state,
            }
        )
    return pd.DataFrame(out)


#: Pinned (not the package defaults, which may be retuned): the fake weights 25 / 10 / -5 fall in
#: the match, near-match and non-match zones, and -5 is a strong disagreement.
FAKE_THRESHOLDS = Thresholds(match_weight=20.0, review_weight=8.0, strong_disagreement_weight=0.0)


#: Accounts every test index has (all states): the administrator who created it, a loader
#: that runs uploads, and two validators (two different people for the two-person rule).
TEST_ACCOUNTS = {"loader": "reviewer", "ana": "validator", "bo": "validator"}
ADMIN = "admin"


def new_index(path, **options) -> MasterIndex:
    """An index scored by the fake scorer, with TEST_ACCOUNTS; the two-person rule is off
    unless `two_person_rule=True` (the tests of the rule turn it on)."""
    options.setdefault("scorer", fake_scorer)
    two = options.pop("two_person_rule", False)
    index = MasterIndex.create(
        path, administrator=ADMIN, two_person_rule=two, thresholds=FAKE_THRESHOLDS, **options
    )
    add_test_accounts(index)
    return index


def add_test_accounts(index: MasterIndex) -> None:
    for account_id, role in TEST_ACCOUNTS.items():
        index.add_account(account_id, display_name=account_id.title(), role=role, actor=ADMIN)


def snapshot(index: MasterIndex) -> dict[str, pd.DataFrame]:
    """Everything an upload could change, as frames (for before/after comparisons)."""
    import duckdb

    con = duckdb.connect(str(index.path), read_only=True)
    try:
        return {
            table: con.execute(f"SELECT * FROM {table} ORDER BY ALL").df()
            for table in (
                "records",
                "students",
                "worklist",
                "decisions",
                "audit_log",
                "audit_changes",
                "pending_merges",
                "meta",
                "uploads",
            )
        }
    finally:
        con.close()
