"""Shared set-up for the service tests: a small index with a worklist, accounts, sign-in."""

from __future__ import annotations

import re
from pathlib import Path

import pandas as pd

from migrant_linkage import synthetic
from migrant_linkage.review import MasterIndex

PASSWORD = "a long enough passphrase"
STATES = ("CA", "FL", "TX")


def population(n: int = 300, seed: int = 5) -> pd.DataFrame:
    return synthetic.generate(n, seed=seed, states=list(STATES))


def build_index(path: Path, frame: pd.DataFrame, *, two_person_rule: bool = True) -> MasterIndex:
    """CA and FL uploaded (TX kept back for uploads through the API)."""
    index = MasterIndex.create(path, two_person_rule=two_person_rule, administrator="admin")
    for state in ("CA", "FL"):
        part = frame[frame["state"] == state].reset_index(drop=True)
        index.upload(part, state=state, actor="admin")
    return index


def add_accounts(service) -> dict[str, str]:
    """Index accounts (review/accounts.py) with passwords: a CA reviewer (the proposer), a CA
    validator, an FL reviewer, and a TX reviewer used as the state system's token; "admin"
    (every state) made the index. Returns {"tx_token": ...}."""
    index = service.index
    for account_id, role, state in (
        ("maria.ca", "reviewer", "CA"),
        ("ana.ca", "validator", "CA"),
        ("jose.fl", "reviewer", "FL"),
        ("tx.system", "reviewer", "TX"),
    ):
        index.add_account(
            account_id, display_name=account_id, role=role, state=state, actor="admin"
        )
    for account_id in ("maria.ca", "ana.ca", "jose.fl", "admin"):
        service.accounts.set_password(account_id, PASSWORD)
    return {"tx_token": service.accounts.issue_token("tx.system", "TX")}


def sign_in(client, account_id: str, password: str = PASSWORD) -> str:
    """Sign in through the form; return the session's CSRF token (read from a page)."""
    client.cookies.clear()
    page = client.get("/login")
    csrf = re.search(r'name="csrf" value="([^"]+)"', page.text).group(1)
    response = client.post(
        "/login",
        data={"account_id": account_id, "password": password, "csrf": csrf},
        follow_redirects=False,
    )
    assert response.status_code == 303, response.text
    worklist = client.get("/worklist")
    return re.search(r'name="csrf" value="([^"]+)"', worklist.text).group(1)
