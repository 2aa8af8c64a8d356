"""Reviewer accounts: who may act on the index, in which role, over which records.

An account is an id (the only thing the audit log and the decisions tables record), a display
name, a role and a scope. Credentials are not kept here: a login service keeps its password
hashes and tokens in its own table keyed by `account_id`.

* **Ids** are normalised once (Unicode NFKC, then casefold) and must then match
  `ACCOUNT_ID_PATTERN` (lower-case letters, digits, `.`, `_`, `-`). So `Maria.CA` and `maria.ca`
  are one account, and an id carrying a zero-width space or a control character is refused
  rather than silently becoming a second person (the two-person rule depends on it).
* **Roles** are ordered: reviewer < validator < administrator. A reviewer decides worklist items
  and proposes merges and splits; a validator also validates another person's proposal; an
  administrator also manages accounts and the index settings (two-person rule, thresholds,
  model).
* **Scope**: a state (or none: every state), optionally narrowed to a region and a district.
  Every action checks the actor's state against the states of the records involved (the state is
  the part of a record key before the colon): at least one record of the action must be in the
  actor's state, and every record of an upload must be. Records carry no region or district, so
  those narrow assignment and escalation only (see escalation in docs/review-workflow.md).

The functions here take an open connection and run inside the caller's transaction.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

import duckdb
import pandas as pd

from migrant_linkage.review.store import ReviewError, first_row

ROLES: tuple[str, ...] = ("reviewer", "validator", "administrator")

#: An account id after normalisation: starts with a letter or digit, 2 to 64 characters.
ACCOUNT_ID_PATTERN = re.compile(r"[a-z0-9][a-z0-9._-]{1,63}")

#: A state code (two letters, as the records' state column) and a region / district label.
STATE_PATTERN = re.compile(r"[A-Z]{2}")
AREA_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9 ._-]{0,63}")

DISPLAY_NAME_MAX = 120


class PermissionDeniedError(ReviewError):
    """The actor's role or scope does not allow the action (the message says which)."""


@dataclass(frozen=True)
class Account:
    """One reviewer account. `state` None means every state."""

    account_id: str
    display_name: str
    role: str
    state: str | None = None
    region: str | None = None
    district: str | None = None
    active: bool = True

    def has_role(self, role: str) -> bool:
        """True when this account's role is `role` or above it."""
        return ROLES.index(self.role) >= ROLES.index(role)

    def covers_state(self, state: str) -> bool:
        return self.state is None or self.state == state

    def covers_account(self, other: Account) -> bool:
        """True when `other`'s scope lies inside this account's scope."""
        for mine, theirs in (
            (self.state, other.state),
            (self.region, other.region),
            (self.district, other.district),
        ):
            if mine is not None and mine != theirs:
                return False
        return True

    @property
    def scope(self) -> str:
        parts = [self.state or "all states", self.region, self.district]
        return "/".join(p for p in parts if p)


def has_invisible(text: str) -> bool:
    """True when `text` holds a control, format (zero-width, bidi) or unassigned character."""
    return any(unicodedata.category(ch) in ("Cc", "Cf", "Cs", "Co", "Cn") for ch in text)


def normalize_account_id(raw: object) -> str:
    """The canonical form of an account id (NFKC, casefold), or ReviewError saying why not."""
    if not isinstance(raw, str) or not raw.strip():
        raise ReviewError("an account id is required (who acts)")
    if has_invisible(raw):
        raise ReviewError(
            "an account id may not contain control or invisible (zero-width) characters"
        )
    value = unicodedata.normalize("NFKC", raw).casefold().strip()
    if not ACCOUNT_ID_PATTERN.fullmatch(value):
        raise ReviewError(
            "an account id is 2-64 characters: letters, digits, '.', '_' or '-', starting with "
            "a letter or digit"
        )
    return value


def _clean_display_name(raw: object) -> str:
    if not isinstance(raw, str):
        raise ReviewError("a display name is required")
    value = " ".join(unicodedata.normalize("NFKC", raw).split())
    if not value or has_invisible(value) or len(value) > DISPLAY_NAME_MAX:
        raise ReviewError(
            f"a display name is 1-{DISPLAY_NAME_MAX} printable characters, no control characters"
        )
    return value


def _clean_area(raw: object, what: str, pattern: re.Pattern[str]) -> str | None:
    if raw is None:
        return None
    value = unicodedata.normalize("NFKC", str(raw)).strip()
    if what == "state":
        value = value.upper()
    if not pattern.fullmatch(value):
        expected = "two letters, e.g. TX" if what == "state" else "letters, digits, ' ._-'"
        raise ReviewError(f"account {what}: expected {expected}")
    return value


def make_account(
    account_id: str,
    *,
    display_name: str,
    role: str,
    state: str | None = None,
    region: str | None = None,
    district: str | None = None,
) -> Account:
    """A validated, normalised Account (not yet stored)."""
    if role not in ROLES:
        raise ReviewError(f"role {role!r}: use one of {', '.join(ROLES)}")
    state = _clean_area(state, "state", STATE_PATTERN)
    region = _clean_area(region, "region", AREA_PATTERN)
    district = _clean_area(district, "district", AREA_PATTERN)
    if region is not None and state is None:
        raise ReviewError("a region scope needs its state")
    if district is not None and region is None:
        raise ReviewError("a district scope needs its region")
    return Account(
        account_id=normalize_account_id(account_id),
        display_name=_clean_display_name(display_name),
        role=role,
        state=state,
        region=region,
        district=district,
    )


def insert_account(
    con: duckdb.DuckDBPyConnection, account: Account, *, created_by: str, at: datetime
) -> None:
    if first_row(con.execute("SELECT 1 FROM accounts WHERE account_id = ?", [account.account_id])):
        raise ReviewError(f"account {account.account_id} already exists")
    con.execute(
        "INSERT INTO accounts VALUES (?, ?, ?, ?, ?, ?, TRUE, ?, ?)",
        [
            account.account_id,
            account.display_name,
            account.role,
            account.state,
            account.region,
            account.district,
            at,
            created_by,
        ],
    )


def get_account(con: duckdb.DuckDBPyConnection, account_id: object) -> Account:
    """The stored account (id normalised first), or ReviewError if there is none."""
    key = normalize_account_id(account_id)
    row = first_row(
        con.execute(
            "SELECT account_id, display_name, role, state, region, district, active "
            "FROM accounts WHERE account_id = ?",
            [key],
        )
    )
    if row is None:
        raise ReviewError(
            f"no account {key}; an administrator adds it with `migrant-linkage index account add`"
        )
    return Account(*row)


def list_accounts(con: duckdb.DuckDBPyConnection) -> pd.DataFrame:
    return con.execute(
        "SELECT account_id, display_name, role, state, region, district, active, created_at, "
        "created_by FROM accounts ORDER BY account_id"
    ).df()


def state_of_key(record_key: str) -> str:
    """The submitting state of a record key (`TX:123` -> `TX`)."""
    return record_key.split(":", 1)[0]


def require(
    con: duckdb.DuckDBPyConnection,
    actor: object,
    *,
    action: str,
    role: str = "reviewer",
    states: Iterable[str] = (),
    every_state: bool = False,
) -> Account:
    """The actor's account, checked: it exists, is active, holds `role` or above, and its state
    scope covers at least one of `states` (the states of the records involved; all of them with
    `every_state`). Raises PermissionDeniedError naming the account, the action and what is
    missing (states only, never a record's content)."""
    account = get_account(con, actor)
    if not account.active:
        raise PermissionDeniedError(
            f"account {account.account_id} is deactivated; {action} refused"
        )
    if not account.has_role(role):
        raise PermissionDeniedError(
            f"{action} needs the {role} role or above; account {account.account_id} is a "
            f"{account.role}"
        )
    wanted = sorted({str(s) for s in states})
    if wanted and account.state is not None:
        outside = [s for s in wanted if not account.covers_state(s)]
        if (every_state and outside) or len(outside) == len(wanted):
            raise PermissionDeniedError(
                f"{action}: account {account.account_id} covers {account.scope}, not records "
                f"of {', '.join(outside)}"
            )
    return account


def states_of_keys(record_keys: Iterable[str]) -> set[str]:
    return {state_of_key(k) for k in record_keys}


def require_index_administrator(
    con: duckdb.DuckDBPyConnection, actor: object, *, action: str
) -> Account:
    """An administrator whose scope covers every state with records in the index (settings are
    index-wide, so a Texas administrator may change them only in an index of Texas records)."""
    states = [r[0] for r in con.execute("SELECT DISTINCT submitting_state FROM records").fetchall()]
    account = require(con, actor, action=action, role="administrator")
    if account.region is not None or any(not account.covers_state(s) for s in states):
        raise PermissionDeniedError(
            f"{action} changes the whole index; account {account.account_id} covers only "
            f"{account.scope}"
        )
    return account
