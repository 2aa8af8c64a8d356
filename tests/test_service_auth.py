"""Accounts and credentials (service/auth.py): hashes, tokens, lockout, the accounts-due report,
and the session cookie's flags."""

from __future__ import annotations

import re
from datetime import datetime, timedelta

import duckdb
import pytest

pytest.importorskip(
    "argon2", reason="the service extra is not installed (pip install '.[service]')"
)
pytest.importorskip(
    "fastapi", reason="the service extra is not installed (pip install '.[service]')"
)

from fastapi.testclient import TestClient  # noqa: E402

from migrant_linkage.review import MasterIndex, ReviewError  # noqa: E402
from migrant_linkage.service.app import create_app  # noqa: E402
from migrant_linkage.service.auth import AuthError  # noqa: E402
from migrant_linkage.service.state import Service  # noqa: E402

PASSWORD = "correct horse battery staple"


class Clock:
    def __init__(self) -> None:
        self.now = datetime(2026, 1, 5, 9, 0)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, days: float) -> None:
        self.now += timedelta(days=days)


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def service(tmp_path, clock):
    MasterIndex.create(tmp_path / "index.duckdb", administrator="admin")
    served = Service(tmp_path / "index.duckdb", clock=clock, inactive_days=90)
    yield served
    served.close()


def add(service, account_id: str, role: str = "reviewer", state: str | None = "CA") -> None:
    service.index.add_account(
        account_id, display_name=account_id, role=role, state=state, actor="admin"
    )


def stored(service, sql: str) -> list[tuple]:
    with service.index._read() as con:
        return con.execute(sql).fetchall()


def test_passwords_are_stored_as_argon2_hashes_never_in_clear(service):
    add(service, "maria.ca", state="CA")
    service.accounts.set_password("maria.ca", PASSWORD)
    (digest,) = stored(service, "SELECT password_hash FROM service_credentials")[0]
    assert digest.startswith("$argon2id$") and PASSWORD not in digest
    dump = str(stored(service, "SELECT * FROM service_credentials"))
    assert PASSWORD not in dump


def test_a_wrong_password_is_refused_without_saying_which_part_was_wrong(service):
    add(service, "maria.ca", state="CA")
    service.accounts.set_password("maria.ca", PASSWORD)
    with pytest.raises(AuthError) as wrong:
        service.accounts.login("maria.ca", "not the password at all")
    with pytest.raises(AuthError) as unknown:
        service.accounts.login("nobody", PASSWORD)
    assert str(wrong.value) == str(unknown.value)
    assert service.accounts.login("maria.ca", PASSWORD).states == ("CA",)


def test_a_short_password_is_refused(service):
    add(service, "maria.ca", state="CA")
    with pytest.raises(ReviewError, match="at least"):
        service.accounts.set_password("maria.ca", "short")


def test_an_api_token_acts_for_its_one_state_and_only_its_hash_is_kept(service):
    add(service, "tx.system", state="TX")
    token = service.accounts.issue_token("tx.system", "TX")
    account, state = service.accounts.from_token(token)
    assert state == "TX" and account.serves("TX") and not account.serves("NM")
    assert token not in str(stored(service, "SELECT * FROM service_tokens"))
    with pytest.raises(ReviewError, match="does not serve"):
        service.accounts.issue_token("tx.system", "CA")
    service.accounts.revoke_token(token)
    with pytest.raises(AuthError, match="revoked"):
        service.accounts.from_token(token)


def test_an_account_unused_past_the_limit_is_locked_at_its_next_login(service, clock):
    add(service, "maria.ca", state="CA")
    service.accounts.set_password("maria.ca", PASSWORD)
    clock.advance(89)
    service.accounts.login("maria.ca", PASSWORD)  # used: the count starts again
    clock.advance(91)
    with pytest.raises(AuthError, match="locked"):
        service.accounts.login("maria.ca", PASSWORD)
    with pytest.raises(AuthError, match="locked"):  # and stays locked
        service.accounts.login("maria.ca", PASSWORD)
    service.accounts.unlock("maria.ca")
    assert service.accounts.login("maria.ca", PASSWORD).account_id == "maria.ca"


def test_accounts_due_lists_old_passwords_idle_accounts_and_reverification(service, clock):
    add(service, "maria.ca", state="CA")
    service.accounts.set_password("maria.ca", PASSWORD)
    add(service, "jose.fl", state="FL")
    service.accounts.set_password("jose.fl", PASSWORD)
    assert service.accounts.accounts_due() == []
    for day in range(4):  # jose signs in every 80 days and is re-verified on day 160
        clock.advance(80)
        service.accounts.login("jose.fl", PASSWORD)
        if day == 1:
            service.accounts.reverify("jose.fl")
    clock.advance(50)  # day 370: maria idle 370 days; jose's password 370 days old
    due = {row["account_id"]: row["reasons"] for row in service.accounts.accounts_due()}
    assert any("unused" in r for r in due["maria.ca"])
    assert any("re-verification" in r for r in due["maria.ca"])
    assert any("password older" in r for r in due["jose.fl"])
    assert not any("re-verification" in r for r in due["jose.fl"])


def test_a_token_state_must_be_a_state_code_the_account_serves(service):
    add(service, "maria.ca", state="CA")
    with pytest.raises(ReviewError, match="two-letter"):
        service.accounts.issue_token("maria.ca", "CAL")
    with pytest.raises(ReviewError, match="does not serve"):
        service.accounts.issue_token("maria.ca", "TX")


def test_a_deactivated_account_cannot_sign_in(service):
    add(service, "maria.ca", state="CA")
    service.accounts.set_password("maria.ca", PASSWORD)
    service.index.deactivate_account("maria.ca", actor="admin", reason="left the programme")
    with pytest.raises(AuthError, match="deactivated"):
        service.accounts.login("maria.ca", PASSWORD)


def test_the_session_cookie_is_http_only_strict_and_secure(tmp_path):
    MasterIndex.create(tmp_path / "index.duckdb", administrator="admin")
    app = create_app(tmp_path / "index.duckdb")  # secure cookies: the default
    add(app.state.service, "maria.ca", state="CA")
    app.state.service.accounts.set_password("maria.ca", PASSWORD)
    with TestClient(app, base_url="https://testserver") as client:
        page = client.get("/login")
        csrf = re.search(r'name="csrf" value="([^"]+)"', page.text).group(1)
        r = client.post(
            "/login",
            data={"account_id": "maria.ca", "password": PASSWORD, "csrf": csrf},
            follow_redirects=False,
        )
        cookie = next(c for c in r.headers.get_list("set-cookie") if c.startswith("ml_session="))
        flags = {part.strip().lower() for part in cookie.split(";")}
        assert {"httponly", "secure", "samesite=strict"} <= flags
        forged = client.post(
            "/login", data={"account_id": "maria.ca", "password": PASSWORD, "csrf": "forged"}
        )
        assert forged.status_code == 403
    app.state.service.close()


def test_no_password_reaches_the_index_file_in_clear(tmp_path):
    MasterIndex.create(tmp_path / "index.duckdb", administrator="admin")
    served = Service(tmp_path / "index.duckdb")
    add(served, "maria.ca", state="CA")
    served.accounts.set_password("maria.ca", PASSWORD)
    served.close()
    duckdb.connect(str(tmp_path / "index.duckdb")).execute("CHECKPOINT").close()
    assert PASSWORD.encode() not in (tmp_path / "index.duckdb").read_bytes()
