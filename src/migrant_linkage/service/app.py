"""The FastAPI application: `create_app(index_path)` for uvicorn (see cli/service.py)."""

from __future__ import annotations

from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from fastapi import FastAPI, HTTPException, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse
from fastapi.staticfiles import StaticFiles

from migrant_linkage.service import api, web
from migrant_linkage.service.state import Service

#: Headers on every response: no framing, no sniffing, scripts and styles from us only.
SECURITY_HEADERS = {
    "x-frame-options": "DENY",
    "x-content-type-options": "nosniff",
    "referrer-policy": "no-referrer",
    "cache-control": "no-store",
    "content-security-policy": "default-src 'self'; img-src 'self' data:; frame-ancestors 'none'",
}


def create_app(
    index_path: str | Path,
    *,
    secure_cookies: bool = True,
    service: Service | None = None,
    **options: Any,
) -> FastAPI:
    """The app serving `index_path`. `options` go to Service (lock_timeout, clock,
    inactive_days). Session cookies are Secure unless `secure_cookies` is False (plain HTTP on
    127.0.0.1 only: behind a TLS proxy leave it on)."""
    served = service or Service(index_path, **options)

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        yield
        served.close()

    app = FastAPI(
        title="migrant-linkage master index",
        version="1",
        summary="Search, match and review the master student index",
        lifespan=lifespan,
    )
    app.state.service = served
    app.state.secure_cookies = secure_cookies
    app.include_router(api.router)
    app.include_router(api.fhir)
    app.include_router(web.router)
    app.mount("/static", StaticFiles(directory=str(Path(__file__).parent / "static")), "static")

    @app.middleware("http")
    async def security_headers(request: Request, call_next):
        response = await call_next(request)
        for name, value in SECURITY_HEADERS.items():
            # FastAPI's /docs page loads Swagger UI from its CDN; it shows no records.
            if name == "content-security-policy" and request.url.path in ("/docs", "/redoc"):
                continue
            response.headers.setdefault(name, value)
        return response

    @app.exception_handler(web.SignInRequired)
    async def sign_in(request: Request, exc: web.SignInRequired):
        return web.sign_in_redirect(request, exc)

    @app.exception_handler(RequestValidationError)
    async def invalid_body(request: Request, exc: RequestValidationError):
        # The field, the rule, never the value sent (it may be a child's name).
        errors = [
            {"loc": list(e.get("loc", ())), "msg": e.get("msg"), "type": e.get("type")}
            for e in exc.errors()
        ]
        return JSONResponse({"detail": errors}, status_code=422)

    @app.exception_handler(HTTPException)
    async def http_error(request: Request, exc: HTTPException):
        if request.url.path.startswith(("/api", "/fhir", "/docs", "/openapi")):
            return JSONResponse({"detail": exc.detail}, status_code=exc.status_code)
        return HTMLResponse(
            web.templates.get_template("error.html").render(
                status=exc.status_code, detail=exc.detail
            ),
            status_code=exc.status_code,
        )

    return app
