"""Who may use the service: accounts, passwords, API tokens, and the checks on every request.

Accounts (id, role, state scope) are the review workflow's (review/accounts.py: added by an
administrator with `migrant-linkage index account add`; the index checks every action's role and
scope itself). What is ours is the credential, in tables keyed by their account id:

* **passwords** are stored as argon2id hashes (argon2-cffi), never in clear and never logged;
* **API tokens** (for state systems) are random 256-bit strings shown once; only their SHA-256
  is stored (a token is high-entropy, so a slow hash adds nothing), each scoped to one state;
* an account unused for `inactive_days` (default 90) is **locked** at its next login or token
  use, and only an administrator unlocks it;
* the date the password was set and the date the account was last **re-verified** (once a year,
  as the records-exchange guide asks) are kept; `accounts_due` lists who is due.

Tables (created on first use, in the index file: one file to back up):
``service_credentials`` (keyed by account id) and ``service_tokens``.

Roles are the review workflow's: ``reviewer`` (search, worklist, decide), ``validator`` (also
validates another person's merge), ``administrator`` (also the audit log, the consolidated
export and the accounts report). A state system uses an API token of an account in its state.
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import duckdb

from migrant_linkage.review.store import ReviewError, utc_now

ROLES = ("reviewer", "validator", "administrator")
ALL_STATES = "*"

DEFAULT_INACTIVE_DAYS = 90
DEFAULT_PASSWORD_MAX_AGE_DAYS = 365
DEFAULT_REVERIFY_DAYS = 365
MIN_PASSWORD_LENGTH = 12
TOUCH_INTERVAL = timedelta(hours=1)

_DDL = (
    """CREATE TABLE IF NOT EXISTS service_credentials (
        account_id VARCHAR PRIMARY KEY,
        password_hash VARCHAR,
        password_set_at TIMESTAMP,
        verified_at TIMESTAMP,            -- last annual re-verification
        last_used_at TIMESTAMP,
        locked_at TIMESTAMP,
        locked_reason VARCHAR
    )""",
    """CREATE TABLE IF NOT EXISTS service_tokens (
        token_hash VARCHAR PRIMARY KEY,
        account_id VARCHAR NOT NULL,
        state VARCHAR NOT NULL,
        created_at TIMESTAMP NOT NULL,
        last_used_at TIMESTAMP,
        revoked_at TIMESTAMP
    )""",
)


class AuthError(PermissionError):
    """Not signed in, wrong password or token, locked, or outside the account's scope. The
    message never repeats a password or a token."""


@dataclass(frozen=True)
class Account:
    account_id: str
    role: str
    states: tuple[str, ...]  # ("*",) for every state

    @property
    def is_admin(self) -> bool:
        return self.role == "administrator"

    def has_role(self, role: str) -> bool:
        """This role or one above it (reviewer < validator < administrator)."""
        return ROLES.index(self.role) >= ROLES.index(role)

    def serves(self, state: str | None) -> bool:
        if ALL_STATES in self.states:
            return True
        return state is not None and state.upper() in self.states

    def serves_any(self, states: Iterable[str | None]) -> bool:
        return any(self.serves(s) for s in states)

    def scope(self) -> list[str] | None:
        """The states this account may see, or None for all."""
        return None if ALL_STATES in self.states else list(self.states)


def _hasher():
    from argon2 import PasswordHasher

    return PasswordHasher()


def ensure_tables(con: duckdb.DuckDBPyConnection) -> None:
    for statement in _DDL:
        con.execute(statement)


def _states(states: Iterable[str] | str) -> str:
    items = [states] if isinstance(states, str) else list(states)
    parts = sorted({s.strip().upper() for item in items for s in item.split(",") if s.strip()})
    if not parts:
        raise ReviewError("an account needs at least one state, or * for every state")
    if ALL_STATES in parts and len(parts) > 1:
        raise ReviewError("states: * means every state; give it alone")
    for p in parts:
        if p != ALL_STATES and not (len(p) == 2 and p.isalpha()):
            raise ReviewError(f"states: {p!r} is not a two-letter state code")
    return ",".join(parts)


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


class Accounts:
    """Accounts and credentials in one index file. Every method is one short transaction on
    the connection factory given (the service passes its own, which serializes writes)."""

    def __init__(
        self,
        write: Any,
        read: Any,
        *,
        clock=utc_now,
        inactive_days: int = DEFAULT_INACTIVE_DAYS,
        password_max_age_days: int = DEFAULT_PASSWORD_MAX_AGE_DAYS,
        reverify_days: int = DEFAULT_REVERIFY_DAYS,
    ):
        self._write = write  # callable(work) -> result, in one transaction
        self._read = read  # context manager -> connection
        self.clock = clock
        self.inactive_days = inactive_days
        self.password_max_age_days = password_max_age_days
        self.reverify_days = reverify_days
        self._write(ensure_tables)

    # ---------------------------------------------------------------- administration
    def _ensure_row(self, con, account_id: str) -> None:
        """A credentials row for an account of the index (made on first use: the verification
        and use dates start then)."""
        now = self.clock()
        con.execute(
            "INSERT INTO service_credentials VALUES (?, NULL, NULL, ?, ?, NULL, NULL) "
            "ON CONFLICT (account_id) DO NOTHING",
            [account_id, now, now],
        )

    def set_password(self, account_id: str, password: str) -> None:
        if len(password or "") < MIN_PASSWORD_LENGTH:
            raise ReviewError(f"a password needs at least {MIN_PASSWORD_LENGTH} characters")
        account = self.get(account_id)
        digest = _hasher().hash(password)
        now = self.clock()

        def work(con):
            self._ensure_row(con, account.account_id)
            self._update(
                con,
                account.account_id,
                "password_hash = ?, password_set_at = ?, last_used_at = ?",
                [digest, now, now],
            )

        self._write(work)

    def reverify(self, account_id: str) -> None:
        """An administrator confirmed the account still needs its access (the annual check)."""
        now = self.clock()
        self._write(lambda con: self._update(con, account_id, "verified_at = ?", [now]))

    def unlock(self, account_id: str) -> None:
        now = self.clock()
        self._write(
            lambda con: self._update(
                con,
                account_id,
                "locked_at = NULL, locked_reason = NULL, last_used_at = ?",
                [now],
            )
        )

    def lock(self, account_id: str, reason: str) -> None:
        now = self.clock()
        self._write(
            lambda con: self._update(
                con, account_id, "locked_at = ?, locked_reason = ?", [now, reason]
            )
        )

    def issue_token(self, account_id: str, state: str) -> str:
        """A new API token for `account_id`, valid for one state (which the account serves).
        Returned once; only its hash is kept."""
        account = self.get(account_id)
        state = _states(state)
        if state == ALL_STATES or not account.serves(state):
            raise ReviewError(f"account {account.account_id} does not serve {state}")
        token = "ml_" + secrets.token_urlsafe(32)
        now = self.clock()

        def work(con):
            self._ensure_row(con, account.account_id)
            con.execute(
                "INSERT INTO service_tokens VALUES (?, ?, ?, ?, NULL, NULL)",
                [_token_hash(token), account.account_id, state, now],
            )

        self._write(work)
        return token

    def revoke_token(self, token: str) -> None:
        now = self.clock()
        self._write(
            lambda con: con.execute(
                "UPDATE service_tokens SET revoked_at = ? WHERE token_hash = ?",
                [now, _token_hash(token)],
            )
        )

    # ---------------------------------------------------------------- reading
    def get(self, account_id: str) -> Account:
        """The index's account (review/accounts.py), as this module's Account; a deactivated
        account cannot sign in."""
        from migrant_linkage.review.accounts import get_account

        with self._read() as con:
            account = get_account(con, account_id)
        if not account.active:
            raise AuthError(f"account {account.account_id} is deactivated")
        return Account(account.account_id, account.role, (account.state or ALL_STATES,))

    def accounts_due(self) -> list[dict[str, Any]]:
        """Accounts an administrator must act on: locked, inactive past the limit, password
        older than the maximum age, or annual re-verification due; with the dates."""
        now = self.clock()
        with self._read() as con:
            rows = con.execute(
                """SELECT a.account_id, a.role, coalesce(a.state, '*'), c.password_set_at,
                          c.verified_at, c.last_used_at, c.locked_at, c.locked_reason,
                          c.password_hash IS NULL
                   FROM accounts a JOIN service_credentials c USING (account_id)
                   WHERE a.active ORDER BY a.account_id"""
            ).fetchall()
        due = []
        for account_id, role, states, set_at, verified, used, locked, why, no_pw in rows:
            reasons = []
            if locked is not None:
                reasons.append(f"locked: {why}")
            elif used is not None and now - used > timedelta(days=self.inactive_days):
                reasons.append(f"unused for more than {self.inactive_days} days")
            if (
                not no_pw
                and set_at is not None
                and now - set_at > timedelta(days=self.password_max_age_days)
            ):
                reasons.append(f"password older than {self.password_max_age_days} days")
            if verified is None or now - verified > timedelta(days=self.reverify_days):
                reasons.append("annual re-verification due")
            if reasons:
                due.append(
                    {
                        "account_id": account_id,
                        "role": role,
                        "states": states,
                        "password_set_at": set_at,
                        "verified_at": verified,
                        "last_used_at": used,
                        "reasons": reasons,
                    }
                )
        return due

    # ---------------------------------------------------------------- signing in
    def login(self, account_id: str, password: str) -> Account:
        """The account, if the password is right and the account is not locked. An account
        idle past the limit is locked now (and the login refused)."""
        from argon2.exceptions import InvalidHashError, VerificationError

        from migrant_linkage.review.accounts import normalize_account_id

        try:
            account_id = normalize_account_id(account_id)
        except ReviewError:
            raise AuthError("wrong account or password") from None
        with self._read() as con:
            rows = con.execute(
                "SELECT password_hash, last_used_at, locked_at FROM service_credentials "
                "WHERE account_id = ?",
                [account_id],
            ).fetchall()
        refused = AuthError("wrong account or password")
        if not rows or rows[0][0] is None:
            raise refused
        digest, used, locked = rows[0]
        try:
            _hasher().verify(digest, password)
        except (VerificationError, InvalidHashError):
            raise refused from None
        self._check_active(account_id, used, locked)
        self._touch(account_id, used)
        return self.get(account_id)

    def from_token(self, token: str) -> tuple[Account, str]:
        """(account, the token's state) for a valid token."""
        with self._read() as con:
            rows = con.execute(
                """SELECT t.account_id, t.state, t.revoked_at, c.last_used_at, c.locked_at
                   FROM service_tokens t JOIN service_credentials c USING (account_id)
                   WHERE t.token_hash = ?""",
                [_token_hash(token)],
            ).fetchall()
        if not rows or rows[0][2] is not None:
            raise AuthError("unknown or revoked API token")
        account_id, state, _, used, locked = rows[0]
        self._check_active(account_id, used, locked)
        self._touch(account_id, used, token)
        account = self.get(account_id)
        # A token acts for its one state, whatever else the account serves.
        return Account(account.account_id, account.role, (state,)), state

    def _check_active(
        self, account_id: str, used: datetime | None, locked: datetime | None
    ) -> None:
        if locked is not None:
            raise AuthError(f"account {account_id} is locked; ask an administrator")
        if used is not None and self.clock() - used > timedelta(days=self.inactive_days):
            self.lock(account_id, f"unused for more than {self.inactive_days} days")
            raise AuthError(
                f"account {account_id} was unused for more than {self.inactive_days} days and "
                "is now locked; ask an administrator"
            )

    def _touch(self, account_id: str, used: datetime | None, token: str | None = None) -> None:
        """Record use (at most once an hour: the lockout counts days, and a write per request
        would serialize every reader behind the writer)."""
        now = self.clock()
        if used is not None and now - used < TOUCH_INTERVAL:
            return

        def work(con):
            con.execute(
                "UPDATE service_credentials SET last_used_at = ? WHERE account_id = ?",
                [now, account_id],
            )
            if token is not None:
                con.execute(
                    "UPDATE service_tokens SET last_used_at = ? WHERE token_hash = ?",
                    [now, _token_hash(token)],
                )

        self._write(work)

    @staticmethod
    def _update(con, account_id: str, assignments: str, params: list[Any]) -> None:
        found = con.execute(
            f"UPDATE service_credentials SET {assignments} WHERE account_id = ? RETURNING 1",
            [*params, account_id],
        ).fetchall()
        if not found:
            raise ReviewError(f"no account {account_id}")
