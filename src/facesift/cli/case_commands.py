"""Case commands: an evidence pack per case, and its check."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from facesift.cli.common import AsJson, DataDir, acting_operator, console, errors, open_engine
from facesift.cli.output import print_json, printable, shown
from facesift.govern import chain
from facesift.govern.evidence import pack_folder_name

case_app = typer.Typer(help="Cases: evidence packs of what was searched, found and decided.")


def register(app: typer.Typer) -> None:
    app.add_typer(case_app, name="case")


@case_app.command("export")
def export(
    case: Annotated[str, typer.Argument(help="The case reference the searches were made under.")],
    out: Annotated[
        Path | None,
        typer.Option(help="New folder for the pack (default: ./evidence-<case>-<time>)."),
    ] = None,
    as_json: AsJson = False,
    data_dir: DataDir = None,
) -> None:
    """Write the evidence pack of CASE: probe crops, leads with provenance and false-match
    rates, every review, the case's audit records, and a verifier that needs only Python."""
    with open_engine(data_dir) as engine:
        folder = out or Path(pack_folder_name(case))
        pack = engine.export_case(acting_operator(engine), case, folder)
    if as_json:
        print_json(console, pack)
        return
    console.print(
        f"evidence pack of case [bold]{shown(pack.case)}[/] written to "
        f"[bold]{shown(pack.folder)}[/]: {pack.searches} kept searches, {pack.leads} leads "
        f"({pack.erased_leads} erased since), {pack.audit_records} audit records of the case\n"
        f"seal {pack.pack_seal} (recorded in the audit trail with this export)\n"
        f"check it anywhere with: python {shown(pack.folder / 'verify_pack.py')} "
        f"{shown(pack.folder)}"
    )


@case_app.command("close")
def close(
    case: Annotated[str, typer.Argument(help="The case reference the searches were made under.")],
    data_dir: DataDir = None,
) -> None:
    """The case is over: erase the probe-face crops its kept searches hold (kept only for the
    life of the case). Leads, reviews and the audit record stay; export a pack first if one is
    needed with the crops."""
    with open_engine(data_dir) as engine:
        erased = engine.close_case(acting_operator(engine), case)
    console.print(f"case [bold]{shown(case)}[/] closed: {erased} probe crop(s) erased")


@case_app.command("verify")
def verify(
    pack: Annotated[Path, typer.Argument(help="The pack's folder.")],
) -> None:
    """Check an evidence pack on its own (no gallery needed): every file as it was made, and
    the audit records linked. The same check as the pack's own verify_pack.py."""
    if not pack.is_dir():
        errors.print(f"[red]{shown(pack)}: not a folder[/]")
        raise typer.Exit(2)
    problems, facts = chain.verify_pack(pack)
    for fact in facts:
        console.print(fact, markup=False, highlight=False)
    if problems:
        errors.print(f"[red]NOT VERIFIED[/]: {shown(pack)}")
        for problem in problems:
            errors.print(f"  - {printable(problem)}", markup=False, highlight=False)
        raise typer.Exit(1)
    console.print(f"verified: every file of {shown(pack)} is as it was made, and its audit "
                  "records link up")  # fmt: skip
