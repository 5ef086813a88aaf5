"""Rendering results for people (Rich tables) and for programs (JSON)."""

from __future__ import annotations

import dataclasses
import json
import re
from datetime import datetime
from enum import Enum
from pathlib import Path
from typing import Any

from rich.console import Console, RenderableType
from rich.markup import escape
from rich.table import Table
from rich.text import Text

from facesift.types import ProbeFaceResult, Verification

LEADS_NOTICE = (
    "Leads, not identifications: each must be reviewed by a person before any action is taken.\n"
    "FMR: share of different-person pairs this close (calibrated on LFW)."
)


# C0 and C1 control characters, DEL included: in a file name, identity name or note, an escape
# sequence could rewrite the operator's terminal (move the cursor, hide text, set the title),
# and a newline could forge an output line.
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")


def printable(text: object) -> str:
    """``text`` with every control character shown as ``\\xNN``, so it prints as it is."""
    return _CONTROL.sub(lambda found: f"\\x{ord(found.group()):02x}", str(text))


def shown(text: object) -> str:
    """``text`` ready to go inside Rich markup: control characters shown, markup escaped."""
    return escape(printable(text))


class PlainTable(Table):
    """A Rich table whose text cells are shown as they are: never read as markup, with control
    characters made visible (``printable``). Every CLI table shows names that users chose."""

    def add_row(self, *renderables: RenderableType | None, **options: Any) -> None:
        super().add_row(
            *(Text(printable(cell)) if isinstance(cell, str) else cell for cell in renderables),
            **options,
        )


def to_jsonable(value: Any) -> Any:
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: to_jsonable(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, dict):
        return {str(k): to_jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [to_jsonable(v) for v in value]
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, Path):
        return str(value)
    if isinstance(value, float) and value != value:  # NaN
        return None
    return value


def print_json(console: Console, value: Any) -> None:
    console.print_json(json.dumps(to_jsonable(value)), highlight=False)


def format_rate(rate: float) -> str:
    return f"{rate:.1e}" if rate < 0.01 else f"{rate:.3f}"


def short_path(path: str) -> str:
    """Paths under the working directory are shown relative to it; others in full."""
    try:
        return str(Path(path).relative_to(Path.cwd()))
    except ValueError:
        return path


def shown_rate(rate: float, resolution: float) -> str:
    return f"<{format_rate(resolution)}" if rate <= resolution else format_rate(rate)


def search_tables(
    results: list[ProbeFaceResult], threshold: float, resolution: float
) -> list[PlainTable]:
    tables = []
    for result in results:
        box = result.box
        table = PlainTable(
            title=(
                f"Probe face {result.face_number} at "
                f"({box.left},{box.top})-({box.right},{box.bottom})"
                f": {len(result.leads)} lead(s) within distance {threshold:.3f}"
            ),
            caption=LEADS_NOTICE,
        )
        table.add_column("#", justify="right", no_wrap=True)
        table.add_column("distance", justify="right", no_wrap=True)
        table.add_column("FMR", justify="right", no_wrap=True)
        table.add_column("source", no_wrap=True)
        table.add_column("image", overflow="fold", min_width=24)
        table.add_column("face box", no_wrap=True)
        if any(lead.identity_id for lead in result.leads):
            table.add_column("identity (faces)", no_wrap=True)
        for rank, lead in enumerate(result.leads, start=1):
            b = lead.box
            table.add_row(
                str(rank),
                f"{lead.distance:.3f}",
                shown_rate(lead.false_match_rate, resolution),
                lead.source,
                short_path(lead.image_path),
                f"{b.left},{b.top} {b.width}x{b.height}",
                *([identity_label(lead)] if any(x.identity_id for x in result.leads) else []),
            )
        tables.append(table)
    return tables


def verification_text(result: Verification, resolution: float) -> str:
    verdict = "[green]same person[/]" if result.same_person else "[red]different people[/]"
    shown = shown_rate(result.false_match_rate, resolution)
    return (
        f"{verdict}: distance {result.distance:.3f} (threshold {result.threshold:.3f}); "
        f"false-match rate at this distance: {shown}"
    )


def identity_label(lead) -> str:
    if lead.identity_id is None:
        return "-"
    name = f" {lead.identity_name}" if lead.identity_name else ""
    return f"#{lead.identity_id}{name} ({lead.identity_faces})"
