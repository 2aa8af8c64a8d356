"""Worklist item types and the one place their state transitions are checked.

MSIX has four worklist types; here they are:

* ``near_match``              a worklist row: a pair an upload could not settle;
* ``validate_merge``          a "match" decided on a near match under the two-person rule,
                              waiting for a validator (a proposal with an item);
* ``validate_user_merge``     a merge a reviewer started by hand (a proposal, no item);
* ``validate_user_split``     a split (or the undo of a merge, which splits it again) a reviewer
                              started, waiting for a validator.

An index administrator's model change under the two-person rule is a proposal too
(``validate_settings``; not an MSIX type).

Worklist rows and proposals each have a status; `advance(machine, status, event)` is the only
function that changes one, and it refuses every transition not listed in the tables below with
an error naming the item's status and the event (tests walk every pair).
"""

from __future__ import annotations

from typing import Any

import pandas as pd

from migrant_linkage.review.store import ReviewError

ITEM_TYPES: tuple[str, ...] = (
    "near_match",
    "validate_merge",
    "validate_user_merge",
    "validate_user_split",
    "validate_settings",
)

#: Worklist rows. open: to decide; waiting: a record of it is locked by another item;
#: skipped: looked at, still to decide; pending: a "match" waits for its validator;
#: decided / resolved (a merge put both records in one student) / superseded: closed.
ITEM_STATUSES: tuple[str, ...] = (
    "open",
    "waiting",
    "skipped",
    "pending",
    "decided",
    "resolved",
    "superseded",
)
ITEM_EVENTS: tuple[str, ...] = (
    "release",
    "skip",
    "decide",
    "propose",
    "approve",
    "reject",
    "resolve",
    "supersede",
)
ITEM_TRANSITIONS: dict[tuple[str, str], str] = {
    ("waiting", "release"): "open",
    ("waiting", "resolve"): "resolved",
    ("waiting", "supersede"): "superseded",
    ("open", "skip"): "skipped",
    ("skipped", "skip"): "skipped",
    ("open", "decide"): "decided",
    ("skipped", "decide"): "decided",
    ("open", "propose"): "pending",
    ("skipped", "propose"): "pending",
    ("pending", "approve"): "decided",
    ("pending", "reject"): "open",
    ("open", "resolve"): "resolved",
    ("skipped", "resolve"): "resolved",
    ("open", "supersede"): "superseded",
    ("skipped", "supersede"): "superseded",
    ("pending", "supersede"): "superseded",
}

#: Proposals waiting for a second person (the pending_merges table).
PROPOSAL_STATUSES: tuple[str, ...] = ("pending", "validated", "rejected", "superseded")
PROPOSAL_EVENTS: tuple[str, ...] = ("approve", "reject", "supersede")
PROPOSAL_TRANSITIONS: dict[tuple[str, str], str] = {
    ("pending", "approve"): "validated",
    ("pending", "reject"): "rejected",
    ("pending", "supersede"): "superseded",
}

MACHINES: dict[str, dict[tuple[str, str], str]] = {
    "item": ITEM_TRANSITIONS,
    "proposal": PROPOSAL_TRANSITIONS,
}

#: Why an event is refused, said the way a reviewer would read it.
_REFUSAL = {
    "waiting": "a record of it is under review in another item; decide that item first",
    "pending": "a merge of it waits for a validator",
    "decided": "it was decided already",
    "resolved": "a merge already put both records in one student",
    "superseded": "a record of it changed since",
    "validated": "it was validated already",
    "rejected": "it was rejected already",
}


class IllegalTransitionError(ReviewError):
    """An event that the item's current status does not allow."""


def advance(machine: str, status: str, event: str, *, label: str) -> str:
    """The status after `event`, or IllegalTransitionError naming `label` (e.g. "worklist
    item 12"), its status and why."""
    table = MACHINES[machine]
    new = table.get((status, event))
    if new is None:
        why = _REFUSAL.get(status, f"it is {status}")
        raise IllegalTransitionError(f"{label} is {status}: cannot {event} it ({why})")
    return new


def proposal_type(kind: str, item_id: Any) -> str:
    """The MSIX worklist type of a proposal row."""
    if kind == "merge":
        return "validate_user_merge" if pd.isna(item_id) else "validate_merge"
    if kind in ("split", "undo"):
        return "validate_user_split"
    return "validate_settings"
