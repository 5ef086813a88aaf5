"""Catalog queries for operators: named people with one role each and a hashed API key."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError

from facesift.catalog.tables import operators
from facesift.errors import DuplicateNameError


@dataclass(frozen=True)
class StoredOperator:
    name: str
    role: str
    created_at: datetime
    search_sources: tuple[str, ...] | None = None  # None: every source


_COLUMNS = (operators.c.name, operators.c.role, operators.c.created_at, operators.c.search_sources)


def _stored(row: Any) -> StoredOperator:
    scope = row.search_sources
    return StoredOperator(
        row.name, row.role, row.created_at, None if scope is None else tuple(scope)
    )


class OperatorQueries:
    """Mixed into SqlCatalog (``self.db`` is its SQLAlchemy engine)."""

    db: Engine

    def add_operator(self, name: str, role: str, key_sha256: str, created_at: datetime) -> None:
        try:
            with self.db.begin() as connection:
                connection.execute(
                    operators.insert().values(
                        name=name, role=role, key_sha256=key_sha256, created_at=created_at
                    )
                )
        except IntegrityError:
            raise DuplicateNameError(f"operator {name!r} already exists") from None

    def operator_count(self) -> int:
        with self.db.connect() as connection:
            count: int = connection.execute(
                select(func.count()).select_from(operators)
            ).scalar_one()
            return count

    def active_operators(self) -> list[StoredOperator]:
        with self.db.connect() as connection:
            rows = connection.execute(
                select(*_COLUMNS)
                .where(operators.c.disabled_at.is_(None))
                .order_by(operators.c.name)
            ).all()
        return [_stored(r) for r in rows]

    def active_operator(
        self, *, name: str | None = None, key_sha256: str | None = None
    ) -> StoredOperator | None:
        """The enabled operator with this name or key digest, else None."""
        query = select(*_COLUMNS).where(operators.c.disabled_at.is_(None))
        if name is not None:
            query = query.where(operators.c.name == name)
        if key_sha256 is not None:
            query = query.where(operators.c.key_sha256 == key_sha256)
        with self.db.connect() as connection:
            row = connection.execute(query).first()
        return None if row is None else _stored(row)

    def disable_operator(self, name: str, at: datetime) -> bool:
        """Disable the enabled operator ``name`` (their key stops working); False if none."""
        return self._change_enabled_operator(name, disabled_at=at)

    def set_search_sources(self, name: str, sources: list[str] | None) -> bool:
        """Limit the enabled operator ``name``'s searches to ``sources`` (None: every source)."""
        return self._change_enabled_operator(name, search_sources=sources)

    def replace_operator_key(self, name: str, key_sha256: str) -> bool:
        """Give the enabled operator ``name`` a new key digest (the old key stops working)."""
        return self._change_enabled_operator(name, key_sha256=key_sha256)

    def _change_enabled_operator(self, name: str, **values: object) -> bool:
        with self.db.begin() as connection:
            result = connection.execute(
                update(operators)
                .where(operators.c.name == name, operators.c.disabled_at.is_(None))
                .values(**values)
            )
        return bool(result.rowcount)
