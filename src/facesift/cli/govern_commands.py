"""Governance commands: operators, subject rights, erasure, retention, audit, records."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Annotated

import typer

from facesift.cli.common import (
    AsJson,
    DataDir,
    FaceNumber,
    acting_operator,
    console,
    errors,
    open_engine,
)
from facesift.cli.output import PlainTable, print_json, printable, short_path, shown
from facesift.errors import FaceSiftError, InputError
from facesift.govern.dpia import dpia_html, dpia_markdown
from facesift.govern.records import processing_record_markdown
from facesift.govern.roles import Action, OperatorRole
from facesift.govern.subjects import access_report_html
from facesift.search.policy import plain_rate

user_app = typer.Typer(help="Operators and their roles (admin, investigator, reviewer, auditor).")
subject_app = typer.Typer(help="Data subjects' rights, by face: access, erasure, opt-out.")
audit_app = typer.Typer(help="The hash-chained audit trail.")
report_app = typer.Typer(help="Records generated from the deployment.")

Selfie = Annotated[Path, typer.Argument(help="A photo of the person (not kept).")]


def register(app: typer.Typer) -> None:
    app.add_typer(user_app, name="user")
    app.add_typer(subject_app, name="subject")
    app.add_typer(audit_app, name="audit")
    app.add_typer(report_app, name="report")
    app.command("erase")(erase)
    app.command("purge")(purge)


@user_app.command("add")
def user_add(
    name: Annotated[str, typer.Argument(help="Operator name, e.g. j.smith")],
    role: Annotated[OperatorRole, typer.Option("--role")],
    data_dir: DataDir = None,
) -> None:
    """Add an operator and print their API key (shown once, stored only as a hash)."""
    with open_engine(data_dir) as engine:
        key = engine.add_operator(acting_operator(engine), name, role)
    console.print(
        f"operator [bold]{shown(name)}[/] ({role.value}) added. API key (shown once):\n{key}"
    )


@user_app.command("list")
def user_list(data_dir: DataDir = None) -> None:
    """List operators and their roles."""
    with open_engine(data_dir) as engine:
        operators = engine.list_operators(acting_operator(engine))
        table = PlainTable(title="Operators")
        for column in ("name", "role", "since", "searches sources"):
            table.add_column(column)
        for operator, created in operators:
            scope = "all" if operator.sources is None else ", ".join(sorted(operator.sources))
            table.add_row(operator.name, operator.role.value, str(created)[:19], scope or "none")
    console.print(table)


@user_app.command("scope")
def user_scope(
    name: Annotated[str, typer.Argument(help="The operator whose searches are scoped.")],
    sources: Annotated[
        str | None,
        typer.Option(help="Comma-separated sources their searches may return faces from."),
    ] = None,
    every_source: Annotated[
        bool, typer.Option("--all", help="Let their searches return faces of every source.")
    ] = False,
    data_dir: DataDir = None,
) -> None:
    """Limit which sources an operator's searches may return faces from (a police unit's
    investigators search custody photos, never a trust-and-safety team's account photos)."""
    if (sources is None) == (not every_source):
        raise FaceSiftError("give --sources NAME[,NAME...] or --all")
    chosen = None if every_source else [s.strip() for s in (sources or "").split(",") if s.strip()]
    with open_engine(data_dir) as engine:
        operator = engine.scope_operator(acting_operator(engine), name, chosen)
    scope = "every source" if operator.sources is None else ", ".join(sorted(operator.sources))
    console.print(f"searches by [bold]{shown(operator.name)}[/] return faces of: {shown(scope)}")


@user_app.command("disable")
def user_disable(
    name: Annotated[str, typer.Argument(help="The operator to disable.")],
    data_dir: DataDir = None,
) -> None:
    """Disable an operator: their API key and web sessions stop working at once."""
    with open_engine(data_dir) as engine:
        disabled = engine.disable_operator(acting_operator(engine), name)
    console.print(f"operator [bold]{shown(disabled.name)}[/] ({disabled.role.value}) disabled")


@user_app.command("rotate-key")
def user_rotate_key(
    name: Annotated[str, typer.Argument(help="The operator who gets a new key.")],
    data_dir: DataDir = None,
) -> None:
    """Give an operator a new API key (shown once); the old one stops working at once."""
    with open_engine(data_dir) as engine:
        operator, key = engine.rotate_operator_key(acting_operator(engine), name)
    console.print(
        f"new API key for [bold]{shown(operator.name)}[/] (shown once; the old one no longer "
        f"works):\n{key}"
    )


@subject_app.command("access")
def subject_access(
    selfie: Selfie,
    face: FaceNumber = None,
    html: Annotated[
        Path | None, typer.Option(help="Also write a self-contained HTML report.")
    ] = None,
    as_json: AsJson = False,
    data_dir: DataDir = None,
) -> None:
    """Everything held about the person in the selfie (GDPR Art. 15). No limit on how often."""
    with open_engine(data_dir, workers=1) as engine:
        report = engine.subject_access(acting_operator(engine), selfie, face)
    if html:
        html.write_text(access_report_html(report), encoding="utf-8")
    if as_json:
        print_json(console, report)
        return
    _print_held(
        report,
        f"{len(report.faces)} face(s) held for this person (distance <= {report.threshold:.3f})",
    )
    if html:
        console.print(f"HTML report written to {shown(html)}")


def _print_held(report, title: str) -> None:
    table = PlainTable(title=title)
    for column in ("face", "distance", "image", "source (basis, country)", "held since", "expires"):
        table.add_column(column, overflow="fold")
    for held in report.faces:
        p = held.image
        table.add_row(
            str(held.face_id),
            f"{held.distance:.3f}",
            short_path(p.path),
            f"{p.source} ({p.lawful_basis}, {p.jurisdiction})",
            str(p.ingested_at.date()),
            str(p.expires_at.date()) if p.expires_at else "-",
        )
    console.print(table)


@subject_app.command("erase")
def subject_erase(
    selfie: Selfie,
    face: FaceNumber = None,
    yes: Annotated[bool, typer.Option("--yes", help="Erase without asking.")] = False,
    data_dir: DataDir = None,
) -> None:
    """Erase every face of the person in the selfie (GDPR Art. 17), with a receipt."""
    with open_engine(data_dir, workers=1) as engine:
        actor = acting_operator(engine)
        actor.require(Action.SUBJECT_ERASE)
        report = engine.subject_access(actor, selfie, face)
        if not report.faces:
            console.print("no matching face is held: nothing to erase")
            return
        _print_held(report, f"{len(report.faces)} face(s) will be erased")
        if not yes:
            if not typer.confirm("Erase these faces (and images left with no face)?"):
                errors.print("nothing erased")
                raise typer.Exit(1)
        receipt = engine.subject_erase(actor, report)
    console.print(
        f"erased {receipt.faces} face(s) and {receipt.images} image(s); receipt "
        f"{receipt.reference} (audit record {receipt.audit_seq})"
    )


@subject_app.command("optout")
def subject_optout(
    selfie: Selfie,
    face: FaceNumber = None,
    remove: Annotated[bool, typer.Option("--remove", help="Withdraw an opt-out.")] = False,
    data_dir: DataDir = None,
) -> None:
    """Put the person on the do-not-index list (their face template, not the photo)."""
    with open_engine(data_dir, workers=1) as engine:
        actor = acting_operator(engine)
        if remove:
            removed = engine.subject_optout_remove(actor, selfie, face)
            console.print(f"opt-out withdrawn: {removed} template(s) removed")
            return
        receipt = engine.subject_optout(actor, selfie, face)
    console.print(
        f"opted out: reference {receipt.reference}; {receipt.existing_faces_hidden} face(s) "
        "already held are now hidden from search, and new photos of this person will not be "
        f"indexed (audit record {receipt.audit_seq}).\n"
        f"{opt_out_coverage(receipt.templates, receipt.miss_rate)}"
    )


def opt_out_coverage(templates: int, miss_rate: float) -> str:
    """What an opt-out can be expected to catch, in words (CLI, web and portal alike)."""
    return (
        f"Coverage: {templates} face template(s) kept (the selfie's and one per photo held of "
        f"this person). A new photo resembling none of them closely enough is missed: with "
        f"one template that happens for about {plain_rate(miss_rate)} of new photos (more "
        "templates only lower it; a very different pose, age or disguise may still be missed)."
    )


def erase(
    jurisdiction: Annotated[str | None, typer.Option(help="ISO 3166-1 code.")] = None,
    source: Annotated[str | None, typer.Option(help="Source name.")] = None,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Count only.")] = False,
    yes: Annotated[bool, typer.Option("--yes", help="Erase without asking.")] = False,
    data_dir: DataDir = None,
) -> None:
    """Erase all images of a jurisdiction or a source, with a receipt."""
    with open_engine(data_dir) as engine:
        actor = acting_operator(engine)
        image_ids, _ = engine.erase(actor, jurisdiction=jurisdiction, source=source, dry_run=True)
        scope = f"jurisdiction {jurisdiction.upper()}" if jurisdiction else f"source {source}"
        console.print(f"{len(image_ids)} image(s) in {shown(scope)}")
        if dry_run or not image_ids:
            return
        if not yes and not typer.confirm(f"Erase all {len(image_ids)} image(s)?"):
            errors.print("nothing erased")
            raise typer.Exit(1)
        _, receipt = engine.erase(actor, jurisdiction=jurisdiction, source=source)
    if receipt is None:  # only a dry run has none
        raise FaceSiftError("nothing was erased")
    console.print(
        f"erased {receipt.images} image(s) and {receipt.faces} face(s); receipt "
        f"{receipt.reference} (audit record {receipt.audit_seq})"
    )


def purge(
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Count only.")] = False,
    data_dir: DataDir = None,
) -> None:
    """Delete everything whose retention period (or consent) has ended."""
    with open_engine(data_dir) as engine:
        image_ids, receipt = engine.purge(acting_operator(engine), dry_run=dry_run)
    if receipt is None:
        console.print(f"{len(image_ids)} image(s) expired (dry run: nothing deleted)")
        return
    console.print(
        f"purged {receipt.images} expired image(s) and {receipt.faces} face(s); "
        f"receipt {receipt.reference} (audit record {receipt.audit_seq})"
    )


@audit_app.command("show")
def audit_show(
    actor: Annotated[str | None, typer.Option(help="Only this operator.")] = None,
    action: Annotated[str | None, typer.Option(help="Only this action, e.g. search.")] = None,
    since: Annotated[str | None, typer.Option(help="ISO date or time.")] = None,
    as_json: AsJson = False,
    data_dir: DataDir = None,
) -> None:
    """Show audit records."""
    try:
        when = datetime.fromisoformat(since).astimezone() if since else None
    except ValueError:
        raise InputError(f"--since {since!r} is not an ISO 8601 date or time") from None
    with open_engine(data_dir) as engine:
        rows = engine.audit_records(
            acting_operator(engine), operator=actor, action=action, since=when
        )
    if as_json:
        print_json(console, rows)
        return
    table = PlainTable(title=f"Audit trail ({len(rows)} records)")
    for column in ("#", "time (UTC)", "actor", "role", "action", "purpose", "case", "details"):
        table.add_column(column, overflow="fold")
    for r in rows:
        table.add_row(
            str(r.seq),
            r.at[:19],
            r.actor,
            r.role,
            r.action,
            r.purpose,
            r.case_ref,
            ", ".join(f"{k}={v}" for k, v in r.details.items())[:120],
        )
    console.print(table)


@audit_app.command("verify")
def audit_verify(
    checkpoint: Annotated[
        str | None,
        typer.Option(
            help="SEQ:HASH printed by an earlier check and kept outside the data directory: "
            "the chain must still hold that record (catches a rewritten, re-sealed chain)."
        ),
    ] = None,
    data_dir: DataDir = None,
) -> None:
    """Check the hash chain; report the first broken or missing record (exit 1)."""
    with open_engine(data_dir) as engine:
        check = engine.audit_verify(acting_operator(engine), checkpoint)
    if check.intact:
        console.print(f"audit trail intact: {check.records} records; head {check.head}")
        if check.records:
            console.print(
                f"checkpoint {check.records}:{check.head}\n"
                "keep this line outside the data directory (a ticket, another system's log); "
                "later, `facesift audit verify --checkpoint` with it shows the chain was not "
                "rewritten"
            )
        return
    errors.print(f"[red]audit trail broken at record {check.first_broken}[/]: {check.problem}")
    raise typer.Exit(1)


@report_app.command("processing")
def report_processing(as_json: AsJson = False, data_dir: DataDir = None) -> None:
    """A record of processing activities (GDPR Art. 30 style) from this deployment."""
    with open_engine(data_dir) as engine:
        record = engine.processing_record(acting_operator(engine))
    if as_json:
        print_json(console, record)
    else:
        console.print(
            processing_record_markdown(record), markup=False, highlight=False, soft_wrap=True
        )


@report_app.command("dpia")
def report_dpia(
    html: Annotated[
        Path | None, typer.Option(help="Write the draft as a self-contained HTML file.")
    ] = None,
    as_json: AsJson = False,
    data_dir: DataDir = None,
) -> None:
    """A draft data protection impact assessment (GDPR Art. 35, EU AI Act Art. 27) from this
    deployment's sources, audit trail and measured accuracy, for the controller to complete."""
    with open_engine(data_dir) as engine:
        content = engine.dpia(acting_operator(engine))
    if html:
        html.write_text(dpia_html(content), encoding="utf-8")
    if as_json:
        print_json(console, content)
    elif html:
        console.print(f"DPIA draft written to {shown(html)}")
    else:
        # Purposes and case references are operators' words: no terminal codes reach the screen.
        document = "\n".join(printable(line) for line in dpia_markdown(content).splitlines())
        console.print(document, markup=False, highlight=False, soft_wrap=True)
