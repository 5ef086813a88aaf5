"""The data subjects' portal (no account): requests and their status."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, File, Form, Request, UploadFile
from fastapi.responses import Response

from facesift.errors import AmbiguousFaceError, InputError, NoFaceError
from facesift.govern.requests import KINDS
from facesift.serve.deps import Engine
from facesift.serve.problems import Problem
from facesift.serve.uploads import read_image
from facesift.serve.web.common import Public, optional_actor
from facesift.serve.web.pages import WebRoute, page
from facesift.serve.web.session import (
    CsrfChecked,
)
from facesift.types import RequestStatus

router = APIRouter(route_class=WebRoute, include_in_schema=False)


@router.get("/subject")
def portal(request: Request):
    # Access is chosen to start with: it changes nothing, and the answer shows what else to ask.
    return page(request, "portal.html", optional_actor(request), kinds=KINDS, kind="access")


@router.post("/subject", dependencies=[CsrfChecked, Public])
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
        data = read_image(selfie, engine.settings.portal_max_selfie_bytes, "selfie")
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
        return page(request, "portal_submitted.html", optional_actor(request), request_=opened)
    return page(
        request,
        "portal.html",
        optional_actor(request),
        status_code=422,
        error=message,
        kinds=KINDS,
        **kept,
    )


@router.get("/subject/status")
def status_form(request: Request):
    return page(request, "portal_status.html", optional_actor(request))


@router.post("/subject/status", dependencies=[CsrfChecked, Public])
def request_status(request: Request, engine: Engine, reference: Annotated[str, Form()] = ""):
    # The reference travels in the form body, not the URL, so it stays out of logs and history.
    found = engine.subject_request_by_reference(reference.strip())
    return page(request, "portal_status.html", optional_actor(request), found=found)


@router.post("/subject/report", dependencies=[CsrfChecked, Public])
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
