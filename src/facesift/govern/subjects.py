"""Data subjects' rights, by face: access (GDPR Art. 15), erasure (Art. 17), objection / opt-out
(Art. 21; BIPA; the ACLU v. Clearview settlement's opt-out).

A person proves nothing but their face: a selfie. It is analysed in memory and never stored; only
its SHA-256 goes into the audit trail. Matching uses the subject threshold, never stricter than
search's, so everything a search could return about a person is also shown to them and erased
for them. Some candidates may be other people (the report states how many to expect), so an
operator reviews candidates before releasing a report or confirming an erasure.
"""

from __future__ import annotations

import base64
import html
import secrets
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image, ImageOps

from facesift.catalog.base import Faces, Governance
from facesift.catalog.governance import ImageProvenance, optout_of
from facesift.errors import AmbiguousFaceError, InputError, NoFaceError
from facesift.govern import derived
from facesift.govern.audit import AuditEvent, AuditRecorder
from facesift.govern.roles import Action, Actor
from facesift.index.base import VectorIndex
from facesift.index.optouts import OptOutList
from facesift.index.writer import GalleryWriter
from facesift.pipeline import ProbeReader
from facesift.read.crop import face_crop_jpeg
from facesift.search.policy import MatchingPolicy, plain_rate, reported_rate
from facesift.types import AnalysedFace, AnalysedImage, BoundingBox


@dataclass(frozen=True)
class HeldFace:
    """One face the gallery holds that matches the subject, with everything known about it."""

    face_id: int
    distance: float
    false_match_rate: float
    box: BoundingBox
    image: ImageProvenance


@dataclass(frozen=True)
class SubjectReport:
    selfie_sha256: str
    threshold: float
    generated_at: datetime
    faces: tuple[HeldFace, ...]
    # FMR at the threshold x gallery size: how many candidates may be someone else.
    expected_false_matches: float = 0.0


@dataclass(frozen=True)
class Receipt:
    """Proof that something was done, without the data it was done to."""

    action: str
    reference: str
    at: datetime
    images: int
    faces: int
    audit_seq: int
    details: dict[str, Any]


def selfie_face(image: AnalysedImage, face: int | None) -> AnalysedFace:
    if not image.faces:
        raise NoFaceError(image.path)
    if face is not None:
        if not 1 <= face <= len(image.faces):
            raise AmbiguousFaceError(image.path, len(image.faces))
        return image.faces[face - 1]
    if len(image.faces) > 1:
        raise AmbiguousFaceError(image.path, len(image.faces))
    return image.faces[0]


class SubjectRights:
    """Access, erasure and opt-out for a person who proves nothing but their face."""

    def __init__(
        self,
        *,
        probes: ProbeReader,
        faces: Faces,
        governance: Governance,
        index: VectorIndex,
        policy: MatchingPolicy,
        optouts: OptOutList,
        writer: GalleryWriter,
        audit: AuditRecorder,
        data_dir: Path,
        follow_catalog: Callable[[], None] = lambda: None,
    ):
        self.probes = probes
        self.faces = faces
        self.governance = governance
        self.index = index
        self.policy = policy
        self.optouts = optouts
        self.writer = writer
        self.audit = audit
        self.data_dir = data_dir
        self.follow_catalog = follow_catalog

    def read_selfie(
        self, selfie: Path | bytes, face: int | None
    ) -> tuple[AnalysedImage, np.ndarray]:
        """Analyse a selfie in memory (it is never stored) and pick its one face."""
        image = self.probes.analyse(selfie)
        return image, selfie_face(image, face).embedding

    def selfie_face_with_pixels(self, selfie: Path | bytes) -> tuple[AnalysedFace, np.ndarray]:
        """The selfie's one face and the upright pixels it was found in, for cropping it
        (decoded once, by the analysis)."""
        image, pixels = self.probes.analyse_with_pixels(selfie, "selfie")
        return selfie_face(image, None), pixels

    def held_faces(self, vector: np.ndarray, threshold: float) -> tuple[HeldFace, ...]:
        # Another process (a CLI ingest beside the server) may have added faces of this person.
        self.follow_catalog()
        ids, distances = self.index.range_search(vector, threshold)
        stored = self.faces.stored_faces(ids.tolist())
        provenance = self.governance.provenance(f.image_id for f in stored.values())
        return tuple(
            HeldFace(
                face_id=int(face_id),
                distance=float(distance),
                false_match_rate=self.policy.false_match_rate(float(distance)),
                box=stored[int(face_id)].box,
                image=provenance[stored[int(face_id)].image_id],
            )
            for face_id, distance in zip(ids, distances, strict=True)
            if int(face_id) in stored
        )

    def access(self, actor: Actor, selfie: Path | bytes, face: int | None = None) -> SubjectReport:
        actor.require(Action.SUBJECT_ACCESS)
        image, vector = self.read_selfie(selfie, face)
        threshold = self.policy.subject_threshold
        report = SubjectReport(
            selfie_sha256=image.sha256,
            threshold=threshold,
            generated_at=datetime.now(UTC),
            faces=self.held_faces(vector, threshold),
            expected_false_matches=self.policy.false_match_rate(threshold) * len(self.index),
        )
        self.audit.record(
            AuditEvent(
                actor,
                Action.SUBJECT_ACCESS,
                purpose="subject access request",
                probe_sha256=image.sha256,
                details={"faces_disclosed": [f.face_id for f in report.faces]},
            )
        )
        return report

    def erase(
        self, actor: Actor, report: SubjectReport, face_ids: list[int] | None = None
    ) -> Receipt:
        """Erase the faces of ``report`` (or the chosen subset), their emptied images, and bar
        the erased photos from being ingested again. None means every face of the report, for
        a caller that showed them all and had them confirmed (the CLI); a list must choose at
        least one of the report's faces and nothing else (``chosen_faces``)."""
        actor.require(Action.SUBJECT_ERASE)
        chosen = {f.face_id for f in report.faces}
        if face_ids is not None:
            chosen = chosen_faces(report, face_ids, "erased")
        with self.writer.lock():
            deletion = self.writer.delete_faces(sorted(chosen))
            self.governance.add_tombstones(
                deletion.image_sha256s, "erased at the data subject's request"
            )
        derived.forget(self.data_dir, deletion)
        return receipt(
            self.audit,
            actor,
            Action.SUBJECT_ERASE,
            report.selfie_sha256,
            deletion.image_ids,
            deletion.face_ids,
            {"reason": "data subject's request (GDPR Art. 17)"},
        )

    def optout(self, actor: Actor, selfie: Path | bytes, face: int | None = None) -> OptOutReceipt:
        """Add the person's face templates (not their photos) to the do-not-index list: the
        selfie's, and those of every face the gallery holds of them, so that a new photo is
        caught when it resembles any of their photos, not only the one selfie (a profile view
        the selfie would miss is caught by a held profile view)."""
        actor.require(Action.SUBJECT_OPTOUT)
        image, vector = self.read_selfie(selfie, face)
        reference = "optout-" + secrets.token_hex(8)
        held = self.held_faces(vector, self.policy.optout_threshold)
        self.governance.add_optout(vector, self.policy.space.key, reference)
        held_ids = np.asarray([f.face_id for f in held], dtype=np.int64)
        templates = self.faces.embeddings(held_ids) if len(held_ids) else np.zeros((0, 0))
        for number, template in enumerate(templates, start=2):
            # One reference per template, all under the opt-out's own: withdrawn together.
            self.governance.add_optout(template, self.policy.space.key, f"{reference}.{number}")
        miss = self.policy.require_calibration().false_non_match_rate(self.policy.optout_threshold)
        record = self.audit.record(
            AuditEvent(
                actor,
                Action.SUBJECT_OPTOUT,
                probe_sha256=image.sha256,
                purpose="objection / opt-out",
                details={
                    "reference": reference,
                    "existing_faces_hidden": len(held),
                    "templates": 1 + len(held),
                },
            )
        )
        return OptOutReceipt(
            reference, len(held), record.seq, templates=1 + len(held), miss_rate=reported_rate(miss)
        )

    def optout_remove(self, actor: Actor, selfie: Path | bytes, face: int | None = None) -> int:
        """Withdraw an opt-out: remove every template of each opt-out this selfie matches."""
        actor.require(Action.SUBJECT_OPTOUT)
        image, vector = self.read_selfie(selfie, face)
        matcher = self.optouts.matcher()
        if len(matcher) == 0:
            return 0
        opt_outs = {optout_of(r) for r in matcher.references_matching(vector)}
        every, _ = self.governance.optout_templates()
        matching = sorted(r for r in every if optout_of(r) in opt_outs)
        removed = self.governance.remove_optouts(matching)
        self.audit.record(
            AuditEvent(
                actor,
                Action.SUBJECT_OPTOUT,
                probe_sha256=image.sha256,
                purpose="opt-out withdrawn",
                details={"removed_references": matching},
            )
        )
        return removed


@dataclass(frozen=True)
class OptOutReceipt:
    reference: str
    existing_faces_hidden: int
    audit_seq: int
    templates: int = 1  # the selfie's and one per held face of the person
    # The chance that a new photo of the person is NOT caught by one template (the false
    # non-match rate at the opt-out threshold); more templates only lower it.
    miss_rate: float = 0.0


def receipt(
    audit: AuditRecorder,
    actor: Actor,
    action: Action,
    probe_sha256: str,
    image_ids: Sequence[int],
    face_ids: Sequence[int],
    details: dict[str, Any],
) -> Receipt:
    reference = f"{action.value}-" + secrets.token_hex(8)
    record = audit.record(
        AuditEvent(
            actor,
            action,
            probe_sha256=probe_sha256,
            details=dict(
                details,
                reference=reference,
                images_erased=len(image_ids),
                faces_erased=len(face_ids),
                image_ids=list(image_ids),
                face_ids=list(face_ids),
            ),
        )
    )
    return Receipt(
        action.value,
        reference,
        datetime.now(UTC),
        len(image_ids),
        len(face_ids),
        record.seq,
        details,
    )


# --- the self-contained HTML report -----------------------------------------------------------


def thumbnail_data_uri(path: str, box: BoundingBox, size: int = 160) -> str | None:
    """The face cropped from its image, as an inline JPEG; None if the file is gone. The photo
    is turned upright first (EXIF), as it was when the face was detected, so the box lands on
    the face in a rotated phone photo too."""
    try:
        with Image.open(path) as opened:
            upright = np.asarray(ImageOps.exif_transpose(opened).convert("RGB"))
    except (OSError, ValueError):
        return None
    crop = face_crop_jpeg(upright, box, side=size)
    return "data:image/jpeg;base64," + base64.b64encode(crop).decode()


SELFIE_NOT_KEPT = "Your selfie was not kept"
SELFIE_DELETED_ON_CLOSE = "Your selfie was kept only while your request was open and is now deleted"


def access_report_html(
    report: SubjectReport,
    *,
    reviewed: bool = False,
    selfie_note: str = SELFIE_NOT_KEPT,
) -> str:
    """The report for the person. Each image is named by its file name only: the server's
    folder layout is the operator's business, not the person's, and can itself reveal other
    people's data. ``reviewed``: an operator chose the faces shown (a portal request); the
    report says so only then."""

    def cell(value: object) -> str:
        return html.escape("" if value is None else str(value))

    rows = []
    for held in report.faces:
        uri = thumbnail_data_uri(held.image.path, held.box)
        picture = (
            f'<img src="{uri}" alt="face {held.face_id}">'
            if uri
            else "<em>image file not available</em>"
        )
        p = held.image
        where = Path(p.path).name
        rows.append(
            "<tr>"
            f"<td>{picture}</td><td>{cell(where)}<br><small>sha256 {cell(p.sha256)}</small></td>"
            f"<td>{cell(p.source)}<br><small>basis: {cell(p.lawful_basis)}; purpose: "
            f"{cell(p.purpose)}; controller: {cell(p.controller)}</small></td>"
            f"<td>{cell(p.jurisdiction)}</td><td>{cell(p.ingested_at.date())}</td>"
            f"<td>{cell(p.expires_at.date() if p.expires_at else 'not set')}</td>"
            f"<td>{held.distance:.3f}<br><small>false-match rate "
            f"{cell(plain_rate(held.false_match_rate))}</small></td>"
            "</tr>"
        )
    body = "\n".join(rows) or '<tr><td colspan="7">No face matching yours is held.</td></tr>'
    checked = (
        "; a person checked each before this report was released"
        if reviewed
        else "; they were found automatically and have not been checked by a person"
    )
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>What facesift holds about you</title>
<style>body{{font-family:sans-serif;margin:2em}}table{{border-collapse:collapse}}
td,th{{border:1px solid #ccc;padding:.4em;vertical-align:top}}img{{max-width:160px}}</style>
</head><body>
<h1>Subject access report</h1>
<p>Generated {cell(report.generated_at.isoformat(timespec="seconds"))}. {len(report.faces)} face(s)
matched your selfie at distance &le; {report.threshold:.3f} (at this distance about
{report.expected_false_matches:.1f} match(es) in this gallery may be someone else{checked}).
{selfie_note}; only its
fingerprint (SHA-256 {cell(report.selfie_sha256)}) is recorded in the audit trail. You may ask
for erasure or object to processing (opt out) at any time; there is no limit on how often you
may ask for this report.</p>
<table><tr><th>face</th><th>image</th><th>source and lawful basis</th><th>jurisdiction</th>
<th>held since</th><th>deleted by</th><th>distance</th></tr>
{body}
</table></body></html>
"""


def chosen_faces(report: SubjectReport, face_ids: list[int], verb: str) -> set[int]:
    """The faces an operator chose from ``report``: at least one, and only faces it holds.

    None chosen is an error, neither "all" nor "done": a form sent with no face ticked must not
    close a request as fulfilled with nothing erased. A face that is not among the report's
    matches is an error too, so erasure by selfie can never be used to delete arbitrary faces.
    """
    wanted = {int(face_id) for face_id in face_ids}
    if not wanted:
        raise InputError(
            f"no faces chosen, so nothing is {verb}: choose the candidate faces that are the "
            "person's, or decline the request saying why (for example, none of them is)"
        )
    held = {f.face_id for f in report.faces}
    strangers = sorted(wanted - held)
    if strangers:
        raise InputError(
            f"face(s) {', '.join(map(str, strangers))} are not among this selfie's matches; "
            f"only its matches can be {verb}"
        )
    return wanted
