"""Bounds on the free text operators and the public type: purposes, case references, notes,
names, reasons. Enough for any honest use; bounded so that no field stores bulk data in the
catalog or the audit trail, or floods a page (issue #12, "careless input")."""

from __future__ import annotations

import re

from facesift.errors import InputError

PURPOSE_CHARS = 500
CASE_CHARS = 200
NOTE_CHARS = 2000
NAME_CHARS = 200


def bounded(field: str, value: str, limit: int) -> str:
    """``value`` stripped, or an InputError naming ``field`` if it is longer than ``limit``."""
    text = value.strip()
    if len(text) > limit:
        raise InputError(f"{field}: {len(text)} characters, over the {limit} allowed")
    return text


def assigned_country_code(text: str) -> str | None:
    """``text`` as an assigned ISO 3166-1 alpha-2 code (upper case), or None if it is not one.

    Assigned codes only (pycountry's list): "XX" or "UK" (the UK is GB) would make the
    jurisdiction-wide erasure and the processing record name a place that does not exist."""
    import pycountry  # its country list loads on first use, not at every import

    code = text.strip().upper()
    if not re.fullmatch(r"[A-Z]{2}", code) or pycountry.countries.get(alpha_2=code) is None:
        return None
    return code


def country_code_hint(text: str) -> str:
    return " (the United Kingdom is GB)" if text.strip().upper() == "UK" else ""


def spreadsheet_inert(cell: str) -> str:
    """``cell`` as text a spreadsheet will not run: one starting with = + - @ (or a tab or
    carriage return) is a formula to Excel and LibreOffice, so it gets a leading quote. For
    every CSV facesift writes whose cells hold text someone else typed (subject references,
    notes, audit details)."""
    return "'" + cell if cell[:1] in ("=", "+", "-", "@", "\t", "\r") else cell
