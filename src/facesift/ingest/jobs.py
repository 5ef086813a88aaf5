"""Resumable, parallel ingest of image files into a source.

Work is split by stage: the main process lists and hashes files (cheap, I/O) and skips content the
catalog already holds; workers decode, detect, align and embed (CPU, one per core): threads of this
process when the models run without the GIL (the default YuNet + reid-0095), spawned processes
when they hold it (dlib), or Ray actors (ingest/on_ray.py); the main process is the single
writer, committing batches to the catalog (the truth) and then adding them to the index. An
interrupted run loses at most the uncommitted batch; running it again skips everything committed,
and the engine reconciles the index on open.
"""

from __future__ import annotations

import ast
import hashlib
import multiprocessing
import os
import signal
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import (
    FIRST_COMPLETED,
    Executor,
    Future,
    ProcessPoolExecutor,
    ThreadPoolExecutor,
    wait,
)
from concurrent.futures.process import BrokenProcessPool
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

import numpy as np

from facesift.catalog.base import Faces, Governance, NewImage, OwedAudit, Sources
from facesift.config import Settings
from facesift.errors import ConfigError, FaceSiftError, ImageError, SourceError
from facesift.govern.audit import AuditEvent, AuditRecorder
from facesift.govern.roles import Action, Actor, Role
from facesift.index.optouts import OptOutList
from facesift.index.writer import GalleryWriter
from facesift.read.decode import open_regular_file
from facesift.read.folders import display_path, iter_image_files
from facesift.read.manifests import Provenance, read_manifest
from facesift.timing import StageSeconds, measure, stage_tally
from facesift.types import AnalysedImage, EmbeddingSpace, LawfulBasis, Source

if TYPE_CHECKING:
    from facesift.pipeline import FaceAnalyser


# Files a worker analyses per task: their faces are embedded together (FaceAnalyser.analyse_files)
# and a task's round trip is paid once for all of them.
FILES_PER_TASK = 16
COMMIT_EVERY_IMAGES = 64
COMMIT_EVERY_SECONDS = 1.0
SAVE_INDEX_EVERY_SECONDS = 30.0


@dataclass
class IngestReport:
    source: str
    files_seen: int = 0
    images_ingested: int = 0
    faces_found: int = 0
    images_without_faces: int = 0
    already_in_catalog: int = 0
    duplicates_in_run: int = 0
    erased_before: int = 0  # content erased at a data subject's request: never re-ingested
    faces_opted_out: int = 0  # faces matching the do-not-index list, not stored
    # (file, source) for content already held under ANOTHER source: not added to this one, and
    # still held on that source's lawful basis, which may not be the one this ingest declared.
    held_under_other_source: list[tuple[str, str]] = field(default_factory=list)
    errors: list[tuple[str, str]] = field(default_factory=list)
    seconds: float = 0.0
    interrupted: bool = False
    # Seconds per stage summed over all workers (CPU time, roughly), plus the main process's
    # hashing and catalog writes: where the time goes (see facesift.timing.STAGES).
    stage_seconds: dict[str, float] = field(default_factory=dict)

    @property
    def images_per_second(self) -> float:
        return self.images_ingested / self.seconds if self.seconds else 0.0


ProgressCallback = Callable[[int, int], None]  # (images advanced, faces found)


class BatchAudit(Protocol):
    """How an ingest's batches are put on the record: ``owed`` is the audit record a batch
    owes, stored in the batch's own transaction; ``committed`` writes it to the chain once the
    batch is in, and settles the debt. A process killed in between leaves the debt in the
    catalog, and the next ingest pays it (``Ingestor.settle_owed_audit_records``)."""

    def owed(self, batch: list[NewImage]) -> OwedAudit | None: ...

    def committed(self, batch: list[NewImage], owed: OwedAudit | None) -> None: ...


class _Unaudited:
    def owed(self, batch: list[NewImage]) -> OwedAudit | None:
        return None

    def committed(self, batch: list[NewImage], owed: OwedAudit | None) -> None:
        return None


Outcome = AnalysedImage | tuple[str, str]  # an analysed image, or (file name, why it failed)


@dataclass(frozen=True)
class FileToAnalyse:
    path: Path
    name: str  # display form of the absolute path, stored in the catalog


@dataclass(frozen=True)
class IngestPorts:
    """What an ingest uses: the catalog roles it reads and the one writer it writes through."""

    sources: Sources
    faces: Faces
    governance: Governance
    writer: GalleryWriter
    optouts: OptOutList
    settings: Settings
    analyser: Callable[[], FaceAnalyser]  # the in-process analyser (models loaded on first use)
    space: Callable[[], EmbeddingSpace]  # the configured models' space (the vectors' own)


class Ingestor:
    def __init__(
        self,
        ports: IngestPorts,
        audit: AuditRecorder,
        require_configured_space: Callable[[], None],
    ):
        self.ports = ports
        self.audit = audit
        self.require_configured_space = require_configured_space

    def settle_owed_audit_records(self) -> int:
        """Append the audit records that committed batches still owe: their process stopped
        (killed, power lost) between the batch's commit and its record. Run under the writer
        lock, when no other ingest is between the two. Returns how many were settled."""
        owed = self.ports.faces.owed_audit_records()
        for debt in owed:
            self.audit.record(
                AuditEvent(
                    Actor(debt.actor, Role(debt.role)),
                    Action(debt.action),
                    details=dict(
                        debt.details,
                        recovered="written by a later run: the process that committed this "
                        "batch stopped before its record",
                    ),
                )
            )
            self.ports.faces.settle_owed_audit(debt.token)
        return len(owed)

    def ingest(
        self,
        actor: Actor,
        paths: list[Path],
        source: str,
        *,
        manifest: Path | None = None,
        on_total: Callable[[int], None] | None = None,
        on_progress: ProgressCallback | None = None,
        ray_address: str | None = None,
    ) -> IngestReport:
        actor.require(Action.INGEST)
        self.require_configured_space()
        batches = 0

        def audited(**details: object) -> None:
            self.audit.record(
                AuditEvent(actor, Action.INGEST, details={"source": source, **details})
            )

        ingestor = self

        class Batches:
            # Each committed batch is on the record as soon as it is in the catalog, and owes
            # its record from the same transaction, so a run that is killed (no summary below)
            # still leaves every image it added audited, now or by the next ingest.
            def owed(self, batch: list[NewImage]) -> OwedAudit:
                nonlocal batches
                batches += 1
                faces = sum(len(image.analysed.faces) for image in batch)
                details = {"source": source, "batch": batches, "images": len(batch)}
                return OwedAudit(
                    uuid.uuid4().hex,
                    Action.INGEST.value,
                    actor.name,
                    actor.role.value,
                    dict(details, faces=faces),
                )

            def committed(self, batch: list[NewImage], owed: OwedAudit | None) -> None:
                if owed is None:
                    return
                ingestor.audit.record(AuditEvent(actor, Action.INGEST, details=owed.details))
                ingestor.ports.faces.settle_owed_audit(owed.token)

        with self.ports.writer.lock():
            self.settle_owed_audit_records()
            report = run_ingest(
                self.ports,
                paths,
                source,
                manifest=manifest,
                on_total=on_total,
                on_progress=on_progress,
                ray_address=ray_address,
                batch_audit=Batches(),
            )
        audited(
            images_ingested=report.images_ingested,
            faces_found=report.faces_found,
            faces_opted_out=report.faces_opted_out,
            skipped_erased_before=report.erased_before,
            errors=len(report.errors),
            interrupted=report.interrupted,
            batches=batches,
        )
        return report


def run_ingest(
    ports: IngestPorts,
    paths: list[Path],
    source_name: str,
    *,
    manifest: Path | None = None,
    on_total: Callable[[int], None] | None = None,
    on_progress: ProgressCallback | None = None,
    ray_address: str | None = None,
    batch_audit: BatchAudit | None = None,
) -> IngestReport:
    """Ingest ``paths`` (and the ``manifest``'s files) into a source; ``batch_audit`` puts each
    committed batch on the record (the ingestor's).

    Analysis runs on ``settings.workers`` local processes, or on a Ray cluster when
    ``ray_address`` is given ("local" starts one on this machine); everything else (deduplication,
    tombstones, opt-outs, catalog writes) happens here, in the one writer.
    """
    source = ports.sources.get_source(source_name)  # no source, no ingest
    if source.retired_at is not None:
        raise SourceError(
            f"source {source.name!r} was retired on {source.retired_at.date()}: it takes no new "
            "images (declare a new source for new collection)"
        )
    consent_required = source.lawful_basis == LawfulBasis.CONSENT
    if consent_required and manifest is None:
        raise SourceError(
            f"source {source.name!r} has lawful basis 'consent': ingest it from a manifest that "
            "gives a consent_ref for every image (facesift ingest --manifest FILE)"
        )
    report = IngestReport(source=source.name)
    started = time.monotonic()
    declared: dict[str, Provenance] = {}
    files = list(iter_image_files(paths))
    if manifest is not None:
        entries, bad_rows = read_manifest(manifest, consent_required)
        report.errors.extend(bad_rows)
        for entry in entries:
            files.append(entry.path)
            declared[display_path(entry.path.absolute())] = entry.provenance
    report.files_seen = len(files)
    if on_total:
        on_total(len(files))
    advance = on_progress or (lambda images, faces: None)
    writer = _BatchWriter(ports, source, report, declared, batch_audit or _Unaudited())
    # Stages measured in this thread (hashing, writes; analysis too when there are no workers).
    tally_before = StageSeconds(stage_tally())
    worker_stages = StageSeconds()
    try:
        todo = _new_files(ports, files, report, advance)
        for outcome, stages in _analyse_all(ports, todo, ray_address):
            worker_stages.add(stages)
            if isinstance(outcome, AnalysedImage):
                writer.add(outcome)
                advance(1, len(outcome.faces))
            else:
                report.errors.append(outcome)
                advance(1, 0)
            writer.commit_if_due()
    except KeyboardInterrupt:
        report.interrupted = True
        raise
    finally:
        writer.commit()
        with measure("catalog_write"):
            ports.writer.save()
        report.seconds = time.monotonic() - started
        worker_stages.add(stage_tally().since(tally_before))
        # Microseconds kept: reading a few cached files takes well under a millisecond in all.
        report.stage_seconds = {stage: round(s, 6) for stage, s in worker_stages.items() if s}
    return report


def _new_files(
    ports: IngestPorts, files: list[Path], report: IngestReport, advance: ProgressCallback
) -> Iterator[FileToAnalyse]:
    """Hash files in chunks; yield those whose content is in neither the catalog nor this run."""
    seen_in_run: set[str] = set()
    chunk_size = 256
    for start in range(0, len(files), chunk_size):
        hashed: list[tuple[Path, str, str]] = []
        for path in files[start : start + chunk_size]:
            name = display_path(path.absolute())
            try:
                with measure("hash"), open_regular_file(path) as handle:
                    digest = hashlib.file_digest(handle, "sha256").hexdigest()
            except ImageError as error:  # a FIFO or device named like an image
                report.errors.append((name, error.reason))
                advance(1, 0)
                continue
            except OSError as error:
                report.errors.append((name, f"cannot read file ({error.strerror or error})"))
                advance(1, 0)
                continue
            hashed.append((path, name, digest))
        known = ports.faces.sources_holding(digest for _, _, digest in hashed)
        erased = ports.governance.tombstoned(digest for _, _, digest in hashed)
        for path, name, digest in hashed:
            if digest in erased:
                report.erased_before += 1
                advance(1, 0)
            elif digest in known:
                report.already_in_catalog += 1
                if known[digest] != report.source:
                    report.held_under_other_source.append((name, known[digest]))
                advance(1, 0)
            elif digest in seen_in_run:
                report.duplicates_in_run += 1
                advance(1, 0)
            else:
                seen_in_run.add(digest)
                yield FileToAnalyse(path, name)


def _analyse_all(
    ports: IngestPorts, todo: Iterator[FileToAnalyse], ray_address: str | None
) -> Iterator[tuple[Outcome, dict[str, float]]]:
    """(outcome, seconds per stage spent in a worker) for every file, in completion order."""
    if ray_address is not None:
        from facesift.ingest.on_ray import ray_analyse

        return ray_analyse(ports.settings, todo, ray_address)
    if ports.settings.workers <= 1:
        analyser = ports.analyser()
        # Analysis runs in this thread: its stages land in this thread's tally directly.
        return ((outcome, {}) for outcome in analyse_in_chunks(analyser, todo))
    return parallel_analyse(ports.settings, todo, with_stages=True)


def refuse_unguarded_main_script() -> None:
    """Worker processes are spawned, and a spawned process re-imports the script that started
    it. A script that uses facesift at its top level, without ``if __name__ == "__main__":``,
    would start the ingest again in every worker, which Python stops by killing the worker;
    the pool then reports a dead worker, which reads like running out of memory. Say what it
    is, before any worker starts."""
    main = sys.modules.get("__main__")
    script = getattr(main, "__file__", None)
    if main is None or getattr(main, "__spec__", None) is not None or not script:
        return  # `python -m ...`, the facesift command, a notebook or a REPL: nothing re-runs
    try:
        tree = ast.parse(Path(script).read_text(encoding="utf-8"))
    except (OSError, SyntaxError, UnicodeDecodeError):
        return
    harmless = (ast.Import, ast.ImportFrom, ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)
    for statement in tree.body:
        if isinstance(statement, harmless) or _is_main_guard(statement):
            continue
        if isinstance(statement, ast.Expr) and isinstance(statement.value, ast.Constant):
            continue  # a docstring
        if isinstance(statement, ast.Assign | ast.AnnAssign) and isinstance(
            statement.value, ast.Constant
        ):
            continue
        raise ConfigError(
            f"{script} runs code at its top level (line {statement.lineno}), and ingest "
            "analyses images in worker processes, each of which re-imports that script: put "
            'the code under `if __name__ == "__main__":` (see the Python example in README.md)'
        )


def _is_main_guard(statement: ast.stmt) -> bool:
    if not isinstance(statement, ast.If) or not isinstance(statement.test, ast.Compare):
        return False
    parts = [statement.test.left, *statement.test.comparators]
    names = {p.id for p in parts if isinstance(p, ast.Name)}
    values = {p.value for p in parts if isinstance(p, ast.Constant)}
    return names == {"__name__"} and values == {"__main__"}


def analysis_in_threads(settings: Settings) -> bool:
    """Whether ``settings.workers`` run as threads of this process rather than as processes.

    Threads when the detector and the embedder both release the GIL: measured on 500 LFW photos
    (docs/benchmarks.md, "Ingest throughput"), two spawned workers spent ~2.4 s each importing
    and compiling their models and pickled every result back, and ran slower than two threads
    sharing one compiled model. Processes otherwise: dlib holds the GIL, so its threads would
    take turns."""
    if settings.analysis_workers != "auto":
        return settings.analysis_workers == "threads"
    from facesift.detect.base import releases_gil as detector_releases_gil
    from facesift.embed.base import releases_gil as embedder_releases_gil

    return detector_releases_gil(settings.detector) and embedder_releases_gil(settings.embedder)


def parallel_analyse(
    settings: Settings, todo: Iterable[FileToAnalyse], *, with_stages: bool = False
) -> Iterator:
    """Analyse files on ``settings.workers`` threads or processes (``analysis_in_threads``);
    yield results as they complete.

    Yields outcomes, or (outcome, seconds per stage in the worker) pairs if ``with_stages``.
    """
    workers = settings.workers
    executor: Executor
    if analysis_in_threads(settings):
        executor = ThreadPoolExecutor(
            max_workers=workers,
            thread_name_prefix="facesift-analyse",
            initializer=_init_worker,
            initargs=(settings.model_dump_json(),),
        )
    else:
        refuse_unguarded_main_script()
        # One BLAS thread per worker process: the processes already use every core.
        os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
        os.environ.setdefault("OMP_NUM_THREADS", "1")
        executor = ProcessPoolExecutor(
            max_workers=workers,
            mp_context=multiprocessing.get_context("spawn"),
            initializer=_init_worker,
            initargs=(settings.model_dump_json(),),
        )
    with executor as pool:
        in_flight: set[Future] = set()
        window = workers * 2
        try:
            for chunk in _chunks(todo, FILES_PER_TASK):
                in_flight.add(pool.submit(_analyse_in_worker, chunk))
                if len(in_flight) >= window:
                    done, in_flight = wait(in_flight, return_when=FIRST_COMPLETED)
                    yield from _results(done, with_stages)
            while in_flight:
                done, in_flight = wait(in_flight, return_when=FIRST_COMPLETED)
                yield from _results(done, with_stages)
        except BrokenProcessPool:
            raise FaceSiftError(
                "a worker process died while analysing images (out of memory?); committed "
                "images are kept: run the same command again to resume"
            ) from None
        except BaseException:
            pool.shutdown(wait=False, cancel_futures=True)
            raise


@contextmanager
def ctrl_c_deferred() -> Iterator[None]:
    """Ctrl-C waits until the block is done: a batch's catalog commit, index update and audit
    record are not split by an interrupt. (The test that stops an ingest as soon as a batch is
    committed landed between commit and audit record.) Python runs signal handlers in the main
    thread, whichever thread the signal reached, so a handler that only notes the interrupt,
    raised once the block is over, defers it for the whole process. A kill -9 cannot be
    deferred: the next run reconciles the index, and that batch may lack its audit record."""
    if threading.current_thread() is not threading.main_thread():
        yield  # signals are the main thread's business; a server's job thread is stopped otherwise
        return
    if signal.getsignal(signal.SIGINT) is signal.SIG_IGN:
        # Ignored, as a shell starts its background jobs (`facesift ingest ... &`): a Ctrl-C
        # meant for the terminal's foreground command must not stop this ingest either.
        yield
        return
    interrupted: list[int] = []
    previous = signal.signal(signal.SIGINT, lambda signum, frame: interrupted.append(signum))
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)
    if interrupted:
        raise KeyboardInterrupt


def _chunks(items: Iterable[FileToAnalyse], size: int) -> Iterator[list[FileToAnalyse]]:
    chunk: list[FileToAnalyse] = []
    for item in items:
        chunk.append(item)
        if len(chunk) == size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def _results(done: set[Future], with_stages: bool) -> Iterator:
    for future in done:
        outcomes, stages = future.result()
        for number, outcome in enumerate(outcomes):
            # A chunk's stage seconds go with its first file: they are summed, never split.
            if with_stages:
                yield outcome, stages if number == 0 else {}
            else:
                yield outcome


# Each worker's analyser: a worker process runs its tasks on the thread that ran its initializer,
# and a worker thread is its own thread, so a thread-local serves both.
_worker = threading.local()


def _init_worker(settings_json: str) -> None:
    from facesift.config import Settings
    from facesift.pipeline import FaceAnalyser

    settings = Settings.model_validate_json(settings_json)
    if settings.ingest_worker_niceness:
        # Linux keeps a niceness per thread: a worker thread lowers only its own, so a server's
        # request threads keep theirs.
        os.nice(settings.ingest_worker_niceness)
    _worker.analyser = FaceAnalyser.from_settings(settings)


def _analyse_in_worker(items: list[FileToAnalyse]) -> tuple[list[Outcome], StageSeconds]:
    before = StageSeconds(stage_tally())
    analyser: FaceAnalyser | None = getattr(_worker, "analyser", None)
    if analyser is None:  # the pool's initializer loads it in every worker first
        raise RuntimeError("worker analyser not loaded")
    outcomes = analyse_files(analyser, items)
    return outcomes, stage_tally().since(before)


def analyse_in_chunks(analyser: FaceAnalyser, items: Iterable[FileToAnalyse]) -> Iterator[Outcome]:
    """Outcomes of ``items`` analysed in this thread, ``FILES_PER_TASK`` files at a time."""
    for chunk in _chunks(items, FILES_PER_TASK):
        yield from analyse_files(analyser, chunk)


def analyse_files(analyser: FaceAnalyser, items: list[FileToAnalyse]) -> list[Outcome]:
    """Outcomes of ``items`` in order, their faces embedded in one call (see
    FaceAnalyser.analyse_files); a file that failed gets its reason, as in ``analysis_outcome``."""
    results = analyser.analyse_files([item.path for item in items])
    return [
        analysis_outcome(item.name, partial(_given, result))
        for item, result in zip(items, results, strict=True)
    ]


def _given(result: AnalysedImage | Exception) -> AnalysedImage:
    if isinstance(result, Exception):
        raise result
    return result


def analysis_outcome(name: str, analyse: Callable[[], AnalysedImage]) -> Outcome:
    """Run ``analyse``; a failure becomes (name, reason) so one bad file never stops the rest."""
    try:
        analysed = analyse()
    except ImageError as error:
        return (name, error.reason)
    except FaceSiftError as error:
        return (name, str(error))
    except MemoryError:
        return (name, "not enough memory to decode this image")
    except Exception as error:  # a library failing on one odd file must not stop the others
        return (name, f"could not analyse ({type(error).__name__}: {error})")
    return AnalysedImage(
        path=name,
        sha256=analysed.sha256,
        size_bytes=analysed.size_bytes,
        width=analysed.width,
        height=analysed.height,
        faces=analysed.faces,
    )


class _BatchWriter:
    """The single writer: commits analysed images to the catalog, then to the index."""

    def __init__(
        self,
        ports: IngestPorts,
        source: Source,
        report: IngestReport,
        declared: dict[str, Provenance],
        batch_audit: BatchAudit,
    ):
        self.ports = ports
        self.source = source
        self.report = report
        self.batch_audit = batch_audit
        self.declared = declared
        self.optouts = ports.optouts.matcher()
        self.pending: list[AnalysedImage] = []
        self.last_commit = time.monotonic()
        self.last_save = time.monotonic()

    def add(self, image: AnalysedImage) -> None:
        self.pending.append(image)

    def commit_if_due(self) -> None:
        now = time.monotonic()
        if (
            len(self.pending) >= COMMIT_EVERY_IMAGES
            or now - self.last_commit >= COMMIT_EVERY_SECONDS
        ):
            self.commit()
        if now - self.last_save >= SAVE_INDEX_EVERY_SECONDS:
            with measure("catalog_write"):
                self.ports.writer.save()
            self.last_save = now

    def commit(self) -> None:
        if not self.pending:
            return
        with measure("catalog_write"):
            self._commit_pending()

    def _commit_pending(self) -> None:
        # The worker hashed what it decoded; a file changed since the first hash could now
        # duplicate catalog content, so check again right before the write.
        known = self.ports.faces.known_hashes(image.sha256 for image in self.pending)
        batch = [image for image in self.pending if image.sha256 not in known]
        self.report.already_in_catalog += len(self.pending) - len(batch)
        self.pending = []
        self.last_commit = time.monotonic()
        if not batch:
            return
        batch = [self._without_opted_out_faces(image) for image in batch]
        now = datetime.now(UTC)
        records = []
        for image in batch:
            provenance = self.declared.get(image.path)
            expires = self.source.expiry(now, provenance.consent_until if provenance else None)
            records.append(NewImage(self.source.id, image, expires, provenance))
        owed = self.batch_audit.owed(records)
        with ctrl_c_deferred():
            self.ports.writer.record_images(records, self.ports.space(), owed)
            self.batch_audit.committed(records, owed)
        for image in batch:
            self.report.images_ingested += 1
            self.report.faces_found += len(image.faces)
            if not image.faces:
                self.report.images_without_faces += 1

    def _without_opted_out_faces(self, image: AnalysedImage) -> AnalysedImage:
        if not image.faces or len(self.optouts) == 0:
            return image
        vectors = np.vstack([face.embedding for face in image.faces])
        opted_out = self.optouts.matches(vectors)
        if not opted_out.any():
            return image
        self.report.faces_opted_out += int(opted_out.sum())
        kept = tuple(face for face, out in zip(image.faces, opted_out, strict=True) if not out)
        return replace(image, faces=kept)
