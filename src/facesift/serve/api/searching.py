"""Search, verify, lead review, and the faces and images leads point at."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, File, Form, Query, Response, UploadFile

from facesift.errors import FaceSiftError
from facesift.govern.roles import Action
from facesift.serve.api.common import UPLOADS, binary, problems
from facesift.serve.deps import CurrentActor, Engine
from facesift.serve.schemas import (
    KeptSearchOut,
    LeadReviewOut,
    ProbeFaceOut,
    ReviewIn,
    SearchOddsOut,
    SearchOut,
    VerifyOut,
)
from facesift.serve.uploads import read_image

router = APIRouter()

NOTICE = "investigative leads, not identifications: two reviewers confirm a lead before use"
Purpose = Annotated[str, Form(description="Why this search is made (recorded in the audit).")]
Case = Annotated[str, Form(description="Case or authorisation reference (recorded).")]


@router.post("/search", tags=["search"], responses=UPLOADS)
def search(
    engine: Engine,
    actor: CurrentActor,
    probe: Annotated[UploadFile, File(description="Photo to search with.")],
    purpose: Purpose,
    case: Case,
    top_k: Annotated[int, Form(ge=1, le=100)] = 10,
    threshold: Annotated[float | None, Form(gt=0, le=2)] = None,
    face: Annotated[int | None, Form(ge=1, description="Search only face N of the probe.")] = None,
) -> SearchOut:
    """1:N search: for each face in the probe, ranked leads with provenance.

    The search is kept (who, why, which leads, the crop of each probe face; never the whole
    probe photo) under `search_id` for review."""
    actor.require(Action.SEARCH)
    data = read_image(probe, engine.settings.max_file_bytes, "probe")
    record = engine.search_with_id(
        actor,
        data,
        purpose=purpose,
        case=case,
        top_k=top_k,
        threshold=threshold,
        face=face,
        name="probe",
    )
    if record.search_id is None:  # search_with_id always keeps the search
        raise FaceSiftError("the search was not kept")
    # The search's envelope: its record, the threshold it used and the notice that goes with
    # every answer; the faces and odds are read from the record's own objects.
    return SearchOut(
        search_id=record.search_id,
        threshold=engine.match_threshold if threshold is None else threshold,
        notice=NOTICE,
        faces=[ProbeFaceOut.model_validate(result) for result in record.results],
        odds=None if record.odds is None else SearchOddsOut.model_validate(record.odds),
    )


@router.post("/verify", tags=["search"], responses=UPLOADS)
def verify(
    engine: Engine,
    actor: CurrentActor,
    a: Annotated[UploadFile, File(description="First photo.")],
    b: Annotated[UploadFile, File(description="Second photo.")],
    purpose: Purpose,
    case: Case,
    threshold: Annotated[float | None, Form(gt=0, le=2)] = None,
) -> VerifyOut:
    """1:1: are the main faces of two photos the same person?"""
    actor.require(Action.VERIFY)
    limit = engine.settings.max_file_bytes
    result = engine.verify(
        actor,
        read_image(a, limit, "a"),
        read_image(b, limit, "b"),
        purpose=purpose,
        case=case,
        threshold=threshold,
    )
    return VerifyOut.model_validate(result)


@router.get("/searches/{search_id}", tags=["review"], responses=problems(401, 403, 404, 422, 429))
def kept_search(search_id: int, engine: Engine, actor: CurrentActor) -> KeptSearchOut:
    """A kept search and the review status of each of its leads (reviewers; its investigator)."""
    found = engine.kept_search(actor, search_id)
    statuses = engine.lead_reviews(actor, search_id)
    return KeptSearchOut.model_validate(found, context={"leads": statuses})


@router.post(
    "/searches/{search_id}/leads/{face_id}/review",
    tags=["review"],
    responses=problems(401, 403, 404, 409, 422, 429),
)
def review_lead(
    search_id: int, face_id: int, body: ReviewIn, engine: Engine, actor: CurrentActor
) -> LeadReviewOut:
    """Confirm or reject a lead (reviewers). Confirmed once two different reviewers confirm."""
    status = engine.review_lead(actor, search_id, face_id, body.decision, body.note)
    return LeadReviewOut.model_validate(status)


@router.get(
    "/faces/{face_id}/thumbnail",
    tags=["faces"],
    response_class=Response,
    responses={
        200: binary("image/jpeg", "The face's thumbnail (JPEG)"),
        **problems(401, 403, 404, 422, 429),
    },
)
def face_thumbnail(
    face_id: int,
    engine: Engine,
    actor: CurrentActor,
    size: Annotated[int, Query(description="Longest side: 80, 160 or 320.")] = 160,
    boxed: Annotated[bool, Query(description="A wider crop with the face boxed.")] = False,
) -> Response:
    """A face's thumbnail: admins any face; reviewers any lead; investigators their own leads."""
    data = engine.face_thumbnail(actor, face_id, size, boxed)
    return Response(data, media_type="image/jpeg", headers={"Cache-Control": "private"})


@router.get(
    "/images/{image_id}",
    tags=["faces"],
    response_class=Response,
    responses={
        200: binary("image/*", "The image file as ingested (its own type: JPEG, PNG ...)"),
        **problems(401, 403, 404, 422, 429),
    },
)
def full_image(image_id: int, engine: Engine, actor: CurrentActor) -> Response:
    """The full image a lead came from (same rule as thumbnails)."""
    data, mime = engine.image_file(actor, image_id)
    return Response(data, media_type=mime, headers={"Cache-Control": "private"})
