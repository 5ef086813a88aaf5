"""Operators: named people with one role each, identified by an API key stored only as a hash."""

from __future__ import annotations

import hashlib
import re
import secrets
from collections.abc import Sequence
from datetime import UTC, datetime

from facesift.catalog.base import Operators
from facesift.catalog.operators import StoredOperator
from facesift.errors import AuthenticationError, InputError, OperatorNotFound
from facesift.govern.audit import AuditEvent, AuditRecorder
from facesift.govern.roles import BOOTSTRAP, OPERATOR_ROLES, Action, Actor, Role

OPERATOR_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._@-]{0,99}$")


def key_digest(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


class OperatorRegistry:
    """Operators over the catalog's ``Operators`` role: names, roles and API keys (hashed)."""

    def __init__(self, store: Operators):
        self.store = store

    def add(self, name: str, role: Role | str) -> tuple[Actor, str]:
        """Create an operator; return it with its API key (shown once, stored only hashed)."""
        if not OPERATOR_NAME.match(name):
            raise InputError(f"operator name {name!r} is invalid (letters, digits, . _ @ -)")
        chosen = next((r for r in OPERATOR_ROLES if r.value == str(role)), None)
        if chosen is None:
            known = ", ".join(r.value for r in OPERATOR_ROLES)
            raise InputError(f"unknown role {str(role)!r}; an operator's role is one of: {known}")
        key = "fs_" + secrets.token_urlsafe(32)
        self.store.add_operator(name, chosen.value, key_digest(key), datetime.now(UTC))
        return Actor(name, chosen), key

    def count(self) -> int:
        return self.store.operator_count()

    def enabled(self, name: str) -> Actor:
        """The enabled operator ``name`` as the target of an admin's change (not the caller)."""
        found = self.store.active_operator(name=name)
        if found is None:
            raise OperatorNotFound(f"no enabled operator named {name!r}")
        return _actor(found)

    def disable(self, name: str) -> None:
        if not self.store.disable_operator(name, datetime.now(UTC)):
            raise OperatorNotFound(f"no enabled operator named {name!r}")

    def new_key(self, name: str) -> str:
        key = "fs_" + secrets.token_urlsafe(32)
        if not self.store.replace_operator_key(name, key_digest(key)):
            raise OperatorNotFound(f"no enabled operator named {name!r}")
        return key

    def list(self) -> list[tuple[Actor, datetime]]:
        return [(_actor(o), o.created_at) for o in self.store.active_operators()]

    def by_name(self, name: str) -> Actor:
        found = self.store.active_operator(name=name)
        if found is None:
            raise AuthenticationError(
                f"unknown operator {name!r}; an administrator adds operators with "
                "`facesift user add NAME --role ROLE`"
            )
        return _actor(found)

    def by_key(self, key: str) -> Actor:
        return self.by_key_digest(key_digest(key))

    def by_key_digest(self, digest: str) -> Actor:
        """The operator whose key hashes to ``digest`` (web sessions keep the digest, not the key,
        so a session ends when its operator is disabled or given a new key)."""
        found = self.store.active_operator(key_sha256=digest)
        if found is None:
            raise AuthenticationError("API key not recognised (or its operator was disabled)")
        return _actor(found)

    def set_scope(self, name: str, sources: Sequence[str] | None) -> None:
        chosen = None if sources is None else [str(s) for s in sources]
        if not self.store.set_search_sources(name, chosen):
            raise OperatorNotFound(f"no enabled operator named {name!r}")


def _actor(found: StoredOperator) -> Actor:
    scope = None if found.search_sources is None else frozenset(found.search_sources)
    return Actor(found.name, Role(found.role), scope)


class OperatorAdmin:
    """Adding and listing operators, permitted and audited; the first administrator of a new
    gallery is created by the one bootstrap actor."""

    def __init__(self, registry: OperatorRegistry, audit: AuditRecorder):
        self.registry = registry
        self.audit = audit

    def create_first_admin(self, name: str) -> str | None:
        """On a new gallery, create the first administrator and return its key (else None)."""
        if self.registry.count():
            return None
        _, key = self.registry.add(name, Role.ADMIN)
        self.audit.record(
            AuditEvent(BOOTSTRAP, Action.USER_ADD, details={"operator": name, "role": "admin"})
        )
        return key

    def add(self, actor: Actor, name: str, role: Role | str) -> str:
        actor.require(Action.USER_ADD)
        added, key = self.registry.add(name, role)
        self.audit.record(
            AuditEvent(
                actor, Action.USER_ADD, details={"operator": added.name, "role": added.role.value}
            )
        )
        return key

    def list(self, actor: Actor) -> list[tuple[Actor, datetime]]:
        actor.require(Action.USER_LIST)
        return self.registry.list()

    def disable(self, actor: Actor, name: str) -> Actor:
        """Disable operator ``name``: their API key and web sessions stop working at once (a
        session keeps the key's digest and is checked on every request). The last enabled
        administrator cannot be disabled: nobody could then add, disable or answer requests."""
        actor.require(Action.USER_DISABLE)
        target = self.registry.enabled(name)
        if target.role == Role.ADMIN:
            admins = [a for a, _ in self.registry.list() if a.role == Role.ADMIN]
            if len(admins) <= 1:
                raise InputError(
                    f"operator {name!r} is the last enabled administrator; add another first"
                )
        self.registry.disable(name)
        self.audit.record(
            AuditEvent(
                actor,
                Action.USER_DISABLE,
                details={"operator": name, "role": target.role.value},
            )
        )
        return target

    def rotate_key(self, actor: Actor, name: str) -> tuple[Actor, str]:
        """A new API key for ``name`` (shown once); the old key and its sessions stop working.
        Administrators rotate anyone's key, every operator their own."""
        if name != actor.name:
            actor.require(Action.USER_ROTATE_KEY)
        target = self.registry.enabled(name)
        key = self.registry.new_key(name)
        self.audit.record(
            AuditEvent(
                actor,
                Action.USER_ROTATE_KEY,
                details={"operator": name, "role": target.role.value},
            )
        )
        return target, key

    def scope(
        self, actor: Actor, name: str, sources: Sequence[str] | None, known_sources: set[str]
    ) -> Actor:
        """Limit ``name``'s searches to ``sources`` (None: every source), permitted, checked
        against the declared sources, and audited."""
        actor.require(Action.USER_SCOPE)
        if sources is not None:
            unknown = sorted(set(sources) - known_sources)
            if unknown:
                raise InputError(f"no source named {', '.join(map(repr, unknown))}")
            sources = sorted(set(sources))
        self.registry.enabled(name)
        self.registry.set_scope(name, sources)
        self.audit.record(
            AuditEvent(actor, Action.USER_SCOPE, details={"operator": name, "sources": sources})
        )
        return self.registry.enabled(name)
