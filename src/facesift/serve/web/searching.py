"""Search, its kept results and lead review, and the faces and images leads point at."""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path
from typing import Annotated

from fastapi import APIRouter, File, Form, Query, Request, UploadFile
from fastapi.responses import JSONResponse, Response

from facesift.errors import AmbiguousFaceError, InputError, NoFaceError
from facesift.govern.evidence import pack_folder_name
from facesift.govern.roles import Action
from facesift.search.policy import describe_odds
from facesift.serve.deps import Engine
from facesift.serve.problems import Problem
from facesift.serve.uploads import read_image
from facesift.serve.web.casework import kept_searches, one_in, search_view, strangers
from facesift.serve.web.common import NOTICE
from facesift.serve.web.pages import WebRoute, page, see_other
from facesift.serve.web.session import (
    CsrfChecked,
    SignedIn,
)

router = APIRouter(route_class=WebRoute, include_in_schema=False)


@router.get("/search")
def search_form(request: Request, engine: Engine, actor: SignedIn):
    actor.require(Action.SEARCH)
    return page(request, "search.html", actor, notice=NOTICE, **_recent(engine, actor))


def _recent(engine, actor) -> dict:
    """The investigator's own recent searches, to come back to their leads' review status."""
    return {"recent": kept_searches(engine, actor, pending_only=False, limit=10)}


@router.post("/search/faces", dependencies=[CsrfChecked])
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


@router.post("/search", dependencies=[CsrfChecked])
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


@router.get("/searches/{search_id}")
def search_results(request: Request, engine: Engine, actor: SignedIn, search_id: int):
    view = search_view(engine, actor, search_id)
    return page(
        request,
        "results.html",
        actor,
        view=view,
        notice=NOTICE,
        one_in=one_in,
        describe_odds=describe_odds,
        strangers=strangers,
    )


@router.post("/searches/{search_id}/leads/{face_id}/review", dependencies=[CsrfChecked])
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


@router.post("/cases/evidence-pack", dependencies=[CsrfChecked])
def case_evidence_pack(engine: Engine, actor: SignedIn, case: Annotated[str, Form()]):
    """The case's evidence pack (govern/evidence.py) as a zip to download: built in a temporary
    folder, which goes once it is zipped; the export is audited like the CLI's."""
    with tempfile.TemporaryDirectory(prefix="facesift-pack-") as scratch:
        name = pack_folder_name(case)
        pack = engine.export_case(actor, case, Path(scratch) / name)
        archive = shutil.make_archive(str(Path(scratch) / name), "zip", scratch, name)
        data = Path(archive).read_bytes()
    return Response(
        data,
        media_type="application/zip",
        headers={
            "Content-Disposition": f'attachment; filename="{name}.zip"',
            "Cache-Control": "private, no-store",
            "X-Pack-Seal": pack.pack_seal,
        },
    )


@router.get("/review")
def review_queue(
    request: Request, engine: Engine, actor: SignedIn, show: str = "pending"
) -> Response:
    actor.require(Action.REVIEW)
    searches = kept_searches(engine, actor, pending_only=show != "all")
    return page(request, "review_queue.html", actor, searches=searches, show=show, notice=NOTICE)


@router.get("/searches/{search_id}/probe-faces/{face_number}")
def probe_crop(engine: Engine, actor: SignedIn, search_id: int, face_number: int):
    data = engine.probe_crop(actor, search_id, face_number)
    return Response(data, media_type="image/jpeg", headers={"Cache-Control": "private, no-cache"})


@router.get("/faces/{face_id}/thumbnail")
def face_thumbnail(
    engine: Engine,
    actor: SignedIn,
    face_id: int,
    size: Annotated[int, Query()] = 160,
    boxed: Annotated[bool, Query()] = False,
):
    data = engine.face_thumbnail(actor, face_id, size, boxed)
    return Response(data, media_type="image/jpeg", headers={"Cache-Control": "private, no-cache"})


@router.get("/images/{image_id}")
def full_image(engine: Engine, actor: SignedIn, image_id: int):
    data, mime = engine.image_file(actor, image_id)
    return Response(data, media_type=mime, headers={"Cache-Control": "private, no-cache"})
