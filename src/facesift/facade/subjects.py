"""Data subjects' rights, erasure, retention and the records of processing, as the facade
offers them (govern/subjects.py, govern/requests.py, govern/erasure.py, govern/records.py)."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any

from facesift.govern.dpia import DataProtectionImpact
from facesift.govern.erasure import Erasure
from facesift.govern.records import ProcessingRecords
from facesift.govern.requests import SubjectRequest, SubjectRequests
from facesift.govern.roles import Actor
from facesift.govern.subjects import OptOutReceipt, Receipt, SubjectReport, SubjectRights


class SubjectOperations:
    """What people may ask of the gallery about themselves, and what the law asks of it."""

    rights: SubjectRights
    requests: SubjectRequests
    erasure: Erasure
    records: ProcessingRecords
    impact: DataProtectionImpact

    def subject_access(
        self, actor: Actor, selfie: Path | bytes, face: int | None = None
    ) -> SubjectReport:
        return self.rights.access(actor, selfie, face)

    def subject_erase(
        self, actor: Actor, report: SubjectReport, face_ids: list[int] | None = None
    ) -> Receipt:
        return self.rights.erase(actor, report, face_ids)

    def subject_optout(
        self, actor: Actor, selfie: Path | bytes, face: int | None = None
    ) -> OptOutReceipt:
        return self.rights.optout(actor, selfie, face)

    def subject_optout_remove(
        self, actor: Actor, selfie: Path | bytes, face: int | None = None
    ) -> int:
        return self.rights.optout_remove(actor, selfie, face)

    def erase(
        self,
        actor: Actor,
        *,
        jurisdiction: str | None = None,
        source: str | None = None,
        dry_run: bool = False,
    ) -> tuple[list[int], Receipt | None]:
        return self.erasure.erase_scope(
            actor, jurisdiction=jurisdiction, source=source, dry_run=dry_run
        )

    def purge(
        self, actor: Actor, *, dry_run: bool = False, now: datetime | None = None
    ) -> tuple[list[int], Receipt | None]:
        return self.erasure.purge_expired(actor, dry_run=dry_run, now=now)

    def processing_record(self, actor: Actor) -> dict[str, Any]:
        return self.records.processing_record(actor)

    def dpia(self, actor: Actor) -> dict[str, Any]:
        """A draft data protection impact assessment (GDPR Art. 35, EU AI Act Art. 27)."""
        return self.impact.assessment(actor)

    def open_subject_request(
        self, selfie: bytes, kind: str, contact: str, name: str | None = None
    ) -> SubjectRequest:
        return self.requests.open_subject_request(selfie, kind, contact, name)

    def subject_requests(self, actor: Actor, status: str | None = None) -> list[SubjectRequest]:
        return self.requests.subject_requests(actor, status)

    def fulfil_subject_request(
        self,
        actor: Actor,
        request_id: int,
        *,
        face_ids: list[int] | None = None,
        identity_check: str | None = None,
        decline_reason: str | None = None,
    ) -> SubjectRequest:
        return self.requests.fulfil_subject_request(
            actor,
            request_id,
            face_ids=face_ids,
            identity_check=identity_check,
            decline_reason=decline_reason,
        )

    def subject_request_by_reference(self, reference: str) -> SubjectRequest:
        return self.requests.subject_request_by_reference(reference)

    def subject_request(self, actor: Actor, request_id: int) -> SubjectRequest:
        return self.requests.subject_request(actor, request_id)

    def subject_request_candidates(self, actor: Actor, request_id: int) -> SubjectReport:
        """The faces an open request's selfie matches, for the admin to check before fulfilling."""
        return self.requests.subject_request_candidates(actor, request_id)

    def subject_request_selfie(self, actor: Actor, request_id: int) -> bytes:
        return self.requests.selfie_crop(actor, request_id)

    def subject_request_outcome(self, actor: Actor, request_id: int) -> str:
        return self.requests.outcome(actor, request_id)
