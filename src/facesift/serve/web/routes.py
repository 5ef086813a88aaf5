"""The web UI: server-rendered pages over the same engine (and so the same permission checks and
audit trail) as the CLI and the REST API.

Operators sign in with their API key; each role sees its own pages (investigators search,
reviewers confirm or reject leads, administrators answer data subjects' requests, auditors read
the audit trail). Data subjects use the portal without an account.
"""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, time, timedelta
from typing import Annotated
from urllib.parse import urlsplit

from fastapi import APIRouter, Depends, File, Form, Query, Request, UploadFile
from fastapi.responses import JSONResponse, Response

from facesift.errors import AmbiguousFaceError, InputError, NoFaceError
from facesift.govern.operators import AuthenticationError
from facesift.govern.requests import KINDS
from facesift.govern.roles import PERMISSIONS, Action
from facesift.serve.deps import Engine, public_caller
from facesift.serve.problems import Problem
from facesift.serve.uploads import read_image
from facesift.serve.web.casework import kept_searches, one_in, search_view
from facesift.serve.web.pages import WebRoute, home_of, page, see_other
from facesift.serve.web.session import (
    CsrfChecked,
    NotSignedIn,
    SignedIn,
    sign_in,
    sign_out,
    signed_in_actor,
)
from facesift.types import RequestKind, RequestStatus

# Access and erasure requests act on the faces the selfie matches; an opt-out on the selfie.
MATCHING_KINDS = (RequestKind.ACCESS, RequestKind.ERASURE)

web_router = APIRouter(route_class=WebRoute, include_in_schema=False)

NOTICE = (
    "Matches are investigative leads, not identifications. A lead may be used only after two "
    "different reviewers have confirmed it; a face search is never, on its own, grounds for action."
)
AUDIT_ROWS_SHOWN = 500
Public = Depends(public_caller)


def _optional_actor(request: Request):
    try:
        return signed_in_actor(request)
    except NotSignedIn:
        return None


# --- signing in ---------------------------------------------------------------------------------


@web_router.get("/")
def home(request: Request):
    actor = _optional_actor(request)
    return see_other(home_of(actor) if actor else "/login")


def _local(target: str | None) -> str | None:
    """Only redirect to paths on this site (never to another host after signing in)."""
    if not target:
        return None
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith("/") or target.startswith("//"):
        return None
    return target


@web_router.get("/login")
def login_form(request: Request, next: str | None = None):
    return page(request, "login.html", next=_local(next) or "")


@web_router.post("/login", dependencies=[CsrfChecked, Public])
def login(
    request: Request,
    engine: Engine,
    api_key: Annotated[str, Form()] = "",
    next: Annotated[str, Form()] = "",
):
    try:
        if not api_key.strip():
            raise AuthenticationError("enter your API key")
        actor = sign_in(request, engine, api_key)
    except AuthenticationError as error:
        return page(request, "login.html", status_code=401, error=str(error), next=_local(next))
    return see_other(_local(next) or home_of(actor))


@web_router.post("/logout", dependencies=[CsrfChecked])
def logout(request: Request):
    sign_out(request)
    return see_other("/login")


# --- search and its leads -----------------------------------------------------------------------


@web_router.get("/search")
def search_form(request: Request, engine: Engine, actor: SignedIn):
    actor.require(Action.SEARCH)
    return page(request, "search.html", actor, notice=NOTICE, **_recent(engine, actor))


def _recent(engine, actor) -> dict:
    """The investigator's own recent searches, to come back to their leads' review status."""
    return {"recent": kept_searches(engine, actor, pending_only=False, limit=10)}


@web_router.post("/search/faces", dependencies=[CsrfChecked])
def probe_faces(
    request: Request, engine: Engine, actor: SignedIn, probe: Annotated[UploadFile, File()]
):
    """The faces found in a probe, for the investigator to pick one before searching. Nothing
    about the gallery is looked at, so this is not a search and is not audited."""
    actor.require(Action.SEARCH)
    data = read_image(probe, engine.settings.max_file_bytes, "photo")
    analysed = engine.analyse_probe(data, probe.filename or "photo")
    if not analysed.faces:
        raise NoFaceError(probe.filename or "photo")
    return JSONResponse(
        {
            "width": analysed.width,
            "height": analysed.height,
            "faces": [
                {"number": n, "box": face.detection.box.as_list()}
                for n, face in enumerate(analysed.faces, start=1)
            ],
        }
    )


@web_router.post("/search", dependencies=[CsrfChecked])
def run_search(
    request: Request,
    engine: Engine,
    actor: SignedIn,
    probe: Annotated[UploadFile | None, File()] = None,
    purpose: Annotated[str, Form()] = "",
    case: Annotated[str, Form()] = "",
    face: Annotated[str, Form()] = "",
):
    actor.require(Action.SEARCH)
    kept = {"purpose": purpose, "case": case}
    try:
        if probe is None or not probe.filename:
            raise InputError("photo: choose or drop a photo to search with")
        if not purpose.strip() or not case.strip():
            raise InputError(
                "purpose and case are both required: why this search is made, and the case or "
                "authorisation reference (both are recorded in the audit trail)"
            )
        number = _face_number(face)
        data = read_image(probe, engine.settings.max_file_bytes, "photo")
        if number is None:
            number = _only_face(engine, data, probe.filename)
        record = engine.search_with_id(
            actor, data, purpose=purpose, case=case, face=number, name=probe.filename
        )
    except AmbiguousFaceError as error:
        message = (
            f"{error.count} faces are in this photo: click the one to search for "
            f"(or enter its number, 1 to {error.count}), then search again"
        )
        return _search_refused(request, engine, actor, message, kept)
    except (InputError, Problem) as error:
        message = error.detail if isinstance(error, Problem) else str(error)
        return _search_refused(request, engine, actor, message, kept)
    return see_other(f"/searches/{record.search_id}")


def _face_number(face: str) -> int | None:
    if not face.strip():
        return None
    try:
        return int(face)
    except ValueError:
        raise InputError(f"face: {face!r} is not a face number") from None


def _only_face(engine, data: bytes, name: str) -> int:
    """Without a chosen face, a photo must show exactly one: the web UI searches for one person
    at a time, never for everyone in a group photo."""
    faces = engine.analyse_probe(data, name).faces
    if not faces:
        raise NoFaceError(name)
    if len(faces) > 1:
        raise AmbiguousFaceError(name, len(faces))
    return 1


def _search_refused(request, engine, actor, message, kept):
    return page(
        request,
        "search.html",
        actor,
        status_code=422,
        error=message,
        notice=NOTICE,
        **kept,
        **_recent(engine, actor),
    )


@web_router.get("/searches/{search_id}")
def search_results(request: Request, engine: Engine, actor: SignedIn, search_id: int):
    view = search_view(engine, actor, search_id)
    return page(request, "results.html", actor, view=view, notice=NOTICE, one_in=one_in)


@web_router.post("/searches/{search_id}/leads/{face_id}/review", dependencies=[CsrfChecked])
def review_lead(
    request: Request,
    engine: Engine,
    actor: SignedIn,
    search_id: int,
    face_id: int,
    decision: Annotated[str, Form()],
    note: Annotated[str, Form()] = "",
):
    engine.review_lead(actor, search_id, face_id, decision, note)
    return see_other(f"/searches/{search_id}#face-{face_id}")


@web_router.get("/review")
def review_queue(
    request: Request, engine: Engine, actor: SignedIn, show: str = "pending"
) -> Response:
    actor.require(Action.REVIEW)
    searches = kept_searches(engine, actor, pending_only=show != "all")
    return page(request, "review_queue.html", actor, searches=searches, show=show, notice=NOTICE)


@web_router.get("/faces/{face_id}/thumbnail")
def face_thumbnail(
    engine: Engine,
    actor: SignedIn,
    face_id: int,
    size: Annotated[int, Query()] = 160,
    boxed: Annotated[bool, Query()] = False,
):
    data = engine.face_thumbnail(actor, face_id, size, boxed)
    return Response(data, media_type="image/jpeg", headers={"Cache-Control": "private, no-cache"})


@web_router.get("/images/{image_id}")
def full_image(engine: Engine, actor: SignedIn, image_id: int):
    data, mime = engine.image_file(actor, image_id)
    return Response(data, media_type=mime, headers={"Cache-Control": "private, no-cache"})


# --- the data subjects' portal (no account) --------------------------------------------------


@web_router.get("/subject")
def portal(request: Request):
    return page(request, "portal.html", _optional_actor(request), kinds=KINDS)


@web_router.post("/subject", dependencies=[CsrfChecked, Public])
def submit_request(
    request: Request,
    engine: Engine,
    selfie: Annotated[UploadFile | None, File()] = None,
    kind: Annotated[str, Form()] = "",
    contact: Annotated[str, Form()] = "",
    name: Annotated[str, Form()] = "",
):
    kept = {"kind": kind, "contact": contact, "name": name}
    try:
        if selfie is None or not selfie.filename:
            raise InputError("selfie: choose a photo of your face")
        data = read_image(selfie, engine.settings.max_file_bytes, "selfie")
        opened = engine.open_subject_request(data, kind, contact, name or None)
    except NoFaceError:
        message = (
            "selfie: no face was found in this photo; send a clear, well-lit photo of your "
            "face, looking at the camera"
        )
    except AmbiguousFaceError as error:
        message = (
            f"selfie: {error.count} faces were found in this photo; send a photo that shows "
            "only your face"
        )
    except (InputError, Problem) as error:
        message = error.detail if isinstance(error, Problem) else str(error)
    else:
        return page(request, "portal_submitted.html", _optional_actor(request), request_=opened)
    return page(
        request,
        "portal.html",
        _optional_actor(request),
        status_code=422,
        error=message,
        kinds=KINDS,
        **kept,
    )


@web_router.get("/subject/status")
def status_form(request: Request):
    return page(request, "portal_status.html", _optional_actor(request))


@web_router.post("/subject/status", dependencies=[CsrfChecked, Public])
def request_status(request: Request, engine: Engine, reference: Annotated[str, Form()] = ""):
    # The reference travels in the form body, not the URL, so it stays out of logs and history.
    found = engine.subject_request_by_reference(reference.strip())
    return page(request, "portal_status.html", _optional_actor(request), found=found)


@web_router.post("/subject/report", dependencies=[CsrfChecked, Public])
def request_report(engine: Engine, reference: Annotated[str, Form()] = ""):
    found = engine.subject_request_by_reference(reference.strip())
    if found.status != RequestStatus.FULFILLED or not found.report_html:
        raise InputError(
            "this request has no report yet: it is available once the request is fulfilled"
        )
    return Response(
        found.report_html,
        media_type="text/html; charset=utf-8",
        headers={
            "Content-Disposition": f'attachment; filename="facesift-{found.kind}-report.html"',
            "Cache-Control": "no-store",
        },
    )


# --- administrators: answering requests ---------------------------------------------------------


@web_router.get("/admin/requests")
def admin_requests(request: Request, engine: Engine, actor: SignedIn, status: str | None = "open"):
    chosen = status if status in tuple(RequestStatus) else None
    found = engine.subject_requests(actor, chosen)
    return page(
        request, "admin_requests.html", actor, requests=found, status=chosen, now=datetime.now(UTC)
    )


@web_router.get("/admin/requests/{request_id}")
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


@web_router.post("/admin/requests/{request_id}/fulfil", dependencies=[CsrfChecked])
def fulfil_request(
    engine: Engine,
    actor: SignedIn,
    request_id: int,
    face_ids: Annotated[list[int], Form()] = (),
):
    found = engine.subject_request(actor, request_id)
    chosen = list(face_ids) if found.kind in MATCHING_KINDS else None
    engine.fulfil_subject_request(actor, request_id, face_ids=chosen)
    return see_other(f"/admin/requests/{request_id}")


@web_router.post("/admin/requests/{request_id}/decline", dependencies=[CsrfChecked])
def decline_request(
    engine: Engine, actor: SignedIn, request_id: int, reason: Annotated[str, Form()] = ""
):
    engine.fulfil_subject_request(actor, request_id, decline_reason=reason)
    return see_other(f"/admin/requests/{request_id}")


# --- auditors -----------------------------------------------------------------------------------


def _day(value: str | None, field: str) -> date | None:
    if not value:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise InputError(f"{field}: {value!r} is not a date (YYYY-MM-DD)") from None


@web_router.get("/audit")
def audit(
    request: Request,
    engine: Engine,
    actor: SignedIn,
    operator: str = "",
    action: str = "",
    since: str = "",
    until: str = "",
):
    actor.require(Action.AUDIT_SHOW)
    first, last = _day(since, "from"), _day(until, "to")
    start = datetime.combine(first, time.min, UTC) if first else None
    records = engine.audit_records(
        actor, operator=operator.strip() or None, action=action or None, since=start
    )
    if last is not None:
        end = datetime.combine(last + timedelta(days=1), time.min, UTC).isoformat()
        records = [r for r in records if r.at < end]
    shown = list(reversed(records))[:AUDIT_ROWS_SHOWN]
    return page(
        request,
        "audit.html",
        actor,
        records=shown,
        total=len(records),
        limit=AUDIT_ROWS_SHOWN,
        actions=[a.value for a in Action],
        filters={"operator": operator, "action": action, "since": since, "until": until},
        as_json=lambda details: json.dumps(details, sort_keys=True),
    )


@web_router.get("/audit/verify")
def audit_verify(request: Request, engine: Engine, actor: SignedIn):
    check = engine.audit_verify(actor)
    return page(request, "audit_verify.html", actor, check=check)


# --- the gallery --------------------------------------------------------------------------------


@web_router.get("/gallery")
def gallery(request: Request, engine: Engine, actor: SignedIn):
    counts = engine.source_sizes(actor)  # SOURCE_LIST
    sources = [(source, *counts.get(source.name, (0, 0))) for source in engine.sources()]
    stats = engine.stats() if Action.STATS in PERMISSIONS[actor.role] else None
    return page(request, "gallery.html", actor, sources=sources, stats=stats)
