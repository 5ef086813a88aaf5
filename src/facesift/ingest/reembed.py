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
from typing import TYPE_CHECKING

import numpy as np

from facesift.catalog.reembedding import ImageToReembed, ReembedOutcome, SwitchSummary
from facesift.errors import FaceSiftError
from facesift.ingest.jobs import FileToAnalyse, analyse_file, parallel_analyse
from facesift.pipeline import FaceAnalyser
from facesift.types import AnalysedImage, BoundingBox

if TYPE_CHECKING:
    from facesift.engine import FaceSift

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


def run_reembed(
    engine: FaceSift,
    *,
    drop_uncarried_optouts: bool = False,
    on_total: Callable[[int], None] | None = None,
    on_progress: ProgressCallback | None = None,
) -> ReembedReport:
    """Re-analyse what is left of the job, then switch. The caller holds the writer lock."""
    target = engine.reembed_space
    previous = engine.catalog.embedding_space()
    retry_only = previous == target.key
    job = target.key
    report = ReembedReport(previous_space=previous, target_space=target.key)
    started = time.monotonic()
    engine.catalog.reembed_discard_other_jobs(job)
    todo = engine.catalog.reembed_todo(job, only_held_back=retry_only)
    progress = engine.catalog.reembed_progress(job)
    report.images_already_done = sum(progress.values())
    report.images_total = report.images_already_done + len(todo)
    if on_total:
        on_total(report.images_total)
    advance = on_progress or (lambda images, faces: None)
    if report.images_already_done:
        advance(report.images_already_done, 0)
    try:
        _analyse_and_stage(engine, job, todo, report, advance)
    except KeyboardInterrupt:
        report.interrupted = True
        raise
    finally:
        report.seconds = time.monotonic() - started
    report.unreadable = engine.catalog.reembed_unreadable(job)
    if retry_only and report.images_total == 0:
        return report  # already in this space, nothing held back: nothing to do
    templates = _carry_optouts(engine, job, report, drop_uncarried_optouts)
    report.switch = engine.catalog.switch_space(
        job, previous, target, templates, require_all_images=not retry_only
    )
    report.seconds = time.monotonic() - started
    return report


def _analyse_and_stage(
    engine: FaceSift,
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
        for result in _analyse(engine, todo):
            if isinstance(result, AnalysedImage):
                image = pending[result.path].pop(0)
                outcome = _outcome(engine, image, result)
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
                engine.catalog.record_reembedded(job, batch)
                batch = []
    finally:
        # Whatever was analysed is kept, also when interrupted: the next run resumes after it.
        engine.catalog.record_reembedded(job, batch)


def _analyse(
    engine: FaceSift, todo: list[ImageToReembed]
) -> Iterator[AnalysedImage | tuple[str, str]]:
    files = (FileToAnalyse(Path(image.path), image.path) for image in todo)
    settings = engine.requested_settings  # the models being moved to
    if settings.workers <= 1:
        analyser = FaceAnalyser.from_settings(settings)
        return (analyse_file(analyser, item) for item in files)
    return parallel_analyse(settings, files)


def _outcome(engine: FaceSift, image: ImageToReembed, analysed: AnalysedImage) -> ReembedOutcome:
    if analysed.sha256 != image.sha256:
        return ReembedOutcome(
            image.image_id,
            unreadable="the file at this path has changed since it was ingested (content hash "
            "differs); re-ingest it if it should be in the gallery",
        )
    live = engine.catalog.live_faces_of([image.image_id])[image.image_id]
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
    engine: FaceSift, job: str, report: ReembedReport, drop_uncarried: bool
) -> list[tuple[str, np.ndarray]]:
    """New-space templates for the do-not-index list.

    A template is a vector of the old model: it cannot be converted, and the person's photo is
    not kept. What can be done is to find their faces in the gallery (old space, at the match
    threshold) and use those faces' new vectors. Someone with no face in the gallery cannot be
    carried over; the switch is refused unless the administrator accepts dropping them.
    """
    references, templates = engine.catalog.optout_templates()
    if not references:
        return []
    old_ids, new_vectors = engine.catalog.reembed_staged_vectors(job)
    carried: list[tuple[str, np.ndarray]] = []
    uncarried: list[str] = []
    for reference, template in zip(references, templates, strict=True):
        if len(template) != engine.space.dimension:
            uncarried.append(reference)
            continue
        matching, _ = engine.index.range_search(template, engine.match_threshold)
        rows = np.nonzero(np.isin(old_ids, matching))[0]
        if len(rows) == 0:
            uncarried.append(reference)
            continue
        for number, row in enumerate(rows, start=1):
            carried.append(
                (reference if number == 1 else f"{reference}-{number}", new_vectors[row])
            )
        report.optouts_carried += 1
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
