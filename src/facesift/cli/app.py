"""The ``facesift`` command. Errors are translated here, once: a message and an exit code."""

from __future__ import annotations

import gc
import os
import sys
from pathlib import Path
from typing import Annotated

import typer

from facesift.cli import (
    case_commands,
    eval_commands,
    govern_commands,
    identity_commands,
    reembed_commands,
)
from facesift.cli.common import (
    WORKERS_HELP,
    AsJson,
    DataDir,
    FaceNumber,
    acting_operator,
    console,
    errors,
    open_engine,
    settings_for,
)
from facesift.cli.output import (
    PlainTable,
    odds_text,
    print_json,
    search_tables,
    shown,
    verification_text,
)
from facesift.cli.progress import ImageJobProgress
from facesift.errors import FaceSiftError
from facesift.govern.roles import Action
from facesift.types import LawfulBasis

app = typer.Typer(
    help="facesift: lawful-by-design face search over photo collections you declare.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
source_app = typer.Typer(help="Declared image sources (lawful basis, purpose, retention).")
index_app = typer.Typer(help="The vector index: check agreement with the catalog, rebuild.")
app.add_typer(source_app, name="source")
app.add_typer(index_app, name="index")
app.add_typer(eval_commands.app, name="eval")
govern_commands.register(app)
identity_commands.register(app)
reembed_commands.register(app)
case_commands.register(app)


@app.command()
def init(
    admin: Annotated[str, typer.Option(help="Name of the first administrator.")] = "admin",
    data_dir: DataDir = None,
) -> None:
    """Create (or upgrade) the gallery; on a new one, create the first administrator."""
    with open_engine(data_dir) as engine:
        engine.save_index()
        key = engine.create_first_admin(admin)
        console.print(f"facesift gallery ready in [bold]{shown(engine.data_dir.resolve())}[/]")
    if key:
        console.print(
            f"administrator [bold]{admin}[/] created. API key (shown once, stored only hashed):\n"
            f"{key}\nAct as this operator with FACESIFT_OPERATOR={admin} or FACESIFT_API_KEY."
        )


@source_app.command("add")
def source_add(
    name: Annotated[str, typer.Argument(help="Short unique name, e.g. custody-2024.")],
    basis: Annotated[LawfulBasis, typer.Option("--basis", help="Lawful basis (GDPR Art. 6).")],
    jurisdiction: Annotated[str, typer.Option(help="ISO 3166-1 alpha-2 country code.")],
    retention_days: Annotated[int, typer.Option(help="Keep images this many days.")],
    purpose: Annotated[str, typer.Option(help="What the images are processed for.")],
    controller: Annotated[str, typer.Option(help="Controller contact who answers requests.")],
    description: Annotated[str, typer.Option(help="What the collection is.")] = "",
    data_dir: DataDir = None,
) -> None:
    """Declare a source. Every image belongs to one; ingest refuses without it."""
    with open_engine(data_dir) as engine:
        source = engine.add_source(
            acting_operator(engine),
            name,
            basis,
            jurisdiction,
            retention_days,
            purpose=purpose,
            controller=controller,
            description=description,
        )
    console.print(
        f"source [bold]{source.name}[/] added: basis {source.lawful_basis.value}, "
        f"jurisdiction {source.jurisdiction}, retention {source.retention_days} days"
    )


@source_app.command("edit")
def source_edit(
    name: Annotated[str, typer.Argument(help="The source to edit.")],
    purpose: Annotated[str | None, typer.Option(help="New purpose.")] = None,
    controller: Annotated[str | None, typer.Option(help="New controller contact.")] = None,
    description: Annotated[str | None, typer.Option(help="New description.")] = None,
    data_dir: DataDir = None,
) -> None:
    """Change a source's purpose, controller or description (audited, old and new text). Its
    lawful basis, jurisdiction and retention are the terms its images were collected under and
    cannot change: declare a new source for new terms, and retire this one."""
    with open_engine(data_dir) as engine:
        current = next((s for s in engine.sources() if s.name == name), None)
        if current is None:
            raise FaceSiftError(f"no source named {name!r}")
        source = engine.edit_source(
            acting_operator(engine),
            name,
            description=current.description if description is None else description,
            purpose=current.purpose if purpose is None else purpose,
            controller=current.controller if controller is None else controller,
        )
    console.print(f"source [bold]{shown(source.name)}[/] updated")


@source_app.command("retire")
def source_retire(
    name: Annotated[str, typer.Argument(help="The source to close to new images.")],
    data_dir: DataDir = None,
) -> None:
    """Close a source to new ingest. Its images stay until their retention ends; erasing them
    is a separate decision (`facesift erase --source NAME`)."""
    with open_engine(data_dir) as engine:
        source = engine.retire_source(acting_operator(engine), name)
    when = source.retired_at.date() if source.retired_at else "now"
    console.print(f"source [bold]{shown(source.name)}[/] retired ({when}): no new images")


@source_app.command("list")
def source_list(as_json: AsJson = False, data_dir: DataDir = None) -> None:
    """List declared sources with their image and face counts."""
    with open_engine(data_dir) as engine:
        counts = engine.source_sizes(acting_operator(engine))  # SOURCE_LIST
        sources = engine.sources()
    if as_json:
        print_json(
            console,
            [
                dict(
                    vars(s),
                    images=counts.get(s.name, (0, 0))[0],
                    faces=counts.get(s.name, (0, 0))[1],
                )
                for s in sources
            ],
        )
        return
    table = PlainTable(title="Sources")
    for column in (
        "name",
        "basis",
        "jurisdiction",
        "retention (days)",
        "purpose",
        "controller",
        "images",
        "faces",
        "status",
    ):
        table.add_column(column)
    for s in sources:
        images, faces = counts.get(s.name, (0, 0))
        table.add_row(
            s.name,
            s.lawful_basis.value,
            s.jurisdiction,
            str(s.retention_days),
            s.purpose,
            s.controller,
            str(images),
            str(faces),
            f"retired {s.retired_at.date()}" if s.retired_at else "open",
        )
    console.print(table)


@app.command()
def ingest(
    paths: Annotated[
        list[Path] | None, typer.Argument(help="Image files or folders (walked recursively).")
    ] = None,
    source: Annotated[
        str, typer.Option("--source", help="Declared source the images belong to.")
    ] = ...,  # type: ignore[assignment]  # Typer's mark for a required option
    manifest: Annotated[
        Path | None,
        typer.Option(
            help="CSV (with a header) or JSON Lines manifest, one image per row: path "
            "(required; relative to the manifest), and optionally subject_ref, consent_ref "
            "(required for a consent source), consent_until (ISO date), jurisdiction (ISO 3166 "
            "code, overrides the source's), captured_at (ISO date-time), source_url (recorded, "
            "never fetched), notes."
        ),
    ] = None,
    workers: Annotated[int | None, typer.Option(help=WORKERS_HELP)] = None,
    ray: Annotated[
        str | None,
        typer.Option(
            "--ray",
            metavar="ADDRESS",
            help="Analyse on a Ray cluster (extra facesift[ray]): its address, or 'local'.",
        ),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the summary as JSON.")] = False,
    data_dir: DataDir = None,
) -> None:
    """Ingest images into a source: detect, align and embed every face; skip known content."""
    if not paths and manifest is None:
        raise FaceSiftError("name image files or folders to ingest, or a --manifest")
    with open_engine(data_dir, workers=workers) as engine:
        actor = acting_operator(engine)
        try:
            with ImageJobProgress("ingest") as bar:
                report = engine.ingest(
                    actor,
                    list(paths or []),
                    source,
                    manifest=manifest,
                    on_total=bar.on_total,
                    on_progress=bar.on_progress,
                    ray_address=ray,
                )
        except KeyboardInterrupt:
            errors.print(
                "[yellow]interrupted[/]: committed images are kept; run the same "
                "command again to resume."
            )
            raise typer.Exit(130) from None
    if as_json:
        print_json(console, dict(vars(report), images_per_second=report.images_per_second))
    else:
        print_ingest_summary(report)
    for name, other in report.held_under_other_source:
        errors.print(
            f"[yellow]held under another source[/] {shown(name)}: already held under source "
            f"{shown(other)}, on that source's lawful basis; not added to {shown(source)}",
            highlight=False,
        )
    for name, reason in report.errors:
        errors.print(f"[red]error[/] {shown(name)}: {shown(reason)}", highlight=False)
    if report.errors and report.images_ingested == 0 and report.already_in_catalog == 0:
        raise typer.Exit(3)


def print_ingest_summary(report) -> None:
    summary = PlainTable(title=f"Ingest into {report.source}", show_header=False)
    for label, value in (
        ("files seen", report.files_seen),
        ("images ingested", report.images_ingested),
        ("faces found", report.faces_found),
        ("images with no face", report.images_without_faces),
        ("skipped: already in catalog", report.already_in_catalog),
        ("  of which held under another source", len(report.held_under_other_source)),
        ("skipped: duplicate content in this run", report.duplicates_in_run),
        ("skipped: erased at a subject's request", report.erased_before),
        ("faces not stored: opted out", report.faces_opted_out),
        ("errors", len(report.errors)),
        ("time", f"{report.seconds:.1f} s ({report.images_per_second:.1f} images/s)"),
    ):
        summary.add_row(label, str(value))
    console.print(summary)


@app.command()
def search(
    probe: Annotated[Path, typer.Argument(help="Photo to search with.")],
    top_k: Annotated[int, typer.Option("--top-k", min=1, max=100)] = 10,
    threshold: Annotated[
        float | None,
        typer.Option(
            help="Maximum distance (default: calibrated to the configured false-match rate)."
        ),
    ] = None,
    face: FaceNumber = None,
    purpose: Annotated[str | None, typer.Option(help="Why this search is made.")] = None,
    case: Annotated[str | None, typer.Option(help="Case or authorisation reference.")] = None,
    as_json: AsJson = False,
    data_dir: DataDir = None,
) -> None:
    """1:N search: ranked leads with provenance for each face in the probe photo. The search is
    kept (who, why, which leads, the crop of each probe face) for reviewers, and for the case's
    evidence pack (`facesift case export`)."""
    with open_engine(data_dir, workers=1) as engine:
        record = engine.search_with_id(
            acting_operator(engine),
            probe,
            purpose=purpose,
            case=case,
            top_k=top_k,
            threshold=threshold,
            face=face,
        )
        limit = engine.match_threshold if threshold is None else threshold
        resolution = engine.calibration.resolution
    if as_json:
        print_json(
            console,
            {
                "search_id": record.search_id,
                "probe": str(probe),
                "threshold": limit,
                "faces": record.results,
                "odds": record.odds,
                "notice": "investigative leads, not identifications",
            },
        )
        return
    for table in search_tables(record.results, limit, resolution, record.odds):
        console.print(table)
    if record.odds is not None:
        console.print(odds_text(record.odds), highlight=False)
    console.print(
        f"search {record.search_id} kept for review (web UI: /searches/{record.search_id})"
        + (f"; case {shown(case)}: `facesift case export {shown(case)}`" if case else "")
    )


@app.command()
def verify(
    a: Annotated[Path, typer.Argument(help="First photo.")],
    b: Annotated[Path, typer.Argument(help="Second photo.")],
    threshold: Annotated[float | None, typer.Option(help="Maximum distance for 'same'.")] = None,
    purpose: Annotated[str | None, typer.Option(help="Why this check is made.")] = None,
    case: Annotated[str | None, typer.Option(help="Case or authorisation reference.")] = None,
    as_json: AsJson = False,
    data_dir: DataDir = None,
) -> None:
    """1:1: are the main faces (largest, most confident) in two photos the same person?"""
    with open_engine(data_dir, workers=1) as engine:
        result = engine.verify(
            acting_operator(engine), a, b, purpose=purpose, case=case, threshold=threshold
        )
        resolution = engine.calibration.resolution
    if as_json:
        print_json(console, result)
        return
    console.print(verification_text(result, resolution))


@app.command()
def stats(
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
    data_dir: DataDir = None,
) -> None:
    """Images, faces, sources, index type and size."""
    with open_engine(data_dir) as engine:
        acting_operator(engine).require(Action.STATS)
        result = engine.stats()
    if as_json:
        print_json(console, result)
        return
    table = PlainTable(title="facesift gallery", show_header=False)
    for key, value in vars(result).items():
        table.add_row(
            key.replace("_", " "), f"{value:.4g}" if isinstance(value, float) else str(value)
        )
    console.print(table)


@index_app.command("check")
def index_check(data_dir: DataDir = None) -> None:
    """Compare the index with the catalog; exit 1 if they disagree."""
    with open_engine(data_dir) as engine:
        acting_operator(engine).require(Action.STATS)
        check = engine.check_index()
    console.print(
        f"catalog faces {check.catalog_faces}, index faces {check.index_faces}, "
        f"missing from index {check.missing_from_index}, extra in index {check.extra_in_index}"
    )
    if not check.in_agreement:
        raise typer.Exit(1)


@index_app.command("rebuild")
def index_rebuild(data_dir: DataDir = None) -> None:
    """Rebuild the index from the catalog (the catalog is the source of truth)."""
    with open_engine(data_dir) as engine, engine.writer_lock():
        acting_operator(engine).require(Action.INDEX_ADMIN)
        engine.rebuild_index()
        faces, kind = engine.health()
        console.print(f"index rebuilt: {faces} faces, {kind}")


@app.command()
def serve(
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(min=1, max=65535)] = 8000,
    workers: Annotated[
        int,
        typer.Option(
            min=1,
            max=64,
            help="Server processes sharing the port and the gallery. Python runs one request's "
            "own code at a time per process, so on a machine with several cores, one process "
            "per core serves more searches a second; each holds its own models and index.",
        ),
    ] = 1,
    data_dir: DataDir = None,
) -> None:
    """Run the REST API (and web UI) with uvicorn; API docs at /docs. Needs the 'serve' extra."""
    try:
        import uvicorn

        from facesift.serve.app import create_app
    except ImportError as error:
        raise FaceSiftError(
            f"facesift serve needs the 'serve' extra: pip install 'facesift[serve]' ({error})"
        ) from None
    settings = settings_for(data_dir)  # a bad setting is refused here, before any process starts
    if workers > 1 and settings.index_is_one_process_only:
        raise FaceSiftError(
            "--workers: this gallery's index is a Milvus Lite file, which one process opens at "
            "a time; serve it with --workers 1, or keep the vectors on a Milvus server"
        )
    if workers == 1:
        uvicorn.run(create_app(settings), host=host, port=port, log_level="info")
        return
    # Each worker process builds its own app from the environment (uvicorn imports the factory
    # by name); what they share lives in the data directory: catalog, index, audit trail, job
    # records, rate limits and signed-out web sessions.
    os.environ["FACESIFT_DATA_DIR"] = str(settings.data_dir)
    uvicorn.run(
        "facesift.serve.app:create_app",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        log_level="info",
    )


@app.command()
def backends() -> None:
    """List available detector and embedder backends."""
    from facesift.detect import available_detectors
    from facesift.embed import available_embedders

    console.print(f"detectors: {', '.join(available_detectors())}")
    console.print(f"embedders: {', '.join(available_embedders())}")
    from facesift.index import available_indexes

    console.print(f"indexes: {', '.join(available_indexes())} (FACESIFT_VECTOR_INDEX)")
    console.print(
        "catalogs: sqlite (default), postgresql (FACESIFT_CATALOG_URL=postgresql+psycopg://..., "
        "extra 'postgres')"
    )


def main() -> None:
    # Files this process creates (catalog, index, audit head, uploads, reports) are the
    # owner's alone: 0600, folders 0700. The gallery holds biometric data.
    os.umask(0o077)
    # What is imported by now (SQLAlchemy, pydantic, NumPy, Typer, Rich: ~90,000 objects that
    # hold the rest) lives as long as the process. Frozen, it is left out of the collector's
    # full collections, and out of the one at exit, which took 0.45 s of every command on the
    # 2-core machine (`facesift --help`: 2.5 s before, 1.6 s after, with SCHEMA_HEAD's part).
    gc.freeze()
    try:
        app()
    except FaceSiftError as error:
        errors.print(f"[red]error:[/] {shown(str(error))}", highlight=False)
        sys.exit(error.exit_code)
    except Exception as error:  # a bug of ours: say so plainly; details only on request
        if os.environ.get("FACESIFT_DEBUG"):
            raise
        errors.print(
            f"[red]internal error:[/] {shown(type(error).__name__)}: {shown(str(error))}\n"
            "This is a facesift bug; catalog writes are transactional, so nothing half-written "
            "remains. Run again with "
            "FACESIFT_DEBUG=1 for details and report it.",
            highlight=False,
        )
        sys.exit(70)
