"""The simulated population: families, children and their enrolment histories (the truth).

Everything is drawn as numpy arrays; no loop over children or records.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from migrant_linkage.synthetic import tables
from migrant_linkage.synthetic.rates import PopulationParams

_DAYS_PER_YEAR = 365.25
_MAX_REDRAW_PASSES = 50


def _within_group_index(group_sizes: np.ndarray) -> np.ndarray:
    """0, 1, 2, ... inside each consecutive group of the given sizes."""
    starts = np.repeat(np.cumsum(group_sizes) - group_sizes, group_sizes)
    return np.arange(group_sizes.sum()) - starts


def _family_sizes(n_students: int, rng: np.random.Generator, probs: Sequence[float]) -> np.ndarray:
    p = np.asarray(probs, dtype=float)
    sizes = rng.choice(np.arange(1, len(p) + 1), size=max(n_students, 1), p=p / p.sum())
    total = np.cumsum(sizes)
    n_families = int(np.searchsorted(total, n_students)) + 1
    sizes = sizes[:n_families].copy()
    sizes[-1] -= total[n_families - 1] - n_students
    return sizes[sizes > 0]


def _circuits_for(states: Sequence[str] | None) -> pd.DataFrame:
    frame = tables.circuits()
    if states is None:
        return frame[["home_state", "work_state", "weight"]]
    wanted = [s.upper() for s in states]
    unknown = sorted(set(wanted) - set(tables.state_conventions().index))
    if unknown:
        known = ", ".join(tables.state_conventions().index)
        raise ValueError(f"no synthetic conventions for states {unknown}; known: {known}")
    kept = frame[frame["home_state"].isin(wanted) & frame["work_state"].isin(wanted)]
    kept = kept[["home_state", "work_state", "weight"]]
    covered = set(kept["home_state"]) | set(kept["work_state"])
    # A requested state no documented circuit reaches still gets families: it is paired with
    # every other requested state (a lone state keeps its families at home).
    missing = [s for s in dict.fromkeys(wanted) if s not in covered]
    pairs = [(a, b) for a in dict.fromkeys(wanted) for b in dict.fromkeys(wanted) if a != b]
    pairs = [(a, b) for a, b in pairs if a in missing or b in missing]
    if not pairs and missing:
        pairs = [(missing[0], missing[0])]
    extra = pd.DataFrame(
        {
            "home_state": [a for a, _ in pairs],
            "work_state": [b for _, b in pairs],
            "weight": float(frame["weight"].mean()),
        }
    )
    return pd.concat([kept, extra], ignore_index=True) if len(extra) else kept


def build_population(
    n_students: int,
    rng: np.random.Generator,
    params: PopulationParams,
    states: Sequence[str] | None = None,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Return (children, enrolments). One enrolment row per child per family enrolment."""
    sizes = _family_sizes(n_students, rng, params.children_per_family)
    n_fam = len(sizes)
    surnames = tables.surnames()
    male, female = tables.given_names("M"), tables.given_names("F")

    # --- families: each parent has their own two surnames --------------------------------
    fam = pd.DataFrame(
        {
            "father_given": male.draw(rng, n_fam),
            "father_s1": surnames.draw(rng, n_fam),
            "father_s2": surnames.draw(rng, n_fam),
            "mother_given": female.draw(rng, n_fam),
            "mother_s1": surnames.draw(rng, n_fam),
            "mother_s2": surnames.draw(rng, n_fam),
        }
    )
    # Cousins: the father is the brother of another family's father (same two surnames).
    is_cousin = (rng.random(n_fam) < params.cousin_families) & (n_fam > 1)
    originals = np.flatnonzero(~is_cousin)
    related = np.full(n_fam, -1)
    if is_cousin.any() and len(originals):
        related[is_cousin] = originals[rng.integers(len(originals), size=int(is_cousin.sum()))]
        for col in ("father_s1", "father_s2"):
            fam.loc[is_cousin, col] = fam[col].to_numpy()[related[is_cousin]]
    fam["cousin_of_family"] = related

    circ = _circuits_for(states)
    pick = rng.choice(len(circ), size=n_fam, p=(circ["weight"] / circ["weight"].sum()).to_numpy())
    fam["home_state"] = circ["home_state"].to_numpy()[pick]
    fam["work_state"] = circ["work_state"].to_numpy()[pick]
    ref = np.datetime64(params.reference_date, "D")
    fam["first_enrolment"] = ref - rng.integers(900, 4 * 365, size=n_fam).astype("timedelta64[D]")
    ep = np.asarray(params.enrolments_per_family, dtype=float)
    fam["n_enrolments"] = rng.choice(np.arange(1, len(ep) + 1), size=n_fam, p=ep / ep.sum())
    travels = is_cousin & (rng.random(n_fam) < params.cousins_travel_together)
    for col in ("home_state", "work_state", "first_enrolment", "n_enrolments"):
        fam.loc[travels, col] = fam[col].to_numpy()[related[travels]]

    places = tables.birth_places()
    origin = rng.choice(len(places), size=n_fam, p=(places["weight"] / places["weight"].sum()))
    fam["origin_country"] = places["country"].to_numpy()[origin]
    fam["origin_subdivision"] = places["subdivision"].to_numpy()[origin]

    # --- children -----------------------------------------------------------------------
    n = int(sizes.sum())
    family = np.repeat(np.arange(n_fam), sizes)
    order = _within_group_index(sizes)
    # A multiple birth copies the previous child's birth date and place; chains make triplets.
    twin = (order > 0) & (rng.random(n) < params.multiple_birth)
    idx = np.arange(n)
    birth_src = np.maximum.accumulate(np.where(twin, 0, idx))
    group_size = np.bincount(birth_src, minlength=n)[birth_src]

    sex = np.where(rng.random(n) < 0.5, "F", "M").astype(object)
    same_sex = twin & (rng.random(n) < params.multiple_same_sex)
    sex[same_sex] = sex[birth_src[same_sex]]

    # Siblings are born 11 months to 4 years apart (twins 0); the youngest is at least 3 and
    # the eldest at most 18.5 at the first enrolment, so every record shows a school age.
    gap = np.where((order > 0) & ~twin, rng.integers(330, 1400, size=n), 0)
    younger_by = pd.Series(gap).groupby(family).cumsum().to_numpy()
    span = np.bincount(family, weights=gap, minlength=n_fam)
    low = 3 * _DAYS_PER_YEAR + span
    eldest_age = low + rng.random(n_fam) * np.maximum(18.5 * _DAYS_PER_YEAR - low, 0)
    age_days = (eldest_age[family] - younger_by).astype(int)
    birth = fam["first_enrolment"].to_numpy()[family] - age_days.astype("timedelta64[D]")
    birth = birth[birth_src]

    us_born = rng.random(n) < params.us_born
    country = np.where(us_born, "US", fam["origin_country"].to_numpy()[family]).astype(object)
    subdivision = np.where(
        us_born,
        "US-" + fam["home_state"].to_numpy()[family].astype(object),
        fam["origin_subdivision"].to_numpy()[family],
    ).astype(object)
    country, subdivision = country[birth_src], subdivision[birth_src]

    given = np.empty(n, dtype=object)
    for s, table in (("F", female), ("M", male)):
        given[sex == s] = table.draw(rng, int((sex == s).sum()))
    # Siblings (and twins) never share a given name: redraw clashes a pass at a time.
    for _ in range(_MAX_REDRAW_PASSES):
        clash = pd.DataFrame({"f": family, "g": given}).duplicated().to_numpy()
        if not clash.any():
            break
        for s, table in (("F", female), ("M", male)):
            redo = clash & (sex == s)
            given[redo] = table.draw(rng, int(redo.sum()))

    children = pd.DataFrame(
        {
            "student": idx,
            "family": family,
            "given": given,
            "sex": sex,
            "birth_date": birth,
            "paternal": fam["father_s1"].to_numpy()[family],
            "maternal": fam["mother_s1"].to_numpy()[family],
            "multiple_birth": group_size > 1,
            "multiple_group": birth_src,
            "birth_country": country,
            "birth_subdivision": subdivision,
        }
    )
    for col in ("father_given", "father_s1", "father_s2", "mother_given", "mother_s1"):
        children[col] = fam[col].to_numpy()[family]
    children["mother_s2"] = fam["mother_s2"].to_numpy()[family]
    children["cousin_of_family"] = fam["cousin_of_family"].to_numpy()[family]

    # --- enrolments: home, work, home, work ... every child of the family each time --------
    n_enrol = fam["n_enrolments"].to_numpy()[family]
    student = np.repeat(idx, n_enrol)
    k = _within_group_index(n_enrol)
    f = family[student]
    state = np.where(k % 2 == 0, fam["home_state"].to_numpy()[f], fam["work_state"].to_numpy()[f])
    # Seasons are about five months apart; the family enrols all children within a few days.
    offset = k * 150 + rng.integers(0, 5, size=len(student))
    date = fam["first_enrolment"].to_numpy()[f] + offset.astype("timedelta64[D]")
    enrolments = pd.DataFrame(
        {"student": student, "visit": k, "state": state.astype(object), "enrollment_date": date}
    )
    return children, enrolments


def other_given_names(children: pd.DataFrame, rng: np.random.Generator) -> np.ndarray:
    """Each child's other given name (a different name used at home), one per child.

    Drawn from the same pool as given names, never the child's own name nor a sibling's (a
    record under a sibling's name would be that sibling's, not an error of this child's).
    """
    sex = children["sex"].to_numpy(dtype=object)
    family = children["family"].to_numpy()
    taken = pd.MultiIndex.from_arrays([family, children["given"].to_numpy(dtype=object)])
    other = np.empty(len(children), dtype=object)
    redo = np.ones(len(children), dtype=bool)
    for _ in range(_MAX_REDRAW_PASSES):
        for s in ("F", "M"):
            pick = redo & (sex == s)
            other[pick] = tables.given_names(s).draw(rng, int(pick.sum()))
        redo = pd.MultiIndex.from_arrays([family, other]).isin(taken)
        if not redo.any():
            break
    return other
