"""Re-embedding: re-analyse every stored image with the configured detector and embedder into a
new embedding space, then switch the gallery over at once.

Changing models silently would compare vectors of two models (meaningless distances); the engine
refuses to search or ingest while the configured space differs from the catalog's. This job is
the way across: it reads each image again from the path it was ingested from (checking the
content hash), stages the new faces beside the live ones (searches keep using the old space),
commits in batches so an interrupted run resumes, and finally switches catalog and index in one
step. Images no longer readable under their name are listed; their faces are held back out of
the new space (see ``faces_held_back``), never dropped, and a later run retries them.

A re-embed never adds a face the gallery does not hold: a new detection is kept only if it
re-finds a live (or held-back) face of its image. Anything else may be a person erased at their
request from a group photo, or opted out when the image was ingested; a better detector's extra
faces are counted, not added. Live faces the new detector misses are held back, not dropped.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

import numpy as np

from facesift.catalog.base import Faces, Governance, Reembedding
from facesift.catalog.governance import optout_of
from facesift.catalog.reembedding import ImageToReembed, ReembedOutcome, SwitchSummary
from facesift.config import Settings
from facesift.errors import FaceSiftError
from facesift.govern.audit import AuditEvent, AuditRecorder
from facesift.govern.roles import Action, Actor
from facesift.index.base import VectorIndex
from facesift.index.writer import GalleryWriter
from facesift.ingest.jobs import FileToAnalyse, analyse_in_chunks, parallel_analyse
from facesift.search.policy import MatchingPolicy
from facesift.types import AnalysedImage, BoundingBox, EmbeddingSpace

if TYPE_CHECKING:
    from facesift.pipeline import FaceAnalyser

COMMIT_EVERY_IMAGES = 32
SAME_FACE_OVERLAP = 0.5  # intersection over union for "the new detection re-finds this face"


@dataclass
class ReembedReport:
    previous_space: str | None
    target_space: str
    images_total: int = 0
    images_already_done: int = 0  # by an earlier, interrupted run of this job
    images_analysed: int = 0
    faces_found: int = 0
    detections_not_added: int = 0  # new detections matching no face the gallery holds
    unreadable: list[tuple[str, str]] = field(default_factory=list)
    optouts_carried: int = 0
    optouts_dropped: list[str] = field(default_factory=list)
    switch: SwitchSummary | None = None
    interrupted: bool = False
    seconds: float = 0.0


ProgressCallback = Callable[[int, int], None]  # (images advanced, faces found)


class ReembedCatalog(Faces, Governance, Reembedding, Protocol):
    """The catalog roles a re-embed uses: staged vectors, the switch, and the opt-out list."""


@dataclass(frozen=True)
class ReembedPorts:
    catalog: ReembedCatalog
    index: VectorIndex  # of the gallery's current space
    policy: MatchingPolicy  # of the gallery's current space
    settings: Settings
    analyser: Callable[[], FaceAnalyser]
    target: Callable[[], EmbeddingSpace]  # the space of the models moved to
    space: EmbeddingSpace  # the gallery's current space


class Reembedder:
    def __init__(
        self,
        ports: ReembedPorts,
        writer: GalleryWriter,
        audit: AuditRecorder,
        on_switched: Callable[[], None],
    ):
        self.ports = ports
        self.writer = writer
        self.audit = audit
        self.on_switched = on_switched  # reopens the gallery in its new space

    def reembed(
        self,
        actor: Actor,
        *,
        drop_uncarried_optouts: bool = False,
        on_total: Callable[[int], None] | None = None,
        on_progress: ProgressCallback | None = None,
    ) -> ReembedReport:
        """Re-analyse every stored image with the configured models into their space, then
        switch catalog and index to it at once. Resumable."""
        actor.require(Action.REEMBED)
        with self.writer.lock():
            report = run_reembed(
                self.ports,
                drop_uncarried_optouts=drop_uncarried_optouts,
                on_total=on_total,
                on_progress=on_progress,
            )
        if report.switch is not None:
            self.on_switched()  # the index file is of the old space: rebuilt and saved there
        self.audit.record(
            AuditEvent(
                actor,
                Action.REEMBED,
                details={
                    "from_space": report.previous_space,
                    "to_space": report.target_space,
                    "detector": self.ports.settings.detector,
                    "images_analysed": report.images_analysed,
                    "images_resumed": report.images_already_done,
                    "unreadable": len(report.unreadable),
                    "switched": report.switch is not None,
                    "faces_after": report.switch.faces_after if report.switch else None,
                    "faces_held_back": report.switch.faces_held_back if report.switch else 0,
                    "optouts_carried": report.optouts_carried,
                    "optouts_dropped": report.optouts_dropped,
                },
            )
        )
        return report


def run_reembed(
    ports: ReembedPorts,
    *,
    drop_uncarried_optouts: bool = False,
    on_total: Callable[[int], None] | None = None,
    on_progress: ProgressCallback | None = None,
) -> ReembedReport:
    """Re-analyse what is left of the job, then switch. The caller holds the writer lock."""
    target = ports.target()
    previous = ports.catalog.embedding_space()
    retry_only = previous == target.key
    job = target.key
    report = ReembedReport(previous_space=previous, target_space=target.key)
    started = time.monotonic()
    ports.catalog.reembed_discard_other_jobs(job)
    todo = ports.catalog.reembed_todo(job, only_held_back=retry_only)
    progress = ports.catalog.reembed_progress(job)
    report.images_already_done = sum(progress.values())
    report.images_total = report.images_already_done + len(todo)
    if on_total:
        on_total(report.images_total)
    advance = on_progress or (lambda images, faces: None)
    if report.images_already_done:
        advance(report.images_already_done, 0)
    try:
        _analyse_and_stage(ports, job, todo, report, advance)
    except KeyboardInterrupt:
        report.interrupted = True
        raise
    finally:
        report.seconds = time.monotonic() - started
    report.unreadable = ports.catalog.reembed_unreadable(job)
    if retry_only and report.images_total == 0:
        return report  # already in this space, nothing held back: nothing to do
    templates = _carry_optouts(ports, job, report, drop_uncarried_optouts)
    report.switch = ports.catalog.switch_space(
        job, previous, target, templates, require_all_images=not retry_only
    )
    report.seconds = time.monotonic() - started
    return report


def _analyse_and_stage(
    ports: ReembedPorts,
    job: str,
    todo: list[ImageToReembed],
    report: ReembedReport,
    advance: ProgressCallback,
) -> None:
    pending: dict[str, list[ImageToReembed]] = {}
    for image in todo:
        pending.setdefault(image.path, []).append(image)
    batch: list[ReembedOutcome] = []
    try:
        for result in _analyse(ports, todo):
            if isinstance(result, AnalysedImage):
                image = pending[result.path].pop(0)
                outcome = _outcome(ports, image, result)
                report.detections_not_added += len(result.faces) - len(outcome.faces)
            else:
                name, reason = result
                image = pending[name].pop(0)
                outcome = ReembedOutcome(image.image_id, unreadable=reason)
            batch.append(outcome)
            report.images_analysed += 1
            report.faces_found += len(outcome.faces)
            advance(1, len(outcome.faces))
            if len(batch) >= COMMIT_EVERY_IMAGES:
                ports.catalog.record_reembedded(job, batch)
                batch = []
    finally:
        # Whatever was analysed is kept, also when interrupted: the next run resumes after it.
        ports.catalog.record_reembedded(job, batch)


def _analyse(
    ports: ReembedPorts, todo: list[ImageToReembed]
) -> Iterator[AnalysedImage | tuple[str, str]]:
    files = (FileToAnalyse(Path(image.path), image.path) for image in todo)
    if ports.settings.workers <= 1:
        analyser = ports.analyser()
        return analyse_in_chunks(analyser, files)
    return parallel_analyse(ports.settings, files)


def _outcome(ports: ReembedPorts, image: ImageToReembed, analysed: AnalysedImage) -> ReembedOutcome:
    if analysed.sha256 != image.sha256:
        return ReembedOutcome(
            image.image_id,
            unreadable="the file at this path has changed since it was ingested (content hash "
            "differs); re-ingest it if it should be in the gallery",
        )
    live = ports.catalog.live_faces_of([image.image_id])[image.image_id]
    claimed: set[int] = set()
    faces = []
    for face in analysed.faces:
        old_face_id = _same_face(face.detection.box, live, claimed)
        if old_face_id is not None:
            claimed.add(old_face_id)
            faces.append((old_face_id, face))
    return ReembedOutcome(image.image_id, faces=tuple(faces))


def _same_face(box: BoundingBox, live: list[tuple[int, tuple]], claimed: set[int]) -> int | None:
    best, best_overlap = None, SAME_FACE_OVERLAP
    for face_id, (left, top, right, bottom) in live:
        if face_id in claimed:
            continue
        width = max(0, min(box.right, right) - max(box.left, left))
        height = max(0, min(box.bottom, bottom) - max(box.top, top))
        intersection = width * height
        union = box.width * box.height + (right - left) * (bottom - top) - intersection
        overlap = intersection / union if union else 0.0
        if overlap >= best_overlap:
            best, best_overlap = face_id, overlap
    return best


def _carry_optouts(
    ports: ReembedPorts, job: str, report: ReembedReport, drop_uncarried: bool
) -> list[tuple[str, np.ndarray]]:
    """New-space templates for the do-not-index list.

    A template is a vector of the old model: it cannot be converted, and the person's photo is
    not kept. What can be done is to find their faces in the gallery (old space, at the match
    threshold) and use those faces' new vectors. Someone with no face in the gallery cannot be
    carried over; the switch is refused unless the administrator accepts dropping them.
    """
    references, templates = ports.catalog.optout_templates()
    if not references:
        return []
    old_ids, new_vectors = ports.catalog.reembed_staged_vectors(job)
    uncarried: list[str] = []
    # The faces each person's templates find, pooled: one opt-out has several templates
    # (catalog.governance.optout_of), and each face found becomes one new-space template.
    rows_of: dict[str, set[int]] = {}
    for reference, template in zip(references, templates, strict=True):
        if len(template) != ports.space.dimension:
            uncarried.append(reference)
            continue
        matching, _ = ports.index.range_search(template, ports.policy.optout_threshold)
        rows = np.nonzero(np.isin(old_ids, matching))[0]
        if len(rows) == 0:
            uncarried.append(reference)
            continue
        rows_of.setdefault(optout_of(reference), set()).update(int(row) for row in rows)
    carried: list[tuple[str, np.ndarray]] = []
    for person, found in rows_of.items():
        for number, row in enumerate(sorted(found), start=1):
            carried.append((person if number == 1 else f"{person}.{number}", new_vectors[row]))
    carried_people = set(rows_of)
    report.optouts_carried = len(carried_people)
    # A person is dropped only when none of their templates could be carried.
    uncarried = sorted({optout_of(r) for r in uncarried} - carried_people)
    if uncarried and not drop_uncarried:
        raise FaceSiftError(
            f"{len(uncarried)} opt-outs ({', '.join(uncarried)}) have no face in the gallery, so "
            "their templates cannot be re-computed in the new space (the person's photo is not "
            "kept). The re-embedded faces are saved; nothing was switched. Ask these people to "
            "opt out again after the switch and run `facesift reembed --drop-uncarried-optouts`, "
            "or keep the current models."
        )
    report.optouts_dropped = uncarried
    return carried
