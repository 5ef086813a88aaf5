"""Identity commands: cluster the gallery into people, edit identities, find duplicates."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

from facesift.cli.common import AsJson, DataDir, acting_operator, console, open_engine
from facesift.cli.output import PlainTable, print_json, short_path, shown
from facesift.errors import InputError
from facesift.govern.roles import PERMISSIONS, Action
from facesift.search.duplicates import pairs_csv
from facesift.search.policy import plain_rate

identity_app = typer.Typer(help="Identities: groups of faces of one person; name, merge, split.")


def register(app: typer.Typer) -> None:
    app.add_typer(identity_app, name="identity")
    app.command("cluster")(cluster)
    app.command("duplicates")(duplicates)


def cluster(
    threshold: Annotated[
        float | None,
        typer.Option(
            help="Link distance (default: the one measured best for the embedding space, "
            "kept in its calibration; docs/accuracy.md)."
        ),
    ] = None,
    min_faces: Annotated[int, typer.Option(help="List identities with at least N faces.")] = 2,
    rebuild: Annotated[
        bool, typer.Option("--rebuild", help="Re-cluster all automatic assignments.")
    ] = False,
    as_json: AsJson = False,
    data_dir: DataDir = None,
) -> None:
    """Group the gallery's faces into identities; new faces join existing ones."""
    with open_engine(data_dir) as engine:
        actor = acting_operator(engine)
        report = engine.cluster(actor, threshold=threshold, rebuild=rebuild)
        # Clustering is not seeing: the identities are listed only to those who may view them
        # (an administrator clusters but is refused `identity list`).
        listed = (
            engine.identities(actor, min_faces)
            if Action.IDENTITY_VIEW in PERMISSIONS[actor.role]
            else None
        )
    if as_json:
        print_json(
            console,
            {"report": report} if listed is None else {"report": report, "identities": listed},
        )
        return
    console.print(
        f"{report.faces_considered} faces considered, {report.faces_assigned} (re)assigned, "
        f"{report.identities_created} new identities, {report.identities} in all; "
        f"{report.links_refused} links refused (same photo, or two fixed identities); "
        f"{report.opted_out_faces} opted-out faces left out; {report.seconds:.1f} s"
    )
    if listed is None:
        console.print(f"identities not listed: {actor.role.value} may not view identities")
        return
    _identity_table(listed, f"Identities with at least {min_faces} faces")


def _identity_table(listed, title: str) -> None:
    table = PlainTable(title=title)
    for column in ("identity", "name", "faces", "edited", "some face ids"):
        table.add_column(column)
    for item in listed:
        table.add_row(
            str(item.id),
            item.name or "",
            str(item.faces),
            "yes" if item.locked else "",
            ", ".join(map(str, item.face_ids)),
        )
    console.print(table)


@identity_app.command("list")
def identity_list(
    min_faces: Annotated[int, typer.Option(help="Only identities with at least N faces.")] = 2,
    as_json: AsJson = False,
    data_dir: DataDir = None,
) -> None:
    """List identities, largest first."""
    with open_engine(data_dir) as engine:
        listed = engine.identities(acting_operator(engine), min_faces)
    if as_json:
        print_json(console, listed)
        return
    _identity_table(listed, f"Identities with at least {min_faces} faces")


@identity_app.command("show")
def identity_show(identity: int, as_json: AsJson = False, data_dir: DataDir = None) -> None:
    """The faces of one identity, with their images."""
    with open_engine(data_dir) as engine:
        actor = acting_operator(engine)
        face_ids = engine.identity_faces(actor, identity)
        stored = engine.stored_faces(actor, face_ids)
    if as_json:
        print_json(console, [stored[f] for f in face_ids])
        return
    table = PlainTable(title=f"Identity {identity}: {len(face_ids)} faces")
    for column in ("face", "image", "box", "source"):
        table.add_column(column, overflow="fold")
    for face_id in face_ids:
        f = stored[face_id]
        table.add_row(
            str(face_id),
            short_path(f.image_path),
            f"{f.box.left},{f.box.top} {f.box.width}x{f.box.height}",
            f.source,
        )
    console.print(table)


@identity_app.command("name")
def identity_name(identity: int, name: str, data_dir: DataDir = None) -> None:
    """Name an identity (this also confirms its faces as a human decision)."""
    with open_engine(data_dir) as engine:
        engine.name_identity(acting_operator(engine), identity, name)
    console.print(f"identity {identity} named {shown(repr(name))}")


@identity_app.command("merge")
def identity_merge(keep: int, other: int, data_dir: DataDir = None) -> None:
    """Merge identity OTHER into KEEP."""
    with open_engine(data_dir) as engine:
        moved = engine.merge_identities(acting_operator(engine), keep, other)
    console.print(f"merged identity {other} into {keep} ({moved} faces moved)")


def _face_list(text: str) -> list[int]:
    try:
        return [int(part) for part in text.split(",") if part.strip()]
    except ValueError:
        raise InputError(f"--faces {text!r}: give face ids separated by commas") from None


@identity_app.command("split")
def identity_split(
    faces: Annotated[str, typer.Option(help="Face ids to take out, e.g. 12,15,18.")],
    data_dir: DataDir = None,
) -> None:
    """Take faces out into a new identity (kept apart from the old one from now on)."""
    with open_engine(data_dir) as engine:
        new = engine.move_faces(acting_operator(engine), _face_list(faces), None)
    console.print(f"faces moved to new identity {new}")


@identity_app.command("move")
def identity_move(
    faces: Annotated[str, typer.Option(help="Face ids, e.g. 12,15.")],
    to: Annotated[int, typer.Option("--to", help="Identity to move them to.")],
    data_dir: DataDir = None,
) -> None:
    """Move faces to another identity."""
    with open_engine(data_dir) as engine:
        engine.move_faces(acting_operator(engine), _face_list(faces), to)
    console.print(f"faces moved to identity {to}")


def duplicates(
    source: Annotated[str, typer.Option("--source", help="Source whose records to check.")],
    against: Annotated[
        str | None, typer.Option(help="Compare with this source instead of within SOURCE.")
    ] = None,
    threshold: Annotated[float | None, typer.Option(help="Maximum distance.")] = None,
    csv_file: Annotated[Path | None, typer.Option("--csv", help="Write pairs as CSV.")] = None,
    as_json: AsJson = False,
    data_dir: DataDir = None,
) -> None:
    """Pairs of records (subject references, else images) likely to be the same person."""
    with open_engine(data_dir) as engine:
        report = engine.duplicates(
            acting_operator(engine), source, against=against, threshold=threshold
        )
        pairs = report.pairs
        resolution = engine.calibration.resolution
    if csv_file:
        csv_file.write_text(pairs_csv(pairs), newline="")
    if as_json:
        print_json(console, report)
        return
    table = PlainTable(
        title=f"{len(pairs)} likely duplicate pair(s) within distance {report.threshold:.3f}",
        caption=(
            f"{report.comparisons:,} comparisons; about {report.expected_false_pairs:.1f} "
            "pair(s) at this distance are expected to be different people. "
            "Leads for review, not decisions."
        ),
    )
    for column in ("#", "record A", "record B", "distance", "false-match rate"):
        table.add_column(column, overflow="fold")
    for rank, p in enumerate(pairs, start=1):
        fmr = plain_rate(p.false_match_rate, resolution)
        table.add_row(str(rank), p.record_a, p.record_b, f"{p.distance:.3f}", fmr)
    console.print(table)
    if csv_file:
        print(f"pairs written to {csv_file}", file=sys.stderr)
