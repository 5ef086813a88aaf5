"""Operators: named people with one role each, identified by an API key stored only as a hash."""

from __future__ import annotations

import hashlib
import re
import secrets
from datetime import UTC, datetime

from sqlalchemy import func, select
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError

from facesift.catalog.tables import operators
from facesift.errors import FaceSiftError
from facesift.govern.roles import Actor, Role

OPERATOR_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._@-]{0,99}$")


class AuthenticationError(FaceSiftError):
    exit_code = 7


def key_digest(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


class OperatorRegistry:
    def __init__(self, engine: Engine):
        self.engine = engine

    def add(self, name: str, role: Role | str) -> tuple[Actor, str]:
        """Create an operator; return it with its API key (shown once, stored only hashed)."""
        if not OPERATOR_NAME.match(name):
            raise FaceSiftError(f"operator name {name!r} is invalid (letters, digits, . _ @ -)")
        try:
            role = Role(role)
        except ValueError:
            known = ", ".join(r.value for r in Role)
            raise FaceSiftError(f"unknown role {role!r}; one of: {known}") from None
        key = "fs_" + secrets.token_urlsafe(32)
        try:
            with self.engine.begin() as connection:
                connection.execute(
                    operators.insert().values(
                        name=name,
                        role=role.value,
                        key_sha256=key_digest(key),
                        created_at=datetime.now(UTC),
                    )
                )
        except IntegrityError:
            raise FaceSiftError(f"operator {name!r} already exists") from None
        return Actor(name, role), key

    def count(self) -> int:
        with self.engine.connect() as connection:
            return connection.execute(select(func.count()).select_from(operators)).scalar_one()

    def list(self) -> list[tuple[Actor, datetime]]:
        with self.engine.connect() as connection:
            rows = connection.execute(
                select(operators)
                .where(operators.c.disabled_at.is_(None))
                .order_by(operators.c.name)
            ).mappings()
            return [(Actor(r["name"], Role(r["role"])), r["created_at"]) for r in rows]

    def by_name(self, name: str) -> Actor:
        with self.engine.connect() as connection:
            row = (
                connection.execute(
                    select(operators).where(
                        operators.c.name == name, operators.c.disabled_at.is_(None)
                    )
                )
                .mappings()
                .first()
            )
        if row is None:
            raise AuthenticationError(
                f"unknown operator {name!r}; an administrator adds operators with "
                "`facesift user add NAME --role ROLE`"
            )
        return Actor(row["name"], Role(row["role"]))

    def by_key(self, key: str) -> Actor:
        return self.by_key_digest(key_digest(key))

    def by_key_digest(self, digest: str) -> Actor:
        """The operator whose key hashes to ``digest`` (web sessions keep the digest, not the key,
        so a session ends when its operator is disabled or given a new key)."""
        with self.engine.connect() as connection:
            row = (
                connection.execute(
                    select(operators).where(
                        operators.c.key_sha256 == digest, operators.c.disabled_at.is_(None)
                    )
                )
                .mappings()
                .first()
            )
        if row is None:
            raise AuthenticationError("API key not recognised (or its operator was disabled)")
        return Actor(row["name"], Role(row["role"]))
