"""Data subjects' requests made through the portal: access, erasure, opt-out, answered by an admin.

Anyone may submit a request with a selfie, without an account, and follow it with the random
reference they are given (``new_reference``: short, and without characters that look alike).
Nothing about the gallery is shown to them at submission: otherwise anyone could upload a
stranger's photo and see every photo of them. An administrator reviews the candidates the selfie
matches (``subject_request_candidates``), then fulfils the request (the access report becomes
downloadable with the reference; erasure and opt-out are carried out by the same code as the
CLI's ``facesift subject``) or declines it with a reason. The selfie is kept only while the
request is open. Requests are due one calendar month after receipt (GDPR Art. 12(3)).
"""

from __future__ import annotations

import calendar
import html
import re
import secrets
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any

from facesift.catalog.base import Casework
from facesift.catalog.casework import StoredSubjectRequest
from facesift.errors import InputError, RequestNotFound
from facesift.govern import subjects
from facesift.govern.audit import AuditEvent, AuditRecorder
from facesift.govern.roles import Action, Actor, Role
from facesift.govern.subjects import SubjectRights
from facesift.read.crop import face_crop_jpeg
from facesift.read.decode import reencoded_jpeg
from facesift.text import NOTE_CHARS, bounded
from facesift.types import RequestKind, RequestStatus

KINDS = tuple(RequestKind)
STATUSES = tuple(RequestStatus)
MAX_CONTACT = 320  # the longest e-mail address
# A reference is read aloud, copied by hand and typed on phones, and it is the only key to an
# access report: 16 symbols of 31 (no 0/O, 1/I/L, no case to get wrong) are 79 random bits,
# beyond guessing, written as four groups of four.
REFERENCE_ALPHABET = "23456789ABCDEFGHJKMNPQRSTUVWXYZ"
REFERENCE_GROUPS, REFERENCE_GROUP = 4, 4

# The portal is not an operator: it records that a request arrived, and can do nothing else
# (like BOOTSTRAP, it never passes a permission check).
PORTAL = Actor("the public (subject portal)", Role.PUBLIC)


@dataclass(frozen=True)
class SubjectRequest:
    id: int
    reference: str
    kind: RequestKind
    contact: str
    name: str | None
    status: RequestStatus
    received_at: datetime
    due_at: datetime
    fulfilled_at: datetime | None
    overdue: bool
    report_html: str | None
    decline_reason: str | None = None
    handled_by: str | None = None
    outcome: str | None = None  # what fulfilling it did, in one line (outcome_summary)
    identity_check: str | None = None  # how the admin checked the requester is the person


def one_month_after(moment: datetime) -> datetime:
    """The same day next month, or that month's last day if it is shorter (31 Jan -> 28 Feb)."""
    year, month = (moment.year + 1, 1) if moment.month == 12 else (moment.year, moment.month + 1)
    day = min(moment.day, calendar.monthrange(year, month)[1])
    return moment.replace(year=year, month=month, day=day)


class SubjectRequests:
    """Requests from data subjects through the portal, answered by an administrator."""

    def __init__(
        self,
        casework: Casework,
        rights: SubjectRights,
        audit: AuditRecorder,
        max_selfie_pixels: int = 50_000_000,
    ):
        self.casework = casework
        self.rights = rights
        self.audit = audit
        self.max_selfie_pixels = max_selfie_pixels

    def open_subject_request(
        self, selfie: bytes, kind: str, contact: str, name: str | None = None
    ) -> SubjectRequest:
        if kind not in KINDS:
            raise InputError(f"request kind {kind!r} is not one of: {', '.join(KINDS)}")
        contact = (contact or "").strip()
        if not contact or len(contact) > MAX_CONTACT or re.search(r"[\x00-\x1f]", contact):
            raise InputError(
                "contact: give an e-mail address or postal address we can answer you at "
                f"(up to {MAX_CONTACT} characters)"
            )
        name = (name or "").strip() or None
        # The selfie must show exactly one face, or the request could not be answered; say so now.
        image, _ = self.rights.read_selfie(selfie, None)
        # Kept only while the request is open, and then not as sent: re-encoded, metadata gone.
        kept_selfie = reencoded_jpeg(selfie, "selfie", self.max_selfie_pixels)
        received = datetime.now(UTC)
        reference = new_reference()
        request_id = self.casework.add_subject_request(
            reference=reference,
            kind=kind,
            contact=contact,
            name=name,
            status=RequestStatus.OPEN,
            received_at=received,
            due_at=one_month_after(received),
            selfie=kept_selfie,
            selfie_sha256=image.sha256,
        )
        self.audit.record(
            AuditEvent(
                PORTAL,
                Action.SUBJECT_REQUEST,
                purpose=f"data subject's {kind} request received",
                probe_sha256=image.sha256,
                details={"request_id": request_id, "kind": kind},
            )
        )
        return _view(self._stored(request_id))

    def subject_requests(self, actor: Actor, status: str | None = None) -> list[SubjectRequest]:
        actor.require(Action.SUBJECT_REQUEST)
        if status is not None and status not in STATUSES:
            raise InputError(f"status {status!r} is not one of: {', '.join(STATUSES)}")
        listed = [_view(found) for found in self.casework.list_subject_requests(status)]
        self.audit.record(
            AuditEvent(
                actor,
                Action.VIEW_REQUESTS,
                details={"status": status, "requests": [r.id for r in listed]},
            )
        )
        return listed

    def subject_request(self, actor: Actor, request_id: int) -> SubjectRequest:
        actor.require(Action.SUBJECT_REQUEST)
        return _view(self._stored(request_id))

    def subject_request_by_reference(self, reference: str) -> SubjectRequest:
        found = None
        typed = normal_reference(reference)
        if typed:
            found = self.casework.subject_request(reference=typed)
        if found is None:
            raise RequestNotFound("no request has this reference (check it was copied in full)")
        return _view(found)

    def selfie_crop(self, actor: Actor, request_id: int) -> bytes:
        """The face of an open request's selfie, cropped as the candidates are, for the admin to
        compare them with (the selfie is deleted when the request closes). Audited as a view."""
        actor.require(Action.SUBJECT_REQUEST)
        found = self._open(request_id)
        selfie = self._selfie(found)
        face, pixels = self.rights.selfie_face_with_pixels(selfie)
        data = face_crop_jpeg(pixels, face.detection.box)
        self.audit.record(
            AuditEvent(
                actor,
                Action.VIEW_FACE,
                probe_sha256=found.selfie_sha256,
                details={"request_id": found.id, "selfie": True},
            )
        )
        return data

    def outcome(self, actor: Actor, request_id: int) -> str:
        """What a fulfilled request sent back (the access report, or the receipt), kept for the
        administrator to look at later. An access report shows the person's photos: audited."""
        actor.require(Action.SUBJECT_REQUEST)
        found = self._stored(request_id)
        if found.status != RequestStatus.FULFILLED or not found.report_html:
            raise InputError(f"subject request {request_id} has no outcome: it is {found.status}")
        self.audit.record(
            AuditEvent(
                actor,
                Action.VIEW_REQUESTS,
                details={"request_id": found.id, "outcome": found.kind},
            )
        )
        return found.report_html

    def subject_request_candidates(self, actor: Actor, request_id: int) -> subjects.SubjectReport:
        """The faces the request's selfie matches, for the admin to review before fulfilling."""
        actor.require(Action.SUBJECT_REQUEST)
        found = self._open(request_id)
        return self.rights.access(actor, self._selfie(found))

    def fulfil_subject_request(
        self,
        actor: Actor,
        request_id: int,
        *,
        face_ids: list[int] | None = None,
        identity_check: str | None = None,
        decline_reason: str | None = None,
    ) -> SubjectRequest:
        """Carry out (or decline) an open request; ``face_ids`` are the candidates the admin
        confirmed as the person (None: all candidates); ``identity_check`` says how the admin
        checked that the requester is that person (a selfie proves nothing: anyone can send
        anyone's photo), and nothing is disclosed or erased without it."""
        actor.require(Action.SUBJECT_REQUEST)
        found = self._open(request_id)
        now = datetime.now(UTC)
        if decline_reason is not None:
            reason = bounded("decline_reason", decline_reason, NOTE_CHARS)
            if not reason:
                raise InputError("decline_reason: say why the request is declined")
            return self._close(
                actor,
                found,
                RequestStatus.DECLINED,
                {"reason": reason},
                decline_reason=reason,
                at=now,
            )
        checked = bounded("identity_check", identity_check or "", NOTE_CHARS)
        if not checked:
            raise InputError(
                "identity_check: say how you checked that the requester is the person in the "
                "photos (e.g. photo ID seen on a video call); nothing is disclosed or erased "
                "before that is recorded"
            )
        report_html = self._carry_out(found, actor, face_ids)
        return self._close(
            actor,
            found,
            RequestStatus.FULFILLED,
            {"face_ids": face_ids, "identity_check": checked},
            report_html=report_html,
            identity_check=checked,
            at=now,
        )

    def _close(
        self,
        actor: Actor,
        found: StoredSubjectRequest,
        status: str,
        details: dict[str, Any],
        *,
        at: datetime,
        **outcome: Any,
    ) -> SubjectRequest:
        """Record the request's outcome, audit it, and return the request as it now stands."""
        self.casework.close_subject_request(
            found.id, status=status, fulfilled_at=at, handled_by=actor.name, **outcome
        )
        self.audit.record(
            AuditEvent(
                actor,
                Action.SUBJECT_REQUEST,
                purpose=f"data subject's {found.kind} request {status}",
                probe_sha256=found.selfie_sha256,
                details={"request_id": found.id, **details},
            )
        )
        return _view(self._stored(found.id))

    def _carry_out(
        self, found: StoredSubjectRequest, actor: Actor, face_ids: list[int] | None
    ) -> str:
        kind = RequestKind(found.kind)
        if kind == RequestKind.ACCESS:
            return self._access(actor, found, face_ids)
        if kind == RequestKind.ERASURE:
            return self._erasure(actor, found, face_ids)
        return self._optout(actor, found, face_ids)

    def _selfie(self, found: StoredSubjectRequest) -> bytes:
        if found.selfie is None:  # _open refuses a request without one
            raise InputError(f"subject request {found.id} has no selfie")
        return found.selfie

    def _access(self, actor: Actor, found: StoredSubjectRequest, face_ids: list[int] | None) -> str:
        report = self.rights.access(actor, self._selfie(found))
        return subjects.access_report_html(
            _only(report, face_ids),
            reviewed=True,
            selfie_note=subjects.SELFIE_DELETED_ON_CLOSE,
        )

    def _erasure(
        self, actor: Actor, found: StoredSubjectRequest, face_ids: list[int] | None
    ) -> str:
        if face_ids is None:  # an erasure needs the admin's choice (subjects.chosen_faces)
            raise InputError(
                f"subject request {found.id}: choose the candidate faces to erase (face_ids), "
                "or decline the request saying why"
            )
        report = self.rights.access(actor, self._selfie(found))
        receipt = self.rights.erase(actor, report, face_ids)
        return _receipt_html(
            "Erasure receipt",
            f"{receipt.faces} face(s) in {receipt.images} photo(s) matching your selfie were "
            f"erased on {receipt.at.date()}; the erased photos will not be collected again. "
            f"Receipt reference {receipt.reference}.",
        )

    def _optout(self, actor: Actor, found: StoredSubjectRequest, face_ids: list[int] | None) -> str:
        receipt = self.rights.optout(actor, self._selfie(found))
        return _receipt_html(
            "Opt-out receipt",
            "Your face template (not your photo) is on the do-not-index list: photos of you are no "
            "longer added, and the "
            f"{receipt.existing_faces_hidden} already held are hidden from searches. "
            f"Receipt reference {receipt.reference}.",
        )

    def _stored(self, request_id: int) -> StoredSubjectRequest:
        found = self.casework.subject_request(request_id=int(request_id))
        if found is None:
            raise RequestNotFound(f"subject request {request_id} not found")
        return found

    def _open(self, request_id: int) -> StoredSubjectRequest:
        found = self._stored(request_id)
        if found.status != RequestStatus.OPEN or found.selfie is None:
            raise InputError(f"subject request {request_id} is already {found.status}")
        return found


def _only(report: subjects.SubjectReport, face_ids: list[int] | None) -> subjects.SubjectReport:
    """The report restricted to the faces the admin confirmed. For access, none confirmed is
    an answer ("nothing of yours is held"); a face outside the candidates is an error."""
    if face_ids is None:
        return report
    if not face_ids:
        return replace(report, faces=())
    chosen = subjects.chosen_faces(report, face_ids, "disclosed")
    return replace(report, faces=tuple(f for f in report.faces if f.face_id in chosen))


def new_reference() -> str:
    """A random reference such as ``K7QM-4XRT-9HNP-WD3C``."""
    symbols = "".join(
        secrets.choice(REFERENCE_ALPHABET) for _ in range(REFERENCE_GROUPS * REFERENCE_GROUP)
    )
    return "-".join(
        symbols[i : i + REFERENCE_GROUP] for i in range(0, len(symbols), REFERENCE_GROUP)
    )


def normal_reference(typed: str) -> str:
    """A reference as someone typed it (any case, spaces or dashes anywhere) in its canonical
    form; text that is not a reference of this form comes back stripped (older references were
    ``secrets.token_urlsafe`` strings and still work)."""
    symbols = re.sub(r"[\s-]+", "", typed).upper()
    if len(symbols) != REFERENCE_GROUPS * REFERENCE_GROUP or not all(
        c in REFERENCE_ALPHABET for c in symbols
    ):
        return typed.strip()
    return "-".join(
        symbols[i : i + REFERENCE_GROUP] for i in range(0, len(symbols), REFERENCE_GROUP)
    )


def outcome_summary(kind: str, report_html: str | None) -> str | None:
    """One line on what a fulfilled request did, read from the report this module wrote: the
    faces an access report disclosed, or a receipt's text (counts, never faces)."""
    if not report_html:
        return None
    if kind == RequestKind.ACCESS:
        disclosed = report_html.count('alt="face ') + report_html.count("image file not available")
        return f"access report released: {disclosed} face(s) of the person disclosed"
    found = re.search(r"<p>(.*?)</p>", report_html, re.S)
    return html.unescape(found.group(1)) if found else None


def _receipt_html(title: str, text: str) -> str:
    return (
        f'<!doctype html>\n<html lang="en"><head><meta charset="utf-8"><title>{html.escape(title)}'
        f"</title></head><body><h1>{html.escape(title)}</h1><p>{html.escape(text)}</p>"
        "</body></html>\n"
    )


def _view(found: StoredSubjectRequest) -> SubjectRequest:
    return SubjectRequest(
        id=found.id,
        reference=found.reference,
        kind=RequestKind(found.kind),
        contact=found.contact,
        name=found.name,
        status=RequestStatus(found.status),
        received_at=found.received_at,
        due_at=found.due_at,
        fulfilled_at=found.fulfilled_at,
        overdue=found.status == RequestStatus.OPEN and datetime.now(UTC) > found.due_at,
        report_html=found.report_html,
        decline_reason=found.decline_reason,
        handled_by=found.handled_by,
        outcome=outcome_summary(found.kind, found.report_html),
        identity_check=found.identity_check,
    )
