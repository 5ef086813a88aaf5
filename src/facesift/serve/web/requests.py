"""Administrators answering data subjects' requests."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import Response

from facesift.serve.deps import Engine
from facesift.serve.web.casework import one_in
from facesift.serve.web.pages import WebRoute, page, see_other
from facesift.serve.web.session import (
    CsrfChecked,
    SignedIn,
)
from facesift.types import RequestKind, RequestStatus

# Access and erasure requests act on the faces the selfie matches; an opt-out on the selfie.
MATCHING_KINDS = (RequestKind.ACCESS, RequestKind.ERASURE)

router = APIRouter(route_class=WebRoute, include_in_schema=False)


@router.get("/admin/requests")
def admin_requests(request: Request, engine: Engine, actor: SignedIn, status: str | None = "open"):
    chosen = status if status in tuple(RequestStatus) else None
    found = engine.subject_requests(actor, chosen)
    return page(
        request, "admin_requests.html", actor, requests=found, status=chosen, now=datetime.now(UTC)
    )


@router.get("/admin/requests/{request_id}")
def admin_request(request: Request, engine: Engine, actor: SignedIn, request_id: int):
    found = engine.subject_request(actor, request_id)
    candidates = None
    if found.status == RequestStatus.OPEN and found.kind in MATCHING_KINDS:
        candidates = engine.subject_request_candidates(actor, request_id)
    return page(
        request,
        "admin_request.html",
        actor,
        found=found,
        candidates=candidates,
        one_in=one_in,
        now=datetime.now(UTC),
    )


@router.get("/admin/requests/{request_id}/selfie")
def request_selfie(engine: Engine, actor: SignedIn, request_id: int):
    """The requester's face from their selfie, while the request is open (audited)."""
    data = engine.subject_request_selfie(actor, request_id)
    return Response(data, media_type="image/jpeg", headers={"Cache-Control": "private, no-store"})


@router.get("/admin/requests/{request_id}/outcome")
def request_outcome(engine: Engine, actor: SignedIn, request_id: int):
    """What a fulfilled request sent back, as the requester received it (audited). It is shown
    sandboxed: a page of its own, no script, nothing it can reach."""
    html = engine.subject_request_outcome(actor, request_id)
    return Response(
        html,
        media_type="text/html; charset=utf-8",
        headers={
            "Cache-Control": "no-store",
            "Content-Security-Policy": "sandbox; default-src 'none'; img-src data:; "
            "style-src 'unsafe-inline'",
            "X-Content-Type-Options": "nosniff",
        },
    )


@router.post("/admin/requests/{request_id}/fulfil", dependencies=[CsrfChecked])
def fulfil_request(
    engine: Engine,
    actor: SignedIn,
    request_id: int,
    face_ids: Annotated[list[int], Form()] = (),  # type: ignore[assignment]
    identity_check: Annotated[str, Form()] = "",
):
    found = engine.subject_request(actor, request_id)
    chosen = list(face_ids) if found.kind in MATCHING_KINDS else None
    engine.fulfil_subject_request(actor, request_id, face_ids=chosen, identity_check=identity_check)
    return see_other(f"/admin/requests/{request_id}")


@router.post("/admin/requests/{request_id}/decline", dependencies=[CsrfChecked])
def decline_request(
    engine: Engine, actor: SignedIn, request_id: int, reason: Annotated[str, Form()] = ""
):
    engine.fulfil_subject_request(actor, request_id, decline_reason=reason)
    return see_other(f"/admin/requests/{request_id}")
