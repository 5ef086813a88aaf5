"""Retention: every image gets an expiry when it is ingested, and `purge` deletes what expired."""

from __future__ import annotations

from datetime import datetime, timedelta


def expiry(ingested_at: datetime, retention_days: int, consent_until: datetime | None) -> datetime:
    """The source's retention period from ingest, or the end of consent if that comes first."""
    until = ingested_at + timedelta(days=retention_days)
    return min(until, consent_until) if consent_until else until
