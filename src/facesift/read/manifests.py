"""Manifests: the operator's declaration of which files to ingest, with per-image provenance.

CSV (with a header row) or JSON Lines. Columns: ``path`` (required; relative paths are relative to
the manifest's folder) and optionally ``subject_ref``, ``consent_ref``, ``consent_until``,
``jurisdiction``, ``captured_at``, ``source_url``, ``notes``. Per-image values override the
source's. A bad row is reported by its line number; the good rows are still ingested.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path

from facesift.errors import InputError
from facesift.text import assigned_country_code, country_code_hint

FIELDS = (
    "path",
    "subject_ref",
    "consent_ref",
    "consent_until",
    "jurisdiction",
    "captured_at",
    "source_url",
    "notes",
)


@dataclass(frozen=True)
class Provenance:
    """What the operator declared about one image."""

    subject_ref: str | None = None
    consent_ref: str | None = None
    consent_until: datetime | None = None
    jurisdiction: str | None = None
    captured_at: datetime | None = None
    source_url: str | None = None
    notes: str | None = None


@dataclass(frozen=True)
class ManifestEntry:
    line: int
    path: Path
    provenance: Provenance


def read_manifest(
    manifest: Path, consent_required: bool
) -> tuple[list[ManifestEntry], list[tuple[str, str]]]:
    """Parse ``manifest``; return the valid entries and (``file:line``, reason) for the others."""
    try:
        text = manifest.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as error:
        raise InputError(f"{manifest}: cannot read manifest ({error})") from None
    rows = (
        _json_lines(manifest, text)
        if manifest.suffix.lower() in (".jsonl", ".ndjson")
        else _csv_rows(manifest, text)
    )
    entries, errors = [], []
    for line, row in rows:
        where = f"{manifest}:{line}"
        if isinstance(row, str):
            errors.append((where, row))
            continue
        try:
            entries.append(_entry(manifest, line, row, consent_required))
        except ValueError as error:
            errors.append((where, str(error)))
    return entries, errors


def _csv_rows(manifest: Path, text: str) -> Iterator[tuple[int, str | dict[str, str | None]]]:
    reader = csv.DictReader(text.splitlines())
    if reader.fieldnames is None or "path" not in reader.fieldnames:
        raise InputError(f"{manifest}: a CSV manifest needs a header row with a 'path' column")
    unknown = set(reader.fieldnames) - set(FIELDS)
    if unknown:
        raise InputError(
            f"{manifest}: unknown columns {sorted(unknown)}; known: {', '.join(FIELDS)}"
        )
    for row in reader:
        if None in row:
            yield reader.line_num, "more values than header columns"
        else:
            yield reader.line_num, row


def _json_lines(manifest: Path, text: str) -> Iterator[tuple[int, str | dict[str, str | None]]]:
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError as error:
            yield number, f"not valid JSON ({error.msg})"
            continue
        if not isinstance(row, dict):
            yield number, "each line must be a JSON object"
            continue
        unknown = set(row) - set(FIELDS)
        if unknown:
            yield number, f"unknown fields {sorted(unknown)}"
            continue
        yield number, {k: (None if v is None else str(v)) for k, v in row.items()}


def _entry(
    manifest: Path, line: int, row: dict[str, str | None], consent_required: bool
) -> ManifestEntry:
    values = {k: (v.strip() if isinstance(v, str) else v) or None for k, v in row.items()}
    if not values.get("path"):
        raise ValueError("missing path")
    path = Path(str(values["path"]))
    if not path.is_absolute():
        path = manifest.parent / path
    if consent_required and not values.get("consent_ref"):
        raise ValueError("missing consent_ref: this source's lawful basis is consent")
    jurisdiction = values.get("jurisdiction")
    if jurisdiction is not None:
        code = assigned_country_code(jurisdiction)
        if code is None:
            raise ValueError(
                f"jurisdiction {jurisdiction!r} is not an assigned ISO 3166-1 alpha-2 code"
                f"{country_code_hint(jurisdiction)}"
            )
        jurisdiction = code
    consent_until = _when(values.get("consent_until"), "consent_until")
    if consent_until is not None and consent_until <= datetime.now(UTC):
        raise ValueError(
            f"consent ended on {consent_until.date()}: the photo is not ingested (consent_until)"
        )
    return ManifestEntry(
        line=line,
        path=path,
        provenance=Provenance(
            subject_ref=values.get("subject_ref"),
            consent_ref=values.get("consent_ref"),
            consent_until=consent_until,
            jurisdiction=jurisdiction,
            captured_at=_when(values.get("captured_at"), "captured_at"),
            source_url=values.get("source_url"),
            notes=values.get("notes"),
        ),
    )


def _when(value: str | None, name: str) -> datetime | None:
    if value is None:
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        try:
            parsed = datetime.combine(date.fromisoformat(value), datetime.min.time())
        except ValueError:
            raise ValueError(f"{name} {value!r} is not an ISO 8601 date or time") from None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
