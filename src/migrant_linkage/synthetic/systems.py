"""Two systems of one state: the state migrant database and the state student record system
(SIS), with the flag and ID disagreements the seed guide describes (§2.2.1-2.2.2).

    from migrant_linkage.synthetic.systems import two_systems
    systems = two_systems(2_000, seed=1, state="TX")
    systems.migrant, systems.state     # record-contract frames with the enrolment columns

Each child is drawn once by the ordinary generator (`synthetic.generate`, one state), so the
two systems' records of one child disagree as real records do (nicknames, surname forms, date
formats): the state system gets the child's first rendering, the migrant system its last.
Then, per child, one draw each decides:

* where the child is: in both systems; in the migrant system only; flagged migrant in the state
  system only; or a non-migrant child in the state system only (most of a state's students);
* for a child in both, the migrant flag: on in both, on in the migrant system only (the school
  never set it), or on in the state system only (the migrant system marks the child N);
* for a child in both, the migrant record's State Student ID: the state system's, missing,
  mistyped (one digit), another valid ID (the child was re-enrolled under a new one), or the ID
  of another child in the state system (reused).

The truth is in `true_student_id` (both frames) and `true_category` (the reconcile category each
record should get, see migrant_linkage.reconcile.Category), which the reconciliation never reads.
Same seed, same output.
"""

from __future__ import annotations

from dataclasses import dataclass, fields

import numpy as np
import pandas as pd

from migrant_linkage.synthetic import generate

__all__ = ["SystemRates", "TwoSystems", "two_systems"]

TRUE_CATEGORY_COLUMN = "true_category"


@dataclass(frozen=True)
class SystemRates:
    """Shares per child. The rates are illustrations for testing, not measured figures: the seed
    guide names the disagreements but gives no rates."""

    # Where the child is (one of; the rest are in both systems).
    migrant_only: float = 0.06  # in the migrant system, never enrolled in the state system
    state_only_flagged: float = 0.04  # flagged migrant by a school, unknown to the migrant system
    non_migrant: float = 0.40  # an ordinary student: state system only, not flagged
    # For a child in both systems, the flag (one of; the rest are flagged in both).
    flag_migrant_only: float = 0.08  # the school never set the migrant flag
    flag_state_only: float = 0.04  # the migrant system marks the child N (eligibility ended)
    # For a child in both systems, the migrant record's State ID (one of; the rest agree).
    id_missing: float = 0.08
    id_mistyped: float = 0.04
    id_second: float = 0.03  # another valid ID: re-enrolled under a new one
    id_reused: float = 0.02  # another child's ID
    # Enrolment.
    withdrawn: float = 0.10  # the enrolment has ended (exit date, active N)
    districts: int = 8

    def __post_init__(self) -> None:
        for f in fields(self):
            value = getattr(self, f.name)
            if f.name == "districts":
                if not isinstance(value, int) or value < 1:
                    raise ValueError(f"districts must be a whole number >= 1, got {value!r}")
            elif not 0 <= value <= 1:
                raise ValueError(f"{f.name} must be between 0 and 1, got {value!r}")
        groups = {
            "where": (self.migrant_only, self.state_only_flagged, self.non_migrant),
            "flag": (self.flag_migrant_only, self.flag_state_only),
            "id": (self.id_missing, self.id_mistyped, self.id_second, self.id_reused),
        }
        for name, rates in groups.items():
            if sum(rates) > 1:
                raise ValueError(f"the {name} rates add up to more than 1")


@dataclass(frozen=True)
class TwoSystems:
    migrant: pd.DataFrame  # the state migrant database
    state: pd.DataFrame  # the state student record system


def _draw(rng: np.random.Generator, n: int, rates: tuple[float, ...]) -> np.ndarray:
    """One outcome per child: 0 = none of them, i = the i-th rate."""
    edges = np.cumsum(rates)
    u = rng.random(n)
    return np.where(u < edges[-1], np.searchsorted(edges, u, side="right") + 1, 0)


def _mistype(ids: pd.Series, rng: np.random.Generator) -> pd.Series:
    """One digit of each ID replaced by another digit (the position and digit drawn)."""
    text = ids.astype(str)
    lengths = text.str.len().to_numpy()
    digit_at = rng.integers(0, 10**6, size=len(text))
    out = text.copy()
    for position in range(int(lengths.max()) if len(text) else 0):
        here = (digit_at % np.maximum(lengths, 1) == position) & (lengths > position)
        if not here.any():
            continue
        old = text[here].str[position]
        is_digit = old.str.isdigit().to_numpy()
        shift = (digit_at[here] // 10 % 9) + 1  # 1..9: never the same digit
        new = np.where(
            is_digit, ((pd.to_numeric(old, errors="coerce").fillna(0) + shift) % 10).astype(int), 0
        ).astype(str)
        out[here] = text[here].str[:position] + new + text[here].str[position + 1 :]
    return out


def _exit_date(entry: pd.Series, days: np.ndarray) -> pd.Series:
    """An exit `days` after the entry date (entry parsed as the generator wrote it, US order)."""
    parsed = pd.to_datetime(entry, errors="coerce", format="mixed")
    shift = pd.Series(pd.to_timedelta(days, unit="D"), index=parsed.index)
    return (parsed + shift).dt.strftime("%Y-%m-%d")


def two_systems(
    n_children: int, seed: int = 0, state: str = "TX", rates: SystemRates | None = None
) -> TwoSystems:
    """The migrant and state systems of `state` for `n_children` children (see the module)."""
    rates = rates or SystemRates()
    records = generate(n_children, seed=seed, states=[state])
    rng = np.random.default_rng([seed, 18])
    by_child = records.groupby("true_student_id", sort=True)
    sis = by_child.head(1).set_index("true_student_id")
    mep = by_child.tail(1).set_index("true_student_id").reindex(sis.index)
    n = len(sis)

    where = _draw(rng, n, (rates.migrant_only, rates.state_only_flagged, rates.non_migrant))
    flag = _draw(rng, n, (rates.flag_migrant_only, rates.flag_state_only))
    id_kind = _draw(rng, n, (rates.id_missing, rates.id_mistyped, rates.id_second, rates.id_reused))
    in_both = where == 0
    flag = np.where(in_both, flag, 0)
    id_kind = np.where(in_both, id_kind, 0)

    # Families live in one district; a few districts are much bigger than the others.
    family_codes, _ = pd.factorize(sis["true_family_id"])
    weights = 1.0 / np.arange(1, rates.districts + 1)
    family_district = rng.choice(
        rates.districts, size=family_codes.max() + 1, p=weights / weights.sum()
    )
    district_number = family_district[family_codes]
    district = np.char.add(f"{state}-LEA-", np.char.zfill((district_number + 1).astype(str), 3))
    school = np.char.add(np.char.add(district, "-SCH-"), (rng.integers(1, 4, size=n)).astype(str))
    withdrawn = rng.random(n) < rates.withdrawn
    exit_days = rng.integers(30, 200, size=n)

    # The State ID the state system gave the child; the migrant system's copy of it.
    state_ids = sis["state_student_id"].fillna("").astype(str)
    state_ids = state_ids.where(
        state_ids != "", state + pd.Series(np.arange(n), index=sis.index).astype(str).str.zfill(9)
    )
    mep_ids = state_ids.copy()
    mep_ids[id_kind == 1] = None
    mep_ids[id_kind == 2] = _mistype(state_ids[id_kind == 2], rng).to_numpy()
    second = rng.integers(10**8, 10**9, size=n).astype(str)
    mep_ids[id_kind == 3] = (state + pd.Series(second[id_kind == 3])).to_numpy()
    # A reused ID belongs to another child of the state system whose own IDs are untouched.
    reused = np.flatnonzero(id_kind == 4)
    donors_pool = np.flatnonzero((where != 1) & (id_kind == 0))
    donors = rng.choice(donors_pool, size=min(len(reused), len(donors_pool)), replace=False)
    reused = reused[: len(donors)]
    id_kind[np.flatnonzero(id_kind == 4)[len(donors) :]] = 0  # no donor left: the ID agrees
    mep_ids[mep_ids.index[reused]] = state_ids.iloc[donors].to_numpy()

    # Truth: the category each record should get (names as in reconcile.Category).
    flag_category = np.array(["FLAGGED_IN_BOTH", "FLAGGED_MIGRANT_ONLY", "FLAGGED_STATE_ONLY"])
    both_category = np.where(np.isin(id_kind, (2, 3)), "TWO_IDS", flag_category[flag])
    both_category = np.where(id_kind == 4, "TWO_IDS", both_category)
    mep_category = np.where(id_kind == 4, "ID_REUSED", both_category)
    mep_category = np.where(where == 1, "MIGRANT_SYSTEM_ONLY", mep_category)
    sis_category = np.select(
        [where == 2, where == 3],
        ["STATE_SYSTEM_ONLY_FLAGGED", "STATE_SYSTEM_ONLY_NOT_FLAGGED"],
        both_category,
    )
    sis_category[donors] = "ID_REUSED"

    def system(frame, ids, flags, categories, prefix: str, keep: np.ndarray) -> pd.DataFrame:
        out = frame.copy()
        out["state_student_id"] = ids.to_numpy()
        out["migrant_flag"] = flags
        out["district_id"] = district
        out["school_id"] = school
        exit_dates = _exit_date(out["enrollment_date"], exit_days)
        out["enrollment_end_date"] = exit_dates.where(pd.Series(withdrawn, index=out.index))
        out["active_status"] = np.where(withdrawn, "N", "Y")
        out[TRUE_CATEGORY_COLUMN] = categories
        out = out.reset_index().loc[keep]
        # Each system numbers its records in its own order: an id says nothing of the child.
        out = out.iloc[rng.permutation(len(out))].reset_index(drop=True)
        numbers = pd.Series(np.arange(1, len(out) + 1)).astype(str).str.zfill(7)
        out["record_id"] = (prefix + numbers).where(out["record_id"].notna())
        rejected = out["record_id"].isna() | out[["first_name", "last_name_1"]].isna().all(axis=1)
        out.loc[rejected, TRUE_CATEGORY_COLUMN] = "REJECTED"
        return out

    mep_flag = np.where(flag == 2, "N", "Y")
    sis_flag = np.where((where == 2) | ((where == 0) & (flag != 1)), "Y", "N")
    migrant = system(mep, mep_ids, mep_flag, mep_category, "MEP-", np.isin(where, (0, 1)))
    state_system = system(sis, state_ids, sis_flag, sis_category, "SIS-", where != 1)
    columns = [c for c in migrant.columns if c != "true_student_id"] + ["true_student_id"]
    return TwoSystems(migrant[columns].astype("str"), state_system[columns].astype("str"))
