"""The HTTP API (service/api.py) through FastAPI's TestClient: what a state system and a data
administrator can and cannot do, and that every decision lands in the index."""

from __future__ import annotations

import time

import pandas as pd
import pytest

pytest.importorskip(
    "fastapi", reason="the service extra is not installed (pip install '.[service]')"
)

from fastapi.testclient import TestClient  # noqa: E402

from migrant_linkage.service.app import create_app  # noqa: E402
from test_service_helpers import add_accounts, build_index, population, sign_in  # noqa: E402


@pytest.fixture(scope="module")
def frame() -> pd.DataFrame:
    return population()


@pytest.fixture(scope="module")
def app(tmp_path_factory, frame):
    path = tmp_path_factory.mktemp("service") / "index.duckdb"
    build_index(path, frame)
    app = create_app(path, secure_cookies=False)
    app.state.tokens = add_accounts(app.state.service)
    yield app
    app.state.service.close()


@pytest.fixture
def client(app):
    with TestClient(app) as c:
        yield c


def bearer(app) -> dict[str, str]:
    return {"Authorization": f"Bearer {app.state.tokens['tx_token']}"}


def an_indexed_record(app) -> dict[str, str]:
    records = app.state.service.index.records()
    row = records.dropna(subset=["first_name", "last_name_1", "birth_date"]).iloc[0]
    return {"first_name": row.first_name, "last_name_1": row.last_name_1, "student": row.student_id}


def open_item(client, app, account_id="maria.ca") -> tuple[int, str]:
    csrf = sign_in(client, account_id)
    items = client.get("/api/worklist").json()
    assert items, "the fixture's uploads queue near matches"
    return int(items[0]["item_id"]), csrf


# ------------------------------------------------------------------------------- schema, auth
def test_openapi_schema_lists_the_endpoints(client):
    paths = client.get("/openapi.json").json()["paths"]
    for path in (
        "/api/search",
        "/api/match",
        "/api/uploads",
        "/api/jobs/{job_id}",
        "/api/worklist",
        "/api/items/{item_id}",
        "/api/items/{item_id}/decision",
        "/api/pending/{pending_id}/validation",
        "/api/audit",
        "/api/export",
        "/fhir/Patient/$match",
    ):
        assert path in paths, path


def test_a_request_without_token_or_session_is_refused(client):
    assert client.post("/api/search", json={"first_name": "ANA"}).status_code == 401


def test_an_unknown_token_is_refused(client):
    r = client.post(
        "/api/search", json={"first_name": "ANA"}, headers={"Authorization": "Bearer nope"}
    )
    assert r.status_code == 401 and "nope" not in r.text


# ------------------------------------------------------------------------------- search, match
def test_a_state_system_searches_by_name_and_gets_ranked_students(client, app):
    known = an_indexed_record(app)
    r = client.post(
        "/api/search",
        json={"first_name": known["first_name"], "last_name_1": known["last_name_1"]},
        headers=bearer(app),
    )
    assert r.status_code == 200
    body = r.json()
    assert known["student"] in [c["student_id"] for c in body["candidates"]]
    assert {"match_weight", "grade", "evidence"} <= set(body["candidates"][0])


def test_a_malformed_body_names_the_field_and_not_the_value(client, app):
    r = client.post("/api/search", json={"nickname": "LUPITA"}, headers=bearer(app))
    assert r.status_code == 422
    assert "nickname" in r.text and "LUPITA" not in r.text
    r = client.post("/api/search", json={"first_name": "ANA", "page": 0}, headers=bearer(app))
    assert r.status_code == 422 and "page" in r.text


def test_an_unusable_query_is_422_with_the_reason(client, app):
    r = client.post("/api/search", json={"birth_date": "99/99/2010"}, headers=bearer(app))
    assert r.status_code == 422 and "birth_date" in r.json()["detail"]


def test_match_answers_with_an_outcome_and_candidates(client, app, frame):
    tx = frame[frame["state"] == "TX"].iloc[0]
    record = {k: v for k, v in tx.items() if isinstance(v, str) and k in _contract()}
    r = client.post("/api/match", json={"record": record}, headers=bearer(app))
    assert r.status_code == 200
    assert r.json()["outcome"] in ("matched", "review", "new")


def test_fhir_match_returns_a_searchset_bundle_with_match_grades(client, app):
    known = an_indexed_record(app)
    body = {
        "resourceType": "Parameters",
        "parameter": [
            {
                "name": "resource",
                "resource": {
                    "resourceType": "Patient",
                    "name": [{"given": [known["first_name"]], "family": known["last_name_1"]}],
                },
            }
        ],
    }
    r = client.post("/fhir/Patient/$match", json=body, headers=bearer(app))
    assert r.status_code == 200
    bundle = r.json()
    assert bundle["resourceType"] == "Bundle" and bundle["type"] == "searchset"
    grades = {e["search"]["extension"][0]["valueCode"] for e in bundle["entry"]}
    assert grades <= {"certain", "probable", "possible", "certainly-not"}
    wrong = client.post(
        "/fhir/Patient/$match", json={"resourceType": "Patient"}, headers=bearer(app)
    )
    assert wrong.status_code == 422


def _contract() -> set[str]:
    from migrant_linkage.schema import INPUT_COLUMNS

    return set(INPUT_COLUMNS)


# ------------------------------------------------------------------------------- uploads
def test_an_upload_runs_as_a_job_and_reports_its_counts(client, app, frame):
    tx = frame[frame["state"] == "TX"].head(25)
    csv = tx.to_csv(index=False).encode()
    r = client.post(
        "/api/uploads",
        files={"file": ("tx.csv", csv, "text/csv")},
        data={"state": "TX"},
        headers=bearer(app),
    )
    assert r.status_code == 202
    job_id = r.json()["job_id"]
    deadline = time.monotonic() + 120
    while True:
        job = client.get(f"/api/jobs/{job_id}", headers=bearer(app)).json()
        if job["status"] in ("done", "failed") or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    assert job["status"] == "done", job
    counts = job["counts"]
    assert counts["records_in"] == counts["standardized"] + counts["rejected"] == len(tx)
    keys = set(app.state.service.index.assignments()["record_key"])
    assert {f"TX:{rid}" for rid in tx["record_id"]} <= keys


def test_a_state_token_cannot_upload_another_states_file(client, app, frame):
    r = client.post(
        "/api/uploads",
        files={"file": ("ca.csv", b"record_id,state\n1,CA\n", "text/csv")},
        data={"state": "CA"},
        headers=bearer(app),
    )
    assert r.status_code == 403


def test_a_state_token_sees_only_its_states_worklist(client, app):
    r = client.get("/api/worklist", headers=bearer(app))
    assert r.status_code == 200
    assert all("TX" in (i["state_l"], i["state_r"]) for i in r.json())


# ------------------------------------------------------------------------------- review
def test_a_reviewer_sees_only_items_touching_their_states(client, app):
    sign_in(client, "jose.fl")
    items = client.get("/api/worklist").json()
    assert all("FL" in (i["state_l"], i["state_r"]) for i in items)


def test_session_writes_need_the_csrf_header(client, app):
    item_id, csrf = open_item(client, app)
    r = client.post(f"/api/items/{item_id}/decision", json={"decision": "skip"})
    assert r.status_code == 403
    r = client.post(
        f"/api/items/{item_id}/decision",
        json={"decision": "skip"},
        headers={"x-csrf-token": csrf},
    )
    assert r.status_code == 200


def test_a_proposed_merge_takes_effect_when_a_second_reviewer_validates(client, app):
    index = app.state.service.index
    item_id, csrf = open_item(client, app, "maria.ca")
    item = client.get(f"/api/items/{item_id}").json()["item"]
    r = client.post(
        f"/api/items/{item_id}/decision",
        json={"decision": "match", "comment": "same parents"},
        headers={"x-csrf-token": csrf},
    )
    assert r.status_code == 200
    pending_id = r.json()["pending_id"]
    own = client.post(
        f"/api/pending/{pending_id}/validation",
        json={"approve": True},
        headers={"x-csrf-token": csrf},
    )
    assert own.status_code == 403  # a reviewer proposes; validating needs a validator
    csrf = sign_in(client, "ana.ca")
    r = client.post(
        f"/api/pending/{pending_id}/validation",
        json={"approve": True},
        headers={"x-csrf-token": csrf},
    )
    assert r.status_code == 200, r.text
    assert index.student_of(item["record_key_l"]) == index.student_of(item["record_key_r"])
    survivor = index.student_of(item["record_key_l"])
    trail = client.get(f"/api/students/{survivor}/audit").json()
    assert "merge" in {t["action"] for t in trail}


def test_a_validator_cannot_validate_their_own_proposal(client, app):
    item_id, csrf = open_item(client, app, "ana.ca")
    headers = {"x-csrf-token": csrf}
    r = client.post(f"/api/items/{item_id}/decision", json={"decision": "match"}, headers=headers)
    assert r.status_code == 200
    own = client.post(
        f"/api/pending/{r.json()['pending_id']}/validation", json={"approve": True}, headers=headers
    )
    assert own.status_code == 409 and "second" in own.json()["detail"]


def test_deciding_an_item_already_decided_is_a_conflict(client, app):
    item_id, csrf = open_item(client, app)
    headers = {"x-csrf-token": csrf}
    first = client.post(
        f"/api/items/{item_id}/decision", json={"decision": "not-a-match"}, headers=headers
    )
    assert first.status_code == 200
    again = client.post(
        f"/api/items/{item_id}/decision", json={"decision": "match"}, headers=headers
    )
    assert again.status_code == 409


def test_batch_decisions_report_each_item(client, app):
    csrf = sign_in(client, "ana.ca")
    items = client.get("/api/worklist").json()[:2]
    body = {"decisions": [{"item_id": int(i["item_id"]), "decision": "skip"} for i in items]}
    body["decisions"].append({"item_id": 999999, "decision": "skip"})
    r = client.post("/api/decisions", json=body, headers={"x-csrf-token": csrf})
    assert r.status_code == 200
    results = r.json()
    assert [x["ok"] for x in results] == [True] * len(items) + [False]
    assert results[-1]["status"] == 404


def test_a_reviewer_cannot_open_an_item_outside_their_states(client, app):
    with app.state.service.index._read() as con:
        ca_only = con.execute(
            "SELECT item_id FROM worklist WHERE record_key_l LIKE 'CA:%' "
            "AND record_key_r LIKE 'CA:%' ORDER BY item_id LIMIT 1"
        ).fetchall()
    assert ca_only, "the fixture queues items inside CA"
    sign_in(client, "jose.fl")
    assert client.get(f"/api/items/{ca_only[0][0]}").status_code == 403


def test_export_of_a_state_reviewer_holds_only_their_states(client, app):
    sign_in(client, "jose.fl")
    r = client.get("/api/export")
    assert r.status_code == 200
    rows = pd.read_csv(__import__("io").StringIO(r.text), dtype=str)
    assert set(rows["state"]) == {"FL"}
    assert client.get("/api/export?consolidated=true").status_code == 403


def test_the_audit_log_replays_after_the_api_work(client, app):
    sign_in(client, "admin")
    assert client.get("/api/audit/check").json() == {"replays": True}
    assert client.get("/api/audit?limit=5").status_code == 200
    sign_in(client, "maria.ca")
    assert client.get("/api/audit").status_code == 403


def test_responses_carry_the_security_headers(client):
    r = client.get("/login")
    assert r.headers["x-frame-options"] == "DENY"
    assert "frame-ancestors 'none'" in r.headers["content-security-policy"]
