"""The reviewer's screens: server-rendered Jinja2 pages, plain HTML forms, no script.

Sign-in sets an HTTP-only, SameSite=Strict session cookie (Secure unless the server was started
with --insecure-cookies for local testing). Every form carries the session's CSRF token, and
every POST checks it (the sign-in form uses a double-submit cookie, as no session exists yet).
The screens call the same helpers as the JSON API (api.py), so role and state checks are the
same in both.
"""

from __future__ import annotations

import secrets
from pathlib import Path
from typing import Any

from fastapi import APIRouter, Form, HTTPException, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates

from migrant_linkage.review import search as search_module
from migrant_linkage.review.search_fields import QUERY_FIELDS
from migrant_linkage.service.api import (
    SESSION_COOKIE,
    decide_item,
    index_call,
    item_states,
    need_role,
    need_state,
    service_of,
    student_states,
    student_trail,
    validate_pending,
    worklist_for,
)
from migrant_linkage.service.auth import Account, AuthError
from migrant_linkage.service.state import Session

LOGIN_CSRF_COOKIE = "ml_login_csrf"
HERE = Path(__file__).parent
templates = Jinja2Templates(directory=str(HERE / "templates"))


def _blank(value: Any) -> Any:
    """Missing values (None, NaN, NA) as empty cells."""
    import pandas as pd

    try:
        return "" if value is None or pd.isna(value) else value
    except (TypeError, ValueError):
        return value


templates.env.filters["blank"] = _blank

router = APIRouter(include_in_schema=False)

#: Search form fields, in the order a data specialist reads a record.
SEARCH_FORM_FIELDS = (
    "first_name",
    "middle_name",
    "last_name_1",
    "last_name_2",
    "birth_date",
    "sex",
    "parent1_first",
    "parent2_first",
    "msix_id",
    "state_student_id",
    "state",
)


class SignInRequired(Exception):
    """Raised by a screen without a session: the app redirects to the sign-in page."""


def _session(request: Request) -> Session:
    session = service_of(request).session(request.cookies.get(SESSION_COOKIE))
    if session is None:
        raise SignInRequired
    return session


def _check_csrf(session: Session, token: str) -> None:
    if not secrets.compare_digest(session.csrf, token or ""):
        raise HTTPException(403, "the form has expired; reload the page and try again")


def _page(
    request: Request, name: str, session: Session | None, status_code: int = 200, **context: Any
) -> HTMLResponse:
    values = {
        "account": session.account if session else None,
        "csrf": session.csrf if session else "",
        **context,
    }
    return templates.TemplateResponse(request, name, values, status_code=status_code)


def _back(url: str) -> RedirectResponse:
    return RedirectResponse(url, status_code=303)


# ------------------------------------------------------------------------------- sign in
@router.get("/", response_class=HTMLResponse)
def home(request: Request):
    _session(request)
    return _back("/worklist")


@router.get("/login", response_class=HTMLResponse)
def login_form(request: Request, error: str | None = None):
    token = secrets.token_urlsafe(24)
    response = _page(request, "login.html", None, login_csrf=token, error=error)
    response.set_cookie(
        LOGIN_CSRF_COOKIE,
        token,
        httponly=True,
        secure=request.app.state.secure_cookies,
        samesite="strict",
        max_age=1800,
    )
    return response


@router.post("/login")
def login(
    request: Request,
    account_id: str = Form(...),
    password: str = Form(...),
    csrf: str = Form(...),
):
    expected = request.cookies.get(LOGIN_CSRF_COOKIE) or ""
    if not expected or not secrets.compare_digest(expected, csrf):
        raise HTTPException(403, "the sign-in form has expired; reload the page")
    service = service_of(request)
    try:
        account = service.accounts.login(account_id.strip(), password)
    except AuthError as exc:
        return _page(
            request,
            "login.html",
            None,
            login_csrf=expected,
            error=str(exc),
            status_code=401,
        )
    token, _ = service.open_session(account)
    response = _back("/worklist")
    response.set_cookie(
        SESSION_COOKIE,
        token,
        httponly=True,
        secure=request.app.state.secure_cookies,
        samesite="strict",
    )
    response.delete_cookie(LOGIN_CSRF_COOKIE)
    return response


@router.post("/logout")
def logout(request: Request, csrf: str = Form(...)):
    session = _session(request)
    _check_csrf(session, csrf)
    service_of(request).close_session(request.cookies.get(SESSION_COOKIE))
    response = _back("/login")
    response.delete_cookie(SESSION_COOKIE)
    return response


# ------------------------------------------------------------------------------- worklist
@router.get("/worklist", response_class=HTMLResponse)
def worklist_page(
    request: Request,
    reason: str | None = None,
    grade: str | None = None,
    older_than_days: float | None = None,
):
    session = _session(request)
    need_role(session.account, "reviewer")
    service = service_of(request)
    everything = worklist_for(service, session.account, limit=100000)
    items = worklist_for(
        service,
        session.account,
        reason=reason or None,
        grade=grade or None,
        older_than_days=older_than_days,
        limit=500,
    )
    return _page(
        request,
        "worklist.html",
        session,
        items=items.to_dict("records"),
        reasons=sorted(everything["reason"].dropna().unique()),
        chosen={"reason": reason or "", "grade": grade or "", "older": older_than_days or ""},
        pending=_pending_for(request, session.account),
    )


def _pending_for(request: Request, account: Account) -> list[dict[str, Any]]:
    pending = service_of(request).index.pending()
    if pending.empty:
        return []
    pending = pending[pending["status"] == "pending"] if "status" in pending else pending
    scope = account.scope()
    rows = [{str(k): v for k, v in r.items()} for r in pending.to_dict("records")]
    if scope is None:
        return rows
    return [
        r
        for r in rows
        if r["record_key_l"].split(":")[0] in scope or r["record_key_r"].split(":")[0] in scope
    ]


@router.post("/worklist/decide")
async def batch_decide(request: Request):
    session = _session(request)
    form = await request.form()
    _check_csrf(session, str(form.get("csrf", "")))
    decision = str(form.get("decision", ""))
    if decision not in ("match", "not-a-match", "skip"):
        raise HTTPException(422, "decision: match, not-a-match or skip")
    comment = str(form.get("comment") or "") or None
    service = service_of(request)
    for value in form.getlist("item_id"):
        try:
            decide_item(service, session.account, int(str(value)), decision, comment)
        except (HTTPException, ValueError):
            continue  # an item decided meanwhile stays as the first reviewer left it
    return _back("/worklist")


# ------------------------------------------------------------------------------- one item
@router.get("/items/{item_id}", response_class=HTMLResponse)
def item_page(item_id: int, request: Request):
    session = _session(request)
    need_role(session.account, "reviewer")
    service = service_of(request)
    need_state(session.account, *item_states(service, item_id))
    shown = index_call(lambda: service.index.show(item_id, actor=session.account.account_id))
    evidence = shown["evidence"].to_dict("records")
    scale = max([abs(float(e["weight"] or 0)) for e in evidence] + [1.0])
    for e in evidence:
        w = float(e["weight"] or 0)
        e["bar"] = round(abs(w) / scale * 100, 1)
        e["sign"] = "for" if w >= 0 else "against"
    pending = [p for p in _pending_for(request, session.account) if p.get("item_id") == item_id]
    return _page(
        request,
        "item.html",
        session,
        item=shown["item"],
        rows=shown["records"].to_dict("records"),
        evidence=evidence,
        pending=pending[0] if pending else None,
    )


@router.post("/items/{item_id}/decide")
def item_decide(
    item_id: int,
    request: Request,
    decision: str = Form(...),
    comment: str = Form(""),
    csrf: str = Form(...),
):
    session = _session(request)
    _check_csrf(session, csrf)
    if decision not in ("match", "not-a-match", "skip"):
        raise HTTPException(422, "decision: match, not-a-match or skip")
    decide_item(service_of(request), session.account, item_id, decision, comment or None)
    return _back(f"/items/{item_id}")


@router.post("/pending/{pending_id}/validate")
def pending_validate(
    pending_id: int,
    request: Request,
    verdict: str = Form(...),
    comment: str = Form(""),
    csrf: str = Form(...),
):
    session = _session(request)
    _check_csrf(session, csrf)
    if verdict not in ("approve", "reject"):
        raise HTTPException(422, "verdict: approve or reject")
    outcome = validate_pending(
        service_of(request), session.account, pending_id, verdict == "approve", comment or None
    )
    student = outcome.get("student_id")
    return _back(f"/students/{student}" if student else "/worklist")


# ------------------------------------------------------------------------------- search
@router.get("/search", response_class=HTMLResponse)
def search_page(request: Request):
    session = _session(request)
    given = {
        k: v.strip()
        for k, v in request.query_params.items()
        if k in QUERY_FIELDS and v and v.strip()
    }
    result, error = None, None
    if given:
        try:
            result = search_module.search(service_of(request).index, given, page_size=20)
        except search_module.SearchError as exc:
            error = str(exc)
    return _page(
        request,
        "search.html",
        session,
        fields=SEARCH_FORM_FIELDS,
        given=given,
        result=result,
        error=error,
    )


# ------------------------------------------------------------------------------- a student
@router.get("/students/{student_id}", response_class=HTMLResponse)
def student_page(student_id: str, request: Request):
    session = _session(request)
    need_role(session.account, "reviewer")
    service = service_of(request)
    states = student_states(service, student_id)
    if not states:
        raise HTTPException(404, f"no student {student_id}")
    need_state(session.account, *states)
    with service.index._read() as con:
        records = con.execute(
            """SELECT record_key, submitting_state, first_name, middle_name, last_name_1,
                      last_name_2, sex, birth_date, parent1_first, parent2_first
               FROM records WHERE active AND student_id = ? ORDER BY record_key""",
            [student_id],
        ).df()
    return _page(
        request,
        "student.html",
        session,
        student_id=student_id,
        records=records.to_dict("records"),
        trail=student_trail(service, student_id).to_dict("records"),
    )


def sign_in_redirect(request: Request, exc: Exception) -> Response:
    return _back("/login")
