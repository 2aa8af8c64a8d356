"""The consolidated record: one best value per field per student, keeping the conflicts.

Survivorship rules, per field, over the student's active records (nulls never win):

1. birth date only: a value from a record whose birth date was verified by a birth certificate
   wins (the seed's process: the state holding the certificate settles the date);
2. the most frequent value;
3. the most recent value (latest enrollment_date_std, then the latest upload);
4. the smallest value, only so the choice is deterministic.

Every other value seen is kept in `<field>_conflicts` (joined by " | ", best first), so a
reviewer sees what the states disagree on. All of it is one SQL query (no Python per student).
"""

from __future__ import annotations

import duckdb
import pandas as pd

#: Fields of the consolidated record (standardized values).
SURVIVORSHIP_FIELDS: tuple[str, ...] = (
    "given_name_full",
    "middle_name_std",
    "surname_paternal",
    "surname_maternal",
    "suffix_std",
    "sex_std",
    "birth_date_std",
    "multiple_birth_std",
    "birth_city_std",
    "birth_state_std",
    "birth_country_std",
    "parent_given_a",
    "parent_given_b",
    "parent_surnames_key",
    "msix_id_std",
)

CONFLICT_SEPARATOR = " | "


def consolidated(con: duckdb.DuckDBPyConnection) -> pd.DataFrame:
    """One row per student with records: student_id, n_records, states, record_keys, each
    SURVIVORSHIP_FIELDS value, birth_date_verified (the chosen date is certificate-verified),
    and `<field>_conflicts`."""
    casts = ", ".join(f"CAST({f} AS VARCHAR) AS {f}" for f in SURVIVORSHIP_FIELDS)
    fields = ", ".join(SURVIVORSHIP_FIELDS)
    ranked = con.execute(
        f"""
        WITH r AS (
            SELECT student_id, submitting_state, coalesce(birth_date_verified, FALSE) AS verified,
                   enrollment_date_std, uploaded_in, {casts}
            FROM records WHERE active
        ),
        long AS (
            UNPIVOT r ON {fields} INTO NAME field VALUE value
        ),
        votes AS (
            SELECT student_id, field, value, count(*) AS n,
                   bool_or(field = 'birth_date_std' AND verified) AS verified,
                   max(enrollment_date_std) AS latest_enrollment,
                   max(uploaded_in) AS latest_upload
            FROM long GROUP BY ALL
        ),
        ranked AS (
            SELECT *, row_number() OVER (
                PARTITION BY student_id, field
                ORDER BY verified DESC, n DESC, latest_enrollment DESC NULLS LAST,
                         latest_upload DESC, value
            ) AS rank
            FROM votes
        )
        SELECT student_id, field,
               max(value) FILTER (WHERE rank = 1) AS value,
               bool_or(verified) FILTER (WHERE rank = 1) AS verified,
               string_agg(value, '{CONFLICT_SEPARATOR}' ORDER BY rank) FILTER (WHERE rank > 1)
                   AS conflicts
        FROM ranked GROUP BY ALL
        """
    ).df()
    students = con.execute(
        """SELECT student_id, count(*) AS n_records,
                  string_agg(DISTINCT submitting_state, ',' ORDER BY submitting_state) AS states,
                  string_agg(record_key, ',' ORDER BY record_key) AS record_keys
           FROM records WHERE active GROUP BY student_id ORDER BY student_id"""
    ).df()
    values = ranked.pivot(index="student_id", columns="field", values="value")
    conflicts = ranked.pivot(index="student_id", columns="field", values="conflicts")
    conflicts.columns = [f"{c}_conflicts" for c in conflicts.columns]
    verified = ranked[ranked["field"] == "birth_date_std"].set_index("student_id")["verified"]
    out = students.set_index("student_id")
    out = out.join(values.reindex(columns=list(SURVIVORSHIP_FIELDS)))
    out["birth_date_verified"] = verified.reindex(out.index).fillna(False).astype(bool)
    out = out.join(conflicts.reindex(columns=[f"{f}_conflicts" for f in SURVIVORSHIP_FIELDS]))
    return out.reset_index()
