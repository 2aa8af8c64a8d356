"""Helpers shared by the review tests (no tests here): a deterministic scorer standing in for
Splink, and small standardized frames.

The fake scorer pairs records that share a birth date: same given name too -> match zone (weight
25), different given name -> near match (weight 10). Records both flagged multiple birth are
"guarded" (twins), as the family guard would. Records whose `sex_std` differ score -5 (strong
disagreement). It pairs incoming records with the index and with each other, never index with
index, exactly as the real scorer."""

from __future__ import annotations

import pandas as pd

from migrant_linkage.review import MasterIndex
from migrant_linkage.zones import Thresholds


def fake_scorer(incoming, existing, *, model, thresholds):
    both = pd.concat([existing.assign(_in=0), incoming.assign(_in=1)], ignore_index=True)
    m = both.merge(both, on="birth_date_std", suffixes=("_l", "_r"))
    m = m[(m["record_id_l"] < m["record_id_r"]) & ((m["_in_l"] == 1) | (m["_in_r"] == 1))]
    same_name = m["given_name_full_l"] == m["given_name_full_r"]
    sex_differs = (
        m["sex_std_l"].notna() & m["sex_std_r"].notna() & (m["sex_std_l"] != m["sex_std_r"])
    )
    weight = same_name.map({True: 25.0, False: 10.0}).where(~sex_differs, -5.0)
    out = pd.DataFrame(
        {
            "record_id_l": m["record_id_l"],
            "record_id_r": m["record_id_r"],
            "match_weight": weight,
            "match_probability": 1 / (1 + 2 ** (-weight)),
        }
    )
    out["zone"] = pd.cut(
        out["match_weight"],
        [-1e9, thresholds.review_weight, thresholds.match_weight, 1e9],
        right=False,
        labels=["non_match", "near_match", "match"],
    ).astype(str)
    out["guarded"] = (m["multiple_birth_std_l"] == "Y") & (m["multiple_birth_std_r"] == "Y")
    out["gamma_given_name"] = same_name.astype(int)
    out["weight_given_name"] = same_name.map({True: 8.0, False: -6.0})
    return out.reset_index(drop=True)


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


def new_index(path, **options) -> MasterIndex:
    options.setdefault("scorer", fake_scorer)
    two = options.pop("two_person_rule", False)
    return MasterIndex.create(path, two_person_rule=two, thresholds=Thresholds(), **options)


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
