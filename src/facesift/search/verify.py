"""1:1 verification: is the main face in one photo the same person as the main face in another?"""

from __future__ import annotations

from pathlib import Path

from facesift.errors import NoFaceError
from facesift.govern.audit import AuditEvent, AuditRecorder
from facesift.govern.roles import Action, Actor
from facesift.pipeline import ProbeReader
from facesift.search.identify import require_purpose
from facesift.search.policy import MatchingPolicy, reported_distance, reported_rate
from facesift.types import AnalysedFace, AnalysedImage, Verification


def main_face(image: AnalysedImage) -> AnalysedFace:
    """The subject of a portrait: large and confidently detected (area x detector score),
    so a weak false detection of similar size never wins over the real face."""
    if not image.faces:
        raise NoFaceError(image.path)
    return max(
        image.faces,
        key=lambda f: f.detection.box.width * f.detection.box.height * max(f.detection.score, 0),
    )


class Verifier:
    def __init__(
        self,
        *,
        probes: ProbeReader,
        policy: MatchingPolicy,
        audit: AuditRecorder,
        require_purpose_and_case: bool,
    ):
        self.probes = probes
        self.policy = policy
        self.audit = audit
        self.require_purpose_and_case = require_purpose_and_case

    def verify(
        self,
        actor: Actor,
        a: Path | bytes,
        b: Path | bytes,
        *,
        purpose: str | None = None,
        case: str | None = None,
        threshold: float | None = None,
    ) -> Verification:
        actor.require(Action.VERIFY)
        purpose, case = require_purpose(self.require_purpose_and_case, purpose, case)
        image_a, image_b = self.probes.analyse(a), self.probes.analyse(b)
        face_a, face_b = main_face(image_a), main_face(image_b)
        # A verification decides "same person" at the same bounded operating range as a search.
        limit = self.policy.search_threshold(threshold)
        distance = self.policy.space.distance(face_a.embedding, face_b.embedding)
        result = Verification(
            same_person=distance <= limit,
            distance=reported_distance(distance),
            threshold=limit,
            false_match_rate=reported_rate(self.policy.false_match_rate(distance)),
            box_a=face_a.detection.box,
            box_b=face_b.detection.box,
            faces_in_a=len(image_a.faces),
            faces_in_b=len(image_b.faces),
        )
        self.audit.record(
            AuditEvent(
                actor,
                Action.VERIFY,
                purpose=purpose,
                case_ref=case,
                probe_sha256=image_a.sha256,
                details={
                    "other_sha256": image_b.sha256,
                    "distance": result.distance,
                    "threshold": limit,
                    "same_person": result.same_person,
                },
            )
        )
        return result
