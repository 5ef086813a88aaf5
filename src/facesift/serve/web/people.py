"""People: the faces clustering grouped into identities, shown as face grids, and the human
corrections (name, merge, split, move) for those who may edit them.

Every thumbnail is an audited read (govern/visibility.py), so a page shows a bounded number of
faces: ``FACES_PER_PERSON`` for each of ``PEOPLE_PER_PAGE`` people on the list, ``FACES_PER_PAGE``
on one person's page, and says so.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Query, Request

from facesift.errors import InputError
from facesift.govern.roles import PERMISSIONS, Action
from facesift.serve.deps import Engine
from facesift.serve.web.pages import WebRoute, page, see_other
from facesift.serve.web.session import CsrfChecked, SignedIn

PEOPLE_PER_PAGE = 10
FACES_PER_PERSON = 12
FACES_PER_PAGE = 48

router = APIRouter(route_class=WebRoute, include_in_schema=False)


def _pages(total: int, size: int) -> int:
    return max(1, -(-total // size))


@router.get("/people")
def people(
    request: Request,
    engine: Engine,
    actor: SignedIn,
    page_number: Annotated[int, Query(alias="page")] = 1,
):
    found = engine.identities(actor)  # IDENTITY_VIEW
    pages = _pages(len(found), PEOPLE_PER_PAGE)
    number = min(max(1, page_number), pages)
    shown = found[(number - 1) * PEOPLE_PER_PAGE : number * PEOPLE_PER_PAGE]
    faces = {p.id: engine.identity_faces(actor, p.id)[:FACES_PER_PERSON] for p in shown}
    allowed = PERMISSIONS[actor.role]
    return page(
        request,
        "people.html",
        actor,
        people=shown,
        faces=faces,
        total=len(found),
        page_number=number,
        pages=pages,
        per_person=FACES_PER_PERSON,
        may_edit=Action.IDENTITY_EDIT in allowed,
        may_group=Action.CLUSTER in allowed,
    )


@router.get("/people/{identity_id}")
def person(
    request: Request,
    engine: Engine,
    actor: SignedIn,
    identity_id: int,
    page_number: Annotated[int, Query(alias="page")] = 1,
):
    face_ids = engine.identity_faces(actor, identity_id)  # unknown: a 404 page
    summary = next((p for p in engine.identities(actor) if p.id == identity_id), None)
    pages = _pages(len(face_ids), FACES_PER_PAGE)
    number = min(max(1, page_number), pages)
    shown = face_ids[(number - 1) * FACES_PER_PAGE : number * FACES_PER_PAGE]
    return page(
        request,
        "person.html",
        actor,
        person=summary,
        identity_id=identity_id,
        face_ids=shown,
        total=len(face_ids),
        page_number=number,
        pages=pages,
        per_page=FACES_PER_PAGE,
        may_edit=Action.IDENTITY_EDIT in PERMISSIONS[actor.role],
    )


@router.post("/people/group", dependencies=[CsrfChecked])
def group(engine: Engine, actor: SignedIn):
    engine.cluster(actor)  # CLUSTER
    return see_other("/people")


@router.post("/people/{identity_id}/name", dependencies=[CsrfChecked])
def name(engine: Engine, actor: SignedIn, identity_id: int, name: Annotated[str, Form()] = ""):
    engine.name_identity(actor, identity_id, name.strip())  # IDENTITY_EDIT
    return see_other(f"/people/{identity_id}")


@router.post("/people/{identity_id}/merge", dependencies=[CsrfChecked])
def merge(engine: Engine, actor: SignedIn, identity_id: int, other: Annotated[str, Form()] = ""):
    if not other.strip().isdigit():
        raise InputError("other: give the number of the person to merge into this one")
    engine.merge_identities(actor, identity_id, int(other))
    return see_other(f"/people/{identity_id}")


@router.post("/people/{identity_id}/move", dependencies=[CsrfChecked])
def move(
    engine: Engine,
    actor: SignedIn,
    identity_id: int,
    face_ids: Annotated[list[int], Form()] = (),  # type: ignore[assignment]
    to: Annotated[str, Form()] = "",
    action: Annotated[str, Form()] = "move",
):
    """Move the clicked faces to another person, or split them off into a new one."""
    chosen = list(face_ids)
    if not chosen:
        raise InputError("faces: click the faces to move first")
    target: int | None = None
    if action != "split":
        if not to.strip().isdigit():
            raise InputError("to: give the number of the person to move the faces to")
        target = int(to)
    moved_to = engine.move_faces(actor, chosen, target)
    return see_other(f"/people/{moved_to}")
