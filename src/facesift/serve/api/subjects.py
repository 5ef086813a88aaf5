"""Data subjects' rights: the operator side (by selfie, as `facesift subject`) and the portal
where people make requests themselves (no API key; rate-limited per address)."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, File, Form, Query, UploadFile
from fastapi.responses import HTMLResponse

from facesift.govern import requests
from facesift.serve.api.common import AUTHED, UPLOADS, problems
from facesift.serve.deps import CurrentActor, Engine, PublicCaller
from facesift.serve.problems import Problem
from facesift.serve.schemas import (
    FulfilIn,
    OptOutOut,
    OptOutWithdrawnOut,
    ReceiptOut,
    ReferenceIn,
    SubjectReportOut,
    SubjectRequestOut,
    SubjectRequestPublic,
)
from facesift.serve.uploads import read_image
from facesift.types import RequestStatus

router = APIRouter()

# The report is self-contained HTML (inline thumbnails and style); nothing else may load or run.
REPORT_CSP = "default-src 'none'; img-src data:; style-src 'unsafe-inline'"

Selfie = Annotated[UploadFile, File(description="A photo of the person, showing one face.")]
FaceNumber = Annotated[int | None, Form(ge=1, description="Use face N of the photo.")]


# --- operator side (admin), as the CLI's `facesift subject ...` ---------------------------------


@router.post("/subjects/access", tags=["subjects"], responses=UPLOADS)
def subject_access(
    engine: Engine, actor: CurrentActor, selfie: Selfie, face: FaceNumber = None
) -> SubjectReportOut:
    """Every face held that matches the selfie, with provenance (GDPR Art. 15)."""
    data = read_image(selfie, engine.settings.max_file_bytes, "selfie")
    return report_out(engine.subject_access(actor, data, face))


@router.post(
    "/subjects/erase", tags=["subjects"], responses=problems(400, 401, 403, 409, 413, 415, 422, 429)
)
def subject_erase(
    engine: Engine,
    actor: CurrentActor,
    selfie: Selfie,
    face_ids: Annotated[
        list[int],
        Form(
            description="The faces to erase, chosen from the selfie's matches "
            "(/subjects/access): at least one, and only matches."
        ),
    ],
    face: FaceNumber = None,
) -> ReceiptOut:
    """Erase the chosen faces matching the selfie, and bar their photos from being ingested
    again. The choice is explicit: erasure cannot be undone."""
    data = read_image(selfie, engine.settings.max_file_bytes, "selfie")
    report = engine.subject_access(actor, data, face)
    receipt = engine.subject_erase(actor, report, face_ids)
    return receipt_out(receipt)


@router.post("/subjects/optout", tags=["subjects"], responses=UPLOADS)
def subject_optout(
    engine: Engine, actor: CurrentActor, selfie: Selfie, face: FaceNumber = None
) -> OptOutOut:
    """Put the person's face template on the do-not-index list."""
    data = read_image(selfie, engine.settings.max_file_bytes, "selfie")
    receipt = engine.subject_optout(actor, data, face)
    return OptOutOut.model_validate(receipt)


@router.post("/subjects/optout/withdraw", tags=["subjects"], responses=UPLOADS)
def subject_optout_withdraw(
    engine: Engine, actor: CurrentActor, selfie: Selfie, face: FaceNumber = None
) -> OptOutWithdrawnOut:
    data = read_image(selfie, engine.settings.max_file_bytes, "selfie")
    return OptOutWithdrawnOut(removed=engine.subject_optout_remove(actor, data, face))


# --- the portal: people's own requests ----------------------------------------------------------


@router.post(
    "/subject-requests",
    status_code=201,
    tags=["subject requests"],
    responses=problems(400, 413, 415, 422, 429),
)
def submit_request(
    engine: Engine,
    _caller: PublicCaller,
    selfie: Selfie,
    kind: Annotated[Literal["access", "erasure", "optout"], Form()],
    contact: Annotated[str, Form(description="Where to answer you (e-mail or postal address).")],
    name: Annotated[str | None, Form()] = None,
) -> SubjectRequestPublic:
    """Make an access, erasure or opt-out request (no account needed). Keep the reference: it is
    the only way to follow the request. Nothing is shown until an administrator has handled it."""
    data = read_image(selfie, engine.settings.portal_max_selfie_bytes, "selfie")
    return public_out(engine.open_subject_request(data, kind, contact, name))


@router.post(
    "/subject-requests/status",
    tags=["subject requests"],
    responses=problems(404, 422, 429),
)
def request_status(
    body: ReferenceIn, engine: Engine, _caller: PublicCaller
) -> SubjectRequestPublic:
    """A request's status, by its reference. The reference travels in the body, never in a URL:
    URLs end up in access logs, proxies and browser history, and the reference is all that
    stands between a stranger and the person's report."""
    return public_out(engine.subject_request_by_reference(body.reference))


@router.post(
    "/subject-requests/report",
    tags=["subject requests"],
    response_class=HTMLResponse,
    responses={
        200: {
            "description": "The report or receipt: one self-contained HTML page",
            "content": {"text/html": {"schema": {"type": "string"}}},
        },
        **problems(404, 422, 429),
    },
)
def request_report(body: ReferenceIn, engine: Engine, _caller: PublicCaller) -> HTMLResponse:
    """The report (access) or receipt (erasure, opt-out) of a fulfilled request, by its
    reference (in the body, as for the status)."""
    found = engine.subject_request_by_reference(body.reference)
    if found.status != RequestStatus.FULFILLED or not found.report_html:
        raise Problem(404, f"request is {found.status}: there is no report yet", kind="not-found")
    return HTMLResponse(
        found.report_html,
        headers={"Content-Security-Policy": REPORT_CSP},
    )


# --- administrators handle them -------------------------------------------------------------------


@router.get("/admin/subject-requests", tags=["subject requests"], responses=AUTHED)
def list_requests(
    engine: Engine,
    actor: CurrentActor,
    status: Annotated[Literal["open", "fulfilled", "declined"] | None, Query()] = None,
) -> list[SubjectRequestOut]:
    """Requests, soonest due first (admin)."""
    return [admin_out(r) for r in engine.subject_requests(actor, status)]


@router.get(
    "/admin/subject-requests/{request_id}/candidates",
    tags=["subject requests"],
    responses=problems(401, 403, 404, 422, 429),
)
def request_candidates(request_id: int, engine: Engine, actor: CurrentActor) -> SubjectReportOut:
    """The faces an open request's selfie matches: check them before fulfilling (admin)."""
    return report_out(engine.subject_request_candidates(actor, request_id))


@router.post(
    "/admin/subject-requests/{request_id}/fulfil",
    tags=["subject requests"],
    responses=problems(401, 403, 404, 409, 422, 429),
)
def fulfil_request(
    request_id: int, body: FulfilIn, engine: Engine, actor: CurrentActor
) -> SubjectRequestOut:
    """Carry out an open request for the confirmed faces, or decline it with a reason (admin)."""
    return admin_out(
        engine.fulfil_subject_request(
            actor,
            request_id,
            face_ids=body.face_ids,
            identity_check=body.identity_check,
            decline_reason=body.decline_reason,
        )
    )


def report_out(report) -> SubjectReportOut:
    return SubjectReportOut.model_validate(report)


def receipt_out(receipt) -> ReceiptOut:
    return ReceiptOut.model_validate(receipt)


def public_out(found: requests.SubjectRequest) -> SubjectRequestPublic:
    return SubjectRequestPublic.model_validate(found)


def admin_out(found: requests.SubjectRequest) -> SubjectRequestOut:
    return SubjectRequestOut.model_validate(found)
