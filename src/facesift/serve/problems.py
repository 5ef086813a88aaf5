"""Errors as RFC 9457 problem details (``application/problem+json``).

Errors are translated once, here, as the CLI translates them once in ``cli/app.py``: each
facesift error type has an HTTP status, and the body's ``detail`` is the error's own message,
which names the input it is about. Unexpected errors give a 500 problem without a traceback
(the traceback goes to the server log).
"""

from __future__ import annotations

import logging
from http import HTTPStatus

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from facesift.errors import (
    AmbiguousFaceError,
    AuthenticationError,
    CatalogError,
    ConfigError,
    FaceSiftError,
    GalleryBusyError,
    ImageError,
    IndexError_,
    InputError,
    NoFaceError,
    NotFoundError,
    NotShown,
    PermissionDenied,
    ReviewConflict,
    SourceError,
)

log = logging.getLogger(__name__)

PROBLEM_JSON = "application/problem+json"


class Problem(Exception):
    """An HTTP error raised by the API layer itself (authentication, limits, lookups)."""

    def __init__(
        self,
        status: int,
        detail: str,
        *,
        kind: str | None = None,
        headers: dict[str, str] | None = None,
        extra: dict | None = None,
    ):
        super().__init__(detail)
        self.status, self.detail = status, detail
        self.kind = kind or HTTPStatus(status).phrase.lower().replace(" ", "-")
        self.headers = headers or {}
        self.extra = extra or {}


# Most specific first: the first matching class decides.
STATUS_OF: tuple[tuple[type[Exception], int, str], ...] = (
    (AuthenticationError, 401, "unauthenticated"),
    (PermissionDenied, 403, "permission-denied"),
    (NotShown, 403, "not-shown"),
    (NotFoundError, 404, "not-found"),
    (ReviewConflict, 409, "review-conflict"),
    (GalleryBusyError, 409, "gallery-busy"),
    (ImageError, 422, "unusable-image"),
    (NoFaceError, 422, "no-face"),
    (AmbiguousFaceError, 422, "several-faces"),
    (InputError, 422, "invalid-input"),
    (SourceError, 422, "source-problem"),
    (ConfigError, 500, "configuration-error"),
    (CatalogError, 503, "catalog-unavailable"),
    (IndexError_, 500, "index-error"),
    (FaceSiftError, 400, "request-refused"),
)


def problem_response(
    request: Request,
    status: int,
    detail: str,
    kind: str,
    headers: dict[str, str] | None = None,
    extra: dict | None = None,
) -> JSONResponse:
    body = {
        "type": f"urn:facesift:problem:{kind}",
        "title": HTTPStatus(status).phrase,
        "status": status,
        "detail": detail,
        "instance": request.url.path,
        **(extra or {}),
    }
    return JSONResponse(body, status_code=status, headers=headers, media_type=PROBLEM_JSON)


def status_of(error: Exception) -> tuple[int, str]:
    for kind, status, slug in STATUS_OF:
        if isinstance(error, kind):
            return status, slug
    return 500, "internal-error"


def detail_of(error: FaceSiftError) -> str:
    """The error's message in the API's words: where the CLI's names one of its options, the
    API names its own field instead."""
    if isinstance(error, AmbiguousFaceError):
        return (
            f"{error.path}: {error.count} faces found; choose one with the `face` field "
            f"(1..{error.count})"
        )
    return str(error)


def install(app: FastAPI) -> None:
    @app.exception_handler(Problem)
    async def _problem(request: Request, error: Problem):
        return problem_response(
            request, error.status, error.detail, error.kind, error.headers, error.extra
        )

    @app.exception_handler(FaceSiftError)
    async def _facesift(request: Request, error: FaceSiftError):
        status, slug = status_of(error)
        if status >= 500:
            log.error("%s %s: %s", request.method, request.url.path, error)
        return problem_response(request, status, detail_of(error), slug)

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, error: RequestValidationError):
        problems = [
            {
                "field": ".".join(str(part) for part in e.get("loc", ()) if part != "body"),
                "message": e.get("msg", "invalid"),
            }
            for e in error.errors()
        ]
        summary = "; ".join(f"{p['field'] or 'request'}: {p['message']}" for p in problems)
        return problem_response(
            request,
            422,
            summary or "invalid request",
            "invalid-request",
            extra={"errors": problems},
        )

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, error: StarletteHTTPException):
        detail = (
            error.detail if isinstance(error.detail, str) else HTTPStatus(error.status_code).phrase
        )
        if error.status_code == 404 and detail == "Not Found":
            detail = f"no such endpoint: {request.method} {request.url.path}"
        elif error.status_code == 400:
            detail = f"request body: {detail}"
        return problem_response(
            request,
            error.status_code,
            detail,
            HTTPStatus(error.status_code).phrase.lower().replace(" ", "-"),
            headers=getattr(error, "headers", None),
        )

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, error: Exception):
        log.exception("unexpected error in %s %s", request.method, request.url.path)
        return problem_response(
            request,
            500,
            f"internal error ({type(error).__name__}); the server log has the details",
            "internal-error",
        )
