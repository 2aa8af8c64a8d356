"""The JSON API: search, match, uploads (jobs), worklist, items, decisions, validation, audit,
export, and the administrator's report; plus a thin FHIR `Patient/$match`.

Every route takes the caller from `authenticated` (an API token, or a browser session with its
CSRF header on writes) and checks the account's role and states before it reads or writes.
Bodies are pydantic models: a malformed body is a 422 naming the field. Index errors map to
clear statuses: 404 (no such item), 409 (already decided, same reviewer validating), 422 (a
query the index cannot run), 503 (the index is busy).
"""

from __future__ import annotations

import io
import json
import math
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any, Literal

import numpy as np
import pandas as pd
from fastapi import APIRouter, Depends, File, Form, HTTPException, Query, Request, UploadFile
from fastapi.responses import StreamingResponse
from pydantic import BaseModel, ConfigDict, Field

from migrant_linkage.review import search as search_module
from migrant_linkage.review.match import match
from migrant_linkage.review.store import IndexBusyError, ReviewError
from migrant_linkage.service.auth import Account, AuthError
from migrant_linkage.service.state import Service

SESSION_COOKIE = "ml_session"
CSRF_HEADER = "x-csrf-token"


# ------------------------------------------------------------------------------- bodies
class SearchBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    first_name: str | None = None
    middle_name: str | None = None
    last_name_1: str | None = None
    last_name_2: str | None = None
    suffix: str | None = None
    sex: str | None = None
    birth_date: str | None = None
    multiple_birth: str | None = None
    birth_city: str | None = None
    birth_state: str | None = None
    birth_country: str | None = None
    parent1_first: str | None = None
    parent1_last: str | None = None
    parent2_first: str | None = None
    parent2_last: str | None = None
    state: str | None = Field(None, description="the state of state_student_id")
    state_student_id: str | None = None
    msix_id: str | None = None
    in_state: str | None = Field(None, description="only records sent by this state")
    page: int = Field(1, ge=1)
    page_size: int = Field(search_module.DEFAULT_PAGE_SIZE, ge=1, le=search_module.MAX_PAGE_SIZE)


class MatchBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    record: dict[str, str | None] = Field(..., description="record-contract fields")
    commit: bool = False


class DecisionBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    decision: Literal["match", "not-a-match", "skip"]
    comment: str | None = Field(None, max_length=2000)


class BatchDecision(DecisionBody):
    item_id: int


class BatchBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    decisions: list[BatchDecision] = Field(..., min_length=1, max_length=200)


class ValidationBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    approve: bool = True
    comment: str | None = Field(None, max_length=2000)


# ------------------------------------------------------------------------------- helpers
def service_of(request: Request) -> Service:
    return request.app.state.service


def authenticated(request: Request) -> Account:
    """The caller: a bearer token (state systems) or a browser session (with the CSRF header
    on anything that writes)."""
    service = service_of(request)
    header = request.headers.get("authorization", "")
    try:
        if header.lower().startswith("bearer "):
            account, _ = service.accounts.from_token(header[7:].strip())
            return account
    except AuthError as exc:
        raise HTTPException(401, str(exc)) from None
    session = service.session(request.cookies.get(SESSION_COOKIE))
    if session is None:
        raise HTTPException(401, "sign in, or send an API token (Authorization: Bearer ...)")
    if request.method not in ("GET", "HEAD") and request.headers.get(CSRF_HEADER) != session.csrf:
        raise HTTPException(403, f"missing or wrong {CSRF_HEADER} header")
    return session.account


Caller = Annotated[Account, Depends(authenticated)]


def need_role(account: Account, role: str) -> None:
    """The account's role is `role` or above (reviewer < validator < administrator)."""
    if not account.has_role(role):
        raise HTTPException(403, f"this needs the role {role} or above")


def need_state(account: Account, *states: str | None) -> None:
    if not account.serves_any(states):
        raise HTTPException(403, f"account {account.account_id} does not serve this state")


def index_call(work: Callable[[], Any]) -> Any:
    """Run an index call, turning its errors into HTTP statuses (messages name ids only)."""
    try:
        return work()
    except search_module.SearchError as exc:
        raise HTTPException(422, str(exc)) from None
    except IndexBusyError as exc:
        raise HTTPException(503, str(exc)) from None
    except ReviewError as exc:
        text = str(exc)
        raise HTTPException(404 if text.startswith("no ") else 409, text) from None


def jsonable(value: Any) -> Any:
    """Frames and numpy values as plain JSON (NaN and NaT as null)."""
    if isinstance(value, pd.DataFrame):
        return [jsonable(r) for r in value.to_dict("records")]
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple | np.ndarray):
        return [jsonable(v) for v in value]
    if value is None or value is pd.NaT:
        return None
    if isinstance(value, float) and math.isnan(value):
        return None
    if hasattr(value, "isoformat"):
        return value.isoformat()
    if hasattr(value, "item"):
        return jsonable(value.item())
    try:
        if pd.isna(value):
            return None
    except (TypeError, ValueError):
        pass
    return value


def item_states(service: Service, item_id: int) -> tuple[str | None, str | None]:
    with service.index._read() as con:
        rows = con.execute(
            """SELECT split_part(record_key_l, ':', 1), split_part(record_key_r, ':', 1)
               FROM worklist WHERE item_id = ?""",
            [item_id],
        ).fetchall()
    if not rows:
        raise HTTPException(404, f"no worklist item {item_id}")
    return rows[0][0], rows[0][1]


def pending_item_states(service: Service, pending_id: int) -> tuple[str | None, str | None]:
    with service.index._read() as con:
        rows = con.execute(
            """SELECT split_part(record_key_l, ':', 1), split_part(record_key_r, ':', 1)
               FROM pending_merges WHERE pending_id = ?""",
            [pending_id],
        ).fetchall()
    if not rows:
        raise HTTPException(404, f"no pending merge {pending_id}")
    return rows[0][0], rows[0][1]


def worklist_for(
    service: Service,
    account: Account,
    *,
    state: str | None = None,
    reason: str | None = None,
    grade: str | None = None,
    older_than_days: float | None = None,
    status: tuple[str, ...] = ("open", "skipped"),
    limit: int = 200,
) -> pd.DataFrame:
    """The worklist an account may see (items with a record in its states), with each item's
    grade (probable / possible, from the index's thresholds), oldest first."""
    if state is not None:
        need_state(account, state)
    items = index_call(
        lambda: service.index.worklist(
            actor=account.account_id, state=state, older_than_days=older_than_days, status=status
        )
    )
    scope = account.scope()
    if scope is not None:
        items = items[items["state_l"].isin(scope) | items["state_r"].isin(scope)]
    probable = service.index.zoning_thresholds().probable_weight
    items = items.assign(
        grade=["probable" if w >= probable else "possible" for w in items["match_weight"]]
    )
    if reason:
        items = items[items["reason"] == reason]
    if grade:
        items = items[items["grade"] == grade]
    return items.head(limit)


def student_trail(service: Service, student_id: str) -> pd.DataFrame:
    """Every audit entry that moved a record into or out of `student_id`, oldest first."""
    with service.index._read() as con:
        return con.execute(
            """SELECT a.audit_id, a.logged_at, a.actor, a.action, a.reason,
                      count(*) AS records_changed,
                      list(c.record_key ORDER BY c.record_key) AS record_keys,
                      list(DISTINCT c.before_student) FILTER (c.before_student IS NOT NULL)
                          AS from_students,
                      list(DISTINCT c.after_student) FILTER (c.after_student IS NOT NULL)
                          AS to_students
               FROM audit_changes c JOIN audit_log a USING (audit_id)
               WHERE c.before_student = ? OR c.after_student = ?
               GROUP BY ALL ORDER BY a.audit_id""",
            [student_id, student_id],
        ).df()


def student_states(service: Service, student_id: str) -> list[str]:
    with service.index._read() as con:
        rows = con.execute(
            "SELECT DISTINCT submitting_state FROM records WHERE student_id = ?", [student_id]
        ).fetchall()
    return [r[0] for r in rows]


def decide_item(
    service: Service, account: Account, item_id: int, decision: str, comment: str | None
) -> dict[str, Any]:
    need_role(account, "reviewer")
    need_state(account, *item_states(service, item_id))
    return index_call(
        lambda: service.index.decide(item_id, decision, actor=account.account_id, comment=comment)
    )


def validate_pending(
    service: Service, account: Account, pending_id: int, approve: bool, comment: str | None
) -> dict[str, Any]:
    need_role(account, "validator")
    need_state(account, *pending_item_states(service, pending_id))
    return index_call(
        lambda: service.index.validate(
            pending_id, actor=account.account_id, approve=approve, comment=comment
        )
    )


# ------------------------------------------------------------------------------- routes
router = APIRouter(prefix="/api", tags=["index"])


@router.post("/search", summary="Ranked candidate students for any subset of fields")
def api_search(body: SearchBody, request: Request, account: Caller):
    fields = body.model_dump(exclude={"in_state", "page", "page_size"}, exclude_none=True)
    service = service_of(request)
    result = index_call(
        lambda: search_module.search(
            service.index, fields, state=body.in_state, page=body.page, page_size=body.page_size
        )
    )
    return jsonable(result.as_dict())


@router.post("/match", summary="One record: its student, candidates for review, or new")
def api_match(body: MatchBody, request: Request, account: Caller):
    service = service_of(request)
    record = {k: v for k, v in body.record.items() if v is not None}
    if body.commit:
        need_role(account, "reviewer")
        need_state(account, record.get("state"))
    outcome = index_call(
        lambda: match(
            service.index,
            record,
            commit=body.commit,
            reviewer=account.account_id,
            state=record.get("state"),
        )
    )
    return jsonable(outcome.as_dict())


@router.post("/uploads", status_code=202, summary="Upload a state file (runs in the background)")
async def api_upload(
    request: Request,
    account: Caller,
    file: Annotated[UploadFile, File(description="CSV or Parquet of contract columns")],
    state: Annotated[str, Form(min_length=2, max_length=2)],
):
    need_role(account, "reviewer")
    need_state(account, state)
    suffix = Path(file.filename or "upload.csv").suffix.lower()
    if suffix not in (".csv", ".parquet", ".txt"):
        raise HTTPException(422, "file: a .csv or .parquet file of contract columns")
    with tempfile.NamedTemporaryFile(delete=False, suffix=suffix, prefix="ml-upload-") as out:
        while chunk := await file.read(1 << 20):
            out.write(chunk)
    job = service_of(request).submit_upload(
        Path(out.name), account=account, state=state.upper(), source=file.filename or "upload"
    )
    return job.as_dict()


@router.get("/jobs/{job_id}", summary="An upload job's status and counts")
def api_job(job_id: str, request: Request, account: Caller):
    job = service_of(request).jobs.get(job_id)
    if job is None or (job.account_id != account.account_id and not account.is_admin):
        raise HTTPException(404, f"no job {job_id}")
    return job.as_dict()


@router.get("/worklist", summary="Undecided near matches in the caller's states")
def api_worklist(
    request: Request,
    account: Caller,
    state: str | None = Query(None, min_length=2, max_length=2),
    reason: str | None = None,
    grade: Literal["probable", "possible"] | None = None,
    older_than_days: float | None = Query(None, ge=0),
    limit: int = Query(200, ge=1, le=1000),
):
    need_role(account, "reviewer")
    items = worklist_for(
        service_of(request),
        account,
        state=state,
        reason=reason,
        grade=grade,
        older_than_days=older_than_days,
        limit=limit,
    )
    return jsonable(items)


@router.get("/items/{item_id}", summary="One item: both records side by side, the evidence")
def api_item(item_id: int, request: Request, account: Caller):
    need_role(account, "reviewer")
    service = service_of(request)
    need_state(account, *item_states(service, item_id))
    shown = index_call(lambda: service.index.show(item_id, actor=account.account_id))
    shown["item"].pop("evidence_json", None)
    return jsonable(shown)


@router.post("/items/{item_id}/decision", summary="match, not-a-match or skip")
def api_decide(item_id: int, body: DecisionBody, request: Request, account: Caller):
    return jsonable(decide_item(service_of(request), account, item_id, body.decision, body.comment))


@router.post("/decisions", summary="Decide several items (each its own transaction)")
def api_batch(body: BatchBody, request: Request, account: Caller):
    service = service_of(request)
    results = []
    for d in body.decisions:
        try:
            outcome = decide_item(service, account, d.item_id, d.decision, d.comment)
            results.append({"item_id": d.item_id, "ok": True, "outcome": jsonable(outcome)})
        except HTTPException as exc:
            results.append(
                {"item_id": d.item_id, "ok": False, "status": exc.status_code, "error": exc.detail}
            )
    return results


@router.get("/pending", summary="Merges waiting for a second reviewer")
def api_pending(request: Request, account: Caller):
    need_role(account, "reviewer")
    pending = service_of(request).index.pending()
    scope = account.scope()
    if scope is not None and len(pending):
        states_l = pending["record_key_l"].str.split(":").str[0]
        states_r = pending["record_key_r"].str.split(":").str[0]
        pending = pending[states_l.isin(scope) | states_r.isin(scope)]
    return jsonable(pending)


@router.post("/pending/{pending_id}/validation", summary="Second reviewer: approve or reject")
def api_validate(pending_id: int, body: ValidationBody, request: Request, account: Caller):
    return jsonable(
        validate_pending(service_of(request), account, pending_id, body.approve, body.comment)
    )


@router.get("/audit", summary="The audit log, newest first (administrators)")
def api_audit(request: Request, account: Caller, limit: int = Query(100, ge=1, le=10000)):
    need_role(account, "administrator")
    return jsonable(service_of(request).index.audit(limit=limit))


@router.get("/audit/check", summary="Replay the audit log and compare with the live tables")
def api_audit_check(request: Request, account: Caller):
    need_role(account, "administrator")
    return {"replays": bool(service_of(request).index.check_replay())}


@router.get("/students/{student_id}/audit", summary="The audit trail of one student")
def api_student_audit(student_id: str, request: Request, account: Caller):
    need_role(account, "reviewer")
    service = service_of(request)
    states = student_states(service, student_id)
    if not states:
        raise HTTPException(404, f"no student {student_id}")
    need_state(account, *states)
    return jsonable(student_trail(service, student_id))


@router.get("/export", summary="record_id, state, student_id per record (CSV)")
def api_export(request: Request, account: Caller, consolidated: bool = False):
    need_role(account, "reviewer")
    service = service_of(request)
    scope = account.scope()
    if consolidated:
        if scope is not None:
            raise HTTPException(403, "the consolidated export is for administrators")
        frame = service.index.consolidated()
    else:
        frame = service.index.assignments()
        if scope is not None:
            frame = frame[frame["state"].isin(scope)]
        frame = frame[["record_id", "state", "student_id"]]
    text = io.StringIO()
    frame.to_csv(text, index=False)
    return StreamingResponse(
        iter([text.getvalue()]),
        media_type="text/csv",
        headers={"content-disposition": "attachment; filename=students.csv"},
    )


@router.get("/admin/accounts-due", summary="Accounts locked, idle, or due a password change")
def api_accounts_due(request: Request, account: Caller):
    need_role(account, "administrator")
    return jsonable(service_of(request).accounts.accounts_due())


# ------------------------------------------------------------------------------- FHIR
fhir = APIRouter(prefix="/fhir", tags=["fhir"])

_FHIR_GRADES = {"certain": "certain", "probable": "probable", "possible": "possible"}


def _patient_fields(patient: dict[str, Any]) -> dict[str, str]:
    """A FHIR Patient's identity as record-contract fields (the first name entry)."""
    if patient.get("resourceType") != "Patient":
        raise HTTPException(422, "parameter resource: a Patient resource is required")
    fields: dict[str, str] = {}
    names = patient.get("name") or []
    if names:
        name = names[0]
        given = name.get("given") or []
        if given:
            fields["first_name"] = str(given[0])
        if len(given) > 1:
            fields["middle_name"] = " ".join(str(g) for g in given[1:])
        if name.get("family"):
            fields["last_name_1"] = str(name["family"])
    if patient.get("birthDate"):
        fields["birth_date"] = str(patient["birthDate"])
    gender = {"male": "M", "female": "F"}.get(str(patient.get("gender", "")).lower())
    if gender:
        fields["sex"] = gender
    for ident in patient.get("identifier") or []:
        system = str(ident.get("system", "")).lower()
        if "msix" in system and ident.get("value"):
            fields["msix_id"] = str(ident["value"])
    return fields


@fhir.post("/Patient/$match", summary="FHIR-like $match: a Bundle of candidate students")
def fhir_match(parameters: dict[str, Any], request: Request, account: Caller):
    if parameters.get("resourceType") != "Parameters":
        raise HTTPException(422, "body: a FHIR Parameters resource is required")
    params = {p.get("name"): p for p in parameters.get("parameter") or []}
    if "resource" not in params:
        raise HTTPException(422, "parameter 'resource' (the Patient) is required")
    fields = _patient_fields(params["resource"].get("resource") or {})
    count = int(params.get("count", {}).get("valueInteger", 10))
    only_certain = bool(params.get("onlyCertainMatches", {}).get("valueBoolean", False))
    result = index_call(
        lambda: search_module.search(
            service_of(request).index,
            fields,
            page_size=max(1, min(count, search_module.MAX_PAGE_SIZE)),
            include_non_matches=False,
        )
    )
    entries = []
    for c in result.candidates:
        grade = _FHIR_GRADES.get(c.grade or "", "certainly-not")
        if only_certain and grade != "certain":
            continue
        entries.append(
            {
                "resource": {"resourceType": "Patient", "id": c.student_id},
                "search": {
                    "mode": "match",
                    "score": c.match_probability,
                    "extension": [
                        {
                            "url": "http://hl7.org/fhir/StructureDefinition/match-grade",
                            "valueCode": grade,
                        }
                    ],
                },
            }
        )
    return {"resourceType": "Bundle", "type": "searchset", "total": len(entries), "entry": entries}


def dumps(value: Any) -> str:
    return json.dumps(jsonable(value), default=str)
