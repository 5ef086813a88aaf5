"""1:N search: for each face of a probe, the gallery faces that resemble it, as ranked leads.

Permitted (the actor may search), justified (purpose and case, when the settings require them),
filtered (no lead of someone who opted out survives, whatever threshold was chosen) and audited.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

from facesift.catalog.base import Casework, Faces, Identities, Sources
from facesift.catalog.casework import ProbeFace
from facesift.catalog.identities import IdentitySummary
from facesift.errors import AmbiguousFaceError, InputError, NoFaceError
from facesift.govern.audit import AuditEvent, AuditRecorder
from facesift.govern.roles import Action, Actor
from facesift.index.base import VectorIndex
from facesift.index.optouts import OptOutList
from facesift.pipeline import ProbeReader
from facesift.read.crop import face_crop_jpeg
from facesift.search.policy import (
    MAX_LEADS_PER_FACE,
    MatchingPolicy,
    reported_distance,
    reported_rate,
)
from facesift.text import CASE_CHARS, PURPOSE_CHARS, bounded
from facesift.types import AnalysedImage, Lead, ProbeFaceResult, SearchRecord


def require_purpose(required: bool, purpose: str | None, case: str | None) -> tuple[str, str]:
    purpose = bounded("purpose", purpose or "", PURPOSE_CHARS)
    case = bounded("case", case or "", CASE_CHARS)
    if required and not (purpose and case):
        raise InputError(
            "a search needs a purpose (why) and a case (the case or authorisation "
            "reference); both are recorded in the audit trail"
        )
    return purpose, case


class Identifier:
    def __init__(
        self,
        *,
        probes: ProbeReader,
        sources: Sources,
        faces: Faces,
        identities: Identities,
        casework: Casework,
        index: VectorIndex,
        optouts: OptOutList,
        policy: MatchingPolicy,
        audit: AuditRecorder,
        require_purpose_and_case: bool,
        follow_catalog: Callable[[], None] = lambda: None,
    ):
        """``follow_catalog`` brings the index level with other processes' commits (the
        keeper's ``catch_up``) before each search."""
        self.probes = probes
        self.sources = sources
        self.follow_catalog = follow_catalog
        self.faces = faces
        self.identities = identities
        self.casework = casework
        self.index = index
        self.optouts = optouts
        self.policy = policy
        self.audit = audit
        self.require_purpose_and_case = require_purpose_and_case

    def search(
        self,
        actor: Actor,
        probe: Path | bytes,
        *,
        purpose: str | None = None,
        case: str | None = None,
        top_k: int = 10,
        threshold: float | None = None,
        face: int | None = None,
        name: str | None = None,
        keep: bool = False,
    ) -> SearchRecord:
        """Leads for each face of ``probe`` (or only face number ``face``); ``keep`` keeps the
        search (who, why, which leads) so that reviewers can confirm or reject its leads."""
        actor.require(Action.SEARCH)
        purpose, case = require_purpose(self.require_purpose_and_case, purpose, case)
        analysed, pixels = self.probes.analyse_with_pixels(probe, name)
        results, hidden = self.leads(analysed, top_k, threshold, face, actor.sources)
        compared_with = self.in_scope(actor.sources)
        leads = [(r.face_number, lead.face_id, lead.distance) for r in results for lead in r.leads]
        search_id = None
        if keep:
            # The crop of each face searched for, so reviewers see what each lead is compared
            # with; the rest of the probe photo is not kept.
            probe_faces = [
                ProbeFace(r.face_number, r.box, face_crop_jpeg(pixels, r.box), r.cut_at_top_k)
                for r in results
            ]
            search_id = self.casework.add_search(
                actor.name,
                purpose,
                case,
                analysed.sha256,
                leads,
                probe_faces,
                threshold=self.policy.search_threshold(threshold),
                compared_with=compared_with,
            )
        details: dict[str, object] = {
            "probe_faces": len(analysed.faces),
            "threshold": self.policy.search_threshold(threshold),
            "leads": [list(lead) for lead in leads],
            "hidden_by_optout": hidden,
            "compared_with": compared_with,
            "sources": None if actor.sources is None else sorted(actor.sources),
            "cut_at_top_k": [r.face_number for r in results if r.cut_at_top_k],
        }
        if search_id is not None:
            details["search_id"] = search_id
        self.audit.record(
            AuditEvent(
                actor,
                Action.SEARCH,
                purpose=purpose,
                case_ref=case,
                probe_sha256=analysed.sha256,
                details=details,
            )
        )
        odds = (
            self.policy.odds(self.policy.search_threshold(threshold), compared_with)
            if compared_with
            else None
        )
        return SearchRecord(search_id, results, odds)

    def leads(
        self,
        analysed: AnalysedImage,
        top_k: int,
        threshold: float | None,
        face: int | None,
        sources: frozenset[str] | None = None,
    ) -> tuple[list[ProbeFaceResult], int]:
        """The ranked leads of each chosen face, and how many were hidden by an opt-out; only
        faces of ``sources`` if given (the operator's search scope)."""
        if not analysed.faces:
            raise NoFaceError(analysed.path)
        chosen = list(enumerate(analysed.faces, start=1))
        if face is not None:
            if not 1 <= face <= len(chosen):
                raise AmbiguousFaceError(analysed.path, len(chosen))
            chosen = [chosen[face - 1]]
        limit = self.policy.search_threshold(threshold)
        if not 1 <= top_k <= MAX_LEADS_PER_FACE:
            raise InputError(f"top_k {top_k}: from 1 to {MAX_LEADS_PER_FACE} leads per face")
        self.follow_catalog()
        if len(self.index) == 0:
            return [ProbeFaceResult(n, f.detection.box, ()) for n, f in chosen], 0
        nearest = self._nearest([f.embedding for _, f in chosen], top_k, limit, sources)
        wanted = {
            int(i)
            for row, dist in nearest
            for i, d in zip(row, dist, strict=True)
            if i >= 0 and d <= limit
        }
        stored = self.faces.stored_faces(wanted)
        if sources is not None:
            stored = {f: hit for f, hit in stored.items() if hit.source in sources}
        # Past its retention (or its consent) an image is no lead, even before `purge` runs.
        now = datetime.now(UTC)
        for face_id in [f for f, hit in stored.items() if hit.expires_at and hit.expires_at <= now]:
            del stored[face_id]
        # Opted-out people are filtered at least as widely as leads are shown, so no lead of
        # theirs survives, whatever threshold the investigator chose.
        hidden_ids = self._opted_out(list(stored), max(limit, self.policy.optout_threshold))
        for face_id in hidden_ids:
            stored.pop(face_id, None)
        identity_of = self.identities.identities_of(stored)
        results = []
        for (number, probe_face), (row, dist) in zip(chosen, nearest, strict=True):
            leads = []
            for face_id, distance in zip(row, dist, strict=True):
                hit = stored.get(int(face_id))
                if hit is None or distance > limit:
                    continue  # beyond the threshold, or deleted since the index was saved
                leads.append(
                    Lead(
                        face_id=hit.face_id,
                        distance=reported_distance(distance),
                        false_match_rate=reported_rate(
                            self.policy.false_match_rate(float(distance))
                        ),
                        image_id=hit.image_id,
                        image_path=hit.image_path,
                        image_sha256=hit.image_sha256,
                        box=hit.box,
                        source=hit.source,
                        lawful_basis=hit.lawful_basis,
                        jurisdiction=hit.jurisdiction,
                        ingested_at=hit.ingested_at,
                        **_identity_fields(identity_of.get(hit.face_id)),  # type: ignore[arg-type]
                    )
                )
            results.append(
                ProbeFaceResult(
                    number,
                    probe_face.detection.box,
                    tuple(leads[:top_k]),
                    cut_at_top_k=len(leads) > top_k,
                )
            )
        return results, len(hidden_ids)

    def _nearest(
        self,
        vectors: list[np.ndarray],
        top_k: int,
        limit: float,
        sources: frozenset[str] | None,
    ) -> list[tuple[np.ndarray, np.ndarray]]:
        """(ids, distances) nearest first, per probe face. One more than asked, so that a cut
        list says so. A scoped search takes every face within the threshold instead: the
        nearest faces overall may all be of sources outside the scope."""
        if sources is None:
            distances, ids = self.index.search(np.vstack(vectors), top_k + 1)
            return list(zip(ids, distances, strict=True))
        rows = []
        for vector in vectors:
            ids, distances = self.index.range_search(vector, limit)
            order = np.argsort(distances, kind="stable")
            rows.append((ids[order], distances[order]))
        return rows

    def in_scope(self, sources: frozenset[str] | None) -> int:
        """The gallery faces a search in this scope is compared with."""
        if sources is None:
            return len(self.index)
        counts = self.sources.source_counts()
        return sum(faces for name, (_, faces) in counts.items() if name in sources)

    def _opted_out(self, face_ids: list[int], threshold: float) -> set[int]:
        if not face_ids:
            return set()
        matcher = self.optouts.matcher()
        if len(matcher) == 0:
            return set()
        vectors = self.faces.embeddings(np.asarray(face_ids, dtype=np.int64))
        mask = matcher.matches(vectors, threshold)
        return {face_id for face_id, out in zip(face_ids, mask, strict=True) if out}


def _identity_fields(summary: IdentitySummary | None) -> dict[str, object]:
    if summary is None:
        return {}
    return {
        "identity_id": summary.id,
        "identity_name": summary.name,
        "identity_faces": summary.faces,
        "identity_face_ids": summary.face_ids,
    }
