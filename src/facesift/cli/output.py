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

from facesift.search.policy import describe_odds, plain_count, plain_rate
from facesift.types import ProbeFaceResult, SearchOdds, Verification

LEADS_NOTICE = (
    "Leads, not identifications: each must be reviewed by a person before any action is taken.\n"
    "Strangers this close: how often two different people are this close (calibrated on LFW),\n"
    "and how many such strangers a gallery of this size should hold."
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


def short_path(path: str) -> str:
    """Paths under the working directory are shown relative to it; others in full."""
    try:
        return str(Path(path).relative_to(Path.cwd()))
    except ValueError:
        return path


def search_tables(
    results: list[ProbeFaceResult],
    threshold: float,
    resolution: float,
    odds: SearchOdds | None = None,
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
            caption=LEADS_NOTICE
            + (f"\n{cut_notice(len(result.leads))}" if result.cut_at_top_k else ""),
        )
        table.add_column("#", justify="right", no_wrap=True)
        table.add_column("distance", justify="right", no_wrap=True)
        table.add_column("strangers this close", justify="right", no_wrap=True)
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
                lead_rate_text(lead.false_match_rate, resolution, odds),
                lead.source,
                short_path(lead.image_path),
                f"{b.left},{b.top} {b.width}x{b.height}",
                *([identity_label(lead)] if any(x.identity_id for x in result.leads) else []),
            )
        tables.append(table)
    return tables


def lead_rate_text(rate: float, resolution: float, odds: SearchOdds | None) -> str:
    """A lead's false-match rate per comparison, and how many strangers that close this
    gallery should hold: "1 in 26,767; ~0.4 here"."""
    text = plain_rate(rate, resolution)
    if odds is None:
        return text
    return f"{text}; {plain_count(odds.strangers_as_close(max(rate, resolution)))} here"


def cut_notice(shown: int) -> str:
    return (
        f"More faces are within the threshold than the {shown} shown: the list was cut at "
        "--top-k (raise it, up to 100, to see them)."
    )


def odds_text(odds: SearchOdds) -> str:
    """What to expect of this search, in words (docs/accuracy.md, "Reading a search")."""
    return describe_odds(odds)


def verification_text(result: Verification, resolution: float) -> str:
    verdict = "[green]same person[/]" if result.same_person else "[red]different people[/]"
    compared = "".join(
        f"\n{label} holds {count} faces: compared the main one (largest, most confident) at "
        f"({box.left},{box.top})-({box.right},{box.bottom})"
        for label, count, box in (
            ("the first photo", result.faces_in_a, result.box_a),
            ("the second photo", result.faces_in_b, result.box_b),
        )
        if count > 1
    )
    return (
        f"{verdict}: distance {result.distance:.3f} (threshold {result.threshold:.3f}); "
        f"false-match rate at this distance: {plain_rate(result.false_match_rate, resolution)} "
        f"(two different people are this close that often){compared}"
    )


def identity_label(lead) -> str:
    if lead.identity_id is None:
        return "-"
    name = f" {lead.identity_name}" if lead.identity_name else ""
    return f"#{lead.identity_id}{name} ({lead.identity_faces})"
