"""``facesift reembed``: move the gallery to the configured models' embedding space."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from facesift.cli.common import (
    WORKERS_HELP,
    AsJson,
    DataDir,
    acting_operator,
    console,
    errors,
    open_engine,
)
from facesift.cli.output import PlainTable, print_json, shown
from facesift.cli.progress import ImageJobProgress


def register(app: typer.Typer) -> None:
    app.command()(reembed)


def reembed(
    drop_uncarried_optouts: Annotated[
        bool,
        typer.Option(
            help="Switch even if some opt-outs cannot be carried into the new space (their "
            "references are listed and audited; ask those people to opt out again)."
        ),
    ] = False,
    workers: Annotated[int | None, typer.Option(help=WORKERS_HELP)] = None,
    as_json: AsJson = False,
    data_dir: DataDir = None,
) -> None:
    """Re-analyse every stored image with the configured detector and embedder (FACESIFT_DETECTOR,
    FACESIFT_EMBEDDER and their model files) into their embedding space, then switch the gallery
    to it at once. Searches keep using the old space until the switch; Ctrl-C and run again to
    resume. Administrators only; audited."""
    with open_engine(data_dir, workers=workers) as engine:
        actor = acting_operator(engine)
        console.print(
            f"re-embedding from [bold]{shown(engine.space.key)}[/] "
            f"to [bold]{shown(engine.reembed_space.key)}[/] "
            f"(detector {engine.requested_settings.detector})"
        )
        try:
            with ImageJobProgress("reembed") as bar:
                report = engine.reembed(
                    actor,
                    drop_uncarried_optouts=drop_uncarried_optouts,
                    on_total=bar.on_total,
                    on_progress=bar.on_progress,
                )
        except KeyboardInterrupt:
            errors.print(
                "[yellow]interrupted[/]: re-embedded images are kept and the gallery still "
                "searches the old space; run the same command again to resume."
            )
            raise typer.Exit(130) from None
    if as_json:
        print_json(console, vars(report))
        return
    summary = PlainTable(title="Re-embed", show_header=False)
    switch = report.switch
    for label, value in (
        ("from space", report.previous_space),
        ("to space", report.target_space),
        ("images", report.images_total),
        ("  analysed now", report.images_analysed),
        ("  done by an earlier run", report.images_already_done),
        ("  not readable by their stored name", len(report.unreadable)),
        (
            "faces before / after",
            f"{switch.faces_before} / {switch.faces_after}" if switch else "-",
        ),
        (
            "faces held back (unreadable, or not found again)",
            switch.faces_held_back if switch else 0,
        ),
        ("new detections not added (not in the gallery)", report.detections_not_added),
        ("identity assignments carried", switch.identities_carried if switch else 0),
        ("opt-outs carried / dropped", f"{report.optouts_carried} / {len(report.optouts_dropped)}"),
        ("switched", "yes" if switch else "no (nothing to do)"),
        ("time", f"{report.seconds:.1f} s"),
    ):
        summary.add_row(label, shown(str(value)))
    console.print(summary)
    for path, reason in report.unreadable:
        errors.print(f"[yellow]held back[/] {shown(path)}: {shown(reason)}", highlight=False)
    if switch:
        console.print(
            "Accuracy in the new space must be measured before use: run `facesift eval calibrate` "
            f"and write the file to {Path(engine.data_dir) / 'calibration'} (docs/models.md)."
        )
