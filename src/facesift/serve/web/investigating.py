"""Investigators' other tools: duplicates within or across sources (pairs likely the same
person, grouped by person) and 1:1 verification of two photos."""

from __future__ import annotations

import base64
import io
from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, File, Form, Request, Response, UploadFile
from PIL import Image, ImageDraw, ImageOps

from facesift.errors import InputError, NoFaceError
from facesift.govern.roles import PERMISSIONS, Action
from facesift.search.duplicates import pairs_csv
from facesift.serve.deps import Engine
from facesift.serve.problems import Problem
from facesift.serve.uploads import read_image, safe_file_name
from facesift.serve.web.casework import one_in
from facesift.serve.web.common import NOTICE
from facesift.serve.web.pages import WebRoute, page
from facesift.serve.web.session import CsrfChecked, SignedIn
from facesift.types import BoundingBox

# Each pair shows two faces and every face shown is an audited read: the most alike first.
PAIRS_SHOWN = 40
SHOWN_SIDE = 360  # px: the verify page's photos, drawn in the page (the uploads are not kept)

router = APIRouter(route_class=WebRoute, include_in_schema=False)


@router.get("/duplicates")
def duplicates_form(request: Request, engine: Engine, actor: SignedIn):
    actor.require(Action.DUPLICATES)
    return page(request, "duplicates.html", actor, sources=engine.sources(), report=None)


@router.post("/duplicates", dependencies=[CsrfChecked])
def find_duplicates(
    request: Request,
    engine: Engine,
    actor: SignedIn,
    source: Annotated[str, Form()] = "",
    against: Annotated[str, Form()] = "",
):
    report = engine.duplicates(actor, source, against=against or None)  # DUPLICATES, audited
    shown = report.pairs[:PAIRS_SHOWN]
    faces = sorted({f for pair in shown for f in (pair.face_a, pair.face_b)})
    people = engine.identities_of(actor, faces) if faces else {}
    groups: dict[int | None, list] = {}
    for pair in shown:
        person = people.get(pair.face_a) or people.get(pair.face_b)
        groups.setdefault(person.id if person else None, []).append(pair)
    names = {p.id: p.name for p in people.values()}
    where = engine.stored_faces(actor, faces) if faces else {}

    def caption(face_id: int, record: str) -> str:
        """A record is a subject reference or "image:N": name the photo's file beside it."""
        found = where.get(face_id)
        name = found.image_path.rsplit("/", 1)[-1] if found else ""
        return name if record.startswith("image:") else f"{record} · {name}"

    ordered = sorted(groups.items(), key=lambda item: (item[0] is None, item[0] or 0))
    return page(
        request,
        "duplicates.html",
        actor,
        sources=engine.sources(),
        report=report,
        groups=ordered,
        names=names,
        grouped=set(people),
        caption=caption,
        chosen={"source": source, "against": against},
        shown=len(shown),
        one_in=one_in,
        may_group=Action.CLUSTER in PERMISSIONS[actor.role],
    )


@router.post("/duplicates.csv", dependencies=[CsrfChecked])
def duplicates_csv(
    engine: Engine,
    actor: SignedIn,
    source: Annotated[str, Form()] = "",
    against: Annotated[str, Form()] = "",
):
    """Every pair the search finds, not only the ones shown: the same columns as the CLI's
    ``facesift duplicates --csv`` (records, face ids, distance, false-match rate), no images.
    The search runs again and is audited like the page's."""
    report = engine.duplicates(actor, source, against=against or None)  # DUPLICATES, audited
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    name = safe_file_name(f"facesift-duplicates-{source}{'-' + against if against else ''}")
    return Response(
        pairs_csv(report.pairs),
        media_type="text/csv; charset=utf-8",
        headers={
            "Content-Disposition": f'attachment; filename="{name}-{stamp}.csv"',
            "Cache-Control": "no-store",
        },
    )


@router.get("/verify")
def verify_form(request: Request, actor: SignedIn):
    actor.require(Action.VERIFY)
    return page(request, "verify.html", actor, notice=NOTICE)


@router.post("/verify", dependencies=[CsrfChecked])
def verify(
    request: Request,
    engine: Engine,
    actor: SignedIn,
    first: Annotated[UploadFile | None, File()] = None,
    second: Annotated[UploadFile | None, File()] = None,
    purpose: Annotated[str, Form()] = "",
    case: Annotated[str, Form()] = "",
):
    actor.require(Action.VERIFY)
    kept: dict[str, Any] = {"purpose": purpose, "case": case, "notice": NOTICE}
    try:
        if not (first and first.filename and second and second.filename):
            raise InputError("photos: choose both photos to compare")
        if not purpose.strip() or not case.strip():
            raise InputError(
                "purpose and case are both required: why the photos are compared, and the case "
                "or authorisation reference (both are recorded in the audit trail)"
            )
        limit = engine.settings.max_file_bytes
        a, b = read_image(first, limit, "first photo"), read_image(second, limit, "second photo")
        result = engine.verify(actor, a, b, purpose=purpose, case=case)  # VERIFY, audited
    except NoFaceError as error:
        return page(
            request, "verify.html", actor, 422, error=f"no face was found in {error}", **kept
        )
    except (InputError, Problem) as error:
        message = error.detail if isinstance(error, Problem) else str(error)
        return page(request, "verify.html", actor, 422, error=message, **kept)
    photos = [
        {"name": first.filename, "faces": result.faces_in_a, **_shown(a, result.box_a)},
        {"name": second.filename, "faces": result.faces_in_b, **_shown(b, result.box_b)},
    ]
    return page(request, "verify.html", actor, result=result, photos=photos, one_in=one_in, **kept)


def _shown(data: bytes, box: BoundingBox) -> dict[str, str]:
    """The uploaded photo with the compared face boxed, and that face's crop, as data URIs: the
    page shows what was compared without the server keeping either upload."""
    with Image.open(io.BytesIO(data)) as opened:
        image = ImageOps.exif_transpose(opened).convert("RGB")
    margin = max(box.width, box.height) // 3
    crop = image.crop(
        (
            max(0, box.left - margin),
            max(0, box.top - margin),
            min(image.width, box.right + margin),
            min(image.height, box.bottom + margin),
        )
    )
    ImageDraw.Draw(image).rectangle(
        (box.left, box.top, box.right - 1, box.bottom - 1),
        outline=(255, 200, 0),
        width=max(3, max(image.size) // 150),
    )
    image.thumbnail((SHOWN_SIDE, SHOWN_SIDE))
    crop.thumbnail((160, 160))
    return {"photo": _data_uri(image), "face": _data_uri(crop)}


def _data_uri(image: Image.Image) -> str:
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", quality=85)
    return "data:image/jpeg;base64," + base64.b64encode(buffer.getvalue()).decode()
