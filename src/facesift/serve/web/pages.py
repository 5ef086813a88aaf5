"""Rendering: templates, role-appropriate navigation, and errors as pages (never a traceback).

Every web route is a ``WebRoute``: whatever it raises (a permission refused, a bad upload, a
missing session, an invalid form) becomes a page that says what happened in words, with the
status code the REST API would give for the same error; and the session cookie is written back
on every response that changed it.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path
from urllib.parse import quote

from fastapi import Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from fastapi.routing import APIRoute
from fastapi.templating import Jinja2Templates
from starlette.exceptions import HTTPException as StarletteHTTPException

from facesift.errors import FaceSiftError
from facesift.govern.roles import PERMISSIONS, Action, Actor
from facesift.serve.problems import Problem, status_of
from facesift.serve.web.session import (
    CsrfRefused,
    NotSignedIn,
    current_session,
    save_session,
)

log = logging.getLogger(__name__)

templates = Jinja2Templates(directory=Path(__file__).resolve().parents[1] / "templates")

# (label, path, the permission that makes the page useful to a role)
NAVIGATION: tuple[tuple[str, str, Action], ...] = (
    ("Search", "/search", Action.SEARCH),
    ("Review queue", "/review", Action.REVIEW),
    ("People", "/people", Action.IDENTITY_VIEW),
    ("Duplicates", "/duplicates", Action.DUPLICATES),
    ("Verify 1:1", "/verify", Action.VERIFY),
    ("Subject requests", "/admin/requests", Action.SUBJECT_REQUEST),
    ("Ingest", "/admin/ingest", Action.INGEST),
    ("Ingest jobs", "/admin/jobs", Action.INGEST),
    ("Sources", "/admin/sources", Action.SOURCE_ADD),
    ("Operators", "/admin/operators", Action.USER_LIST),
    ("Audit trail", "/audit", Action.AUDIT_SHOW),
    ("Gallery", "/gallery", Action.SOURCE_LIST),
)


def navigation(actor: Actor | None) -> list[tuple[str, str]]:
    if actor is None:
        return []
    allowed = PERMISSIONS[actor.role]
    items = [(label, path) for label, path, action in NAVIGATION if action in allowed]
    if Action.AUDIT_VERIFY in allowed and Action.AUDIT_SHOW not in allowed:
        items.append(("Verify audit chain", "/audit/verify"))
    return items


def home_of(actor: Actor) -> str:
    """The first page of a role's navigation."""
    items = navigation(actor)
    return items[0][1] if items else "/gallery"


def page(
    request: Request,
    template: str,
    actor: Actor | None = None,
    status_code: int = 200,
    **context,
) -> HTMLResponse:
    return templates.TemplateResponse(
        request,
        template,
        {
            "actor": actor,
            "nav": navigation(actor),
            "csrf_token": current_session(request).csrf,
            **context,
        },
        status_code=status_code,
    )


def see_other(url: str) -> RedirectResponse:
    """After a successful POST: redirect so that reloading does not submit again."""
    return RedirectResponse(url, status_code=303)


def _wants_json(request: Request) -> bool:
    return "application/json" in request.headers.get("accept", "")


def error_page(request: Request, error: Exception) -> Response:
    """The page (or, for the few script calls, JSON) for an error raised by a web route."""
    if isinstance(error, NotSignedIn) and request.method == "GET" and not _wants_json(request):
        target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        return RedirectResponse(f"/login?next={quote(target)}", status_code=303)
    if isinstance(error, NotSignedIn):
        status, title = 401, "Please sign in"
    elif isinstance(error, CsrfRefused):
        status, title = 403, "Form refused"
    elif isinstance(error, Problem):
        status, title = error.status, "Request refused"
    elif isinstance(error, RequestValidationError):
        status, title = 422, "Missing or invalid form fields"
    elif isinstance(error, StarletteHTTPException):
        status, title = error.status_code, "Request refused"
    else:
        status, _ = status_of(error)
        title = TITLES.get(status, "Request refused")
    message = _message(error)
    if status >= 500:
        log.error("%s %s: %s", request.method, request.url.path, message)
    if _wants_json(request):
        return JSONResponse({"error": message}, status_code=status)
    actor = getattr(request.state, "actor", None)
    return page(
        request, "error.html", actor, status_code=status, title=title, message=message, code=status
    )


TITLES = {
    401: "Please sign in",
    403: "Not permitted",
    404: "Not found",
    409: "Not possible now",
    422: "That input cannot be used",
}


def _message(error: Exception) -> str:
    if isinstance(error, Problem):
        return error.detail
    if isinstance(error, RequestValidationError):
        fields = []
        for problem in error.errors():
            name = ".".join(str(p) for p in problem.get("loc", ()) if p not in ("body", "query"))
            fields.append(f"{name or 'request'}: {problem.get('msg', 'invalid')}")
        return "; ".join(fields) or "invalid form"
    if isinstance(error, StarletteHTTPException):
        return str(error.detail)
    return str(error)


# Pages show faces and casework: never cached, never framed, no script or style from elsewhere.
PAGE_HEADERS = {
    "Cache-Control": "no-store",
    "Content-Security-Policy": "default-src 'self'; img-src 'self' blob: data:; "
    "frame-ancestors 'none'; form-action 'self'; base-uri 'none'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
}


class WebRoute(APIRoute):
    """Errors become pages; the session cookie is saved on every response."""

    def get_route_handler(self) -> Callable:
        handler = super().get_route_handler()

        async def handle(request: Request) -> Response:
            try:
                response = await handler(request)
            except (FaceSiftError, Problem, RequestValidationError, StarletteHTTPException) as e:
                response = error_page(request, e)
            except Exception:
                # A bug, not the user's doing: log the traceback, show a plain page.
                log.exception("%s %s failed", request.method, request.url.path)
                response = page(
                    request,
                    "error.html",
                    getattr(request.state, "actor", None),
                    status_code=500,
                    title="Something went wrong",
                    message="the server could not complete this request; it has been logged",
                    code=500,
                )
            save_session(request, response)
            if response.media_type == "text/html":
                response.headers.update(PAGE_HEADERS)
            return response

        return handle
