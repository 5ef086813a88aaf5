"""The catalog's role Protocols (catalog/base.py) describe SqlCatalog completely: every public
method belongs to a role, and every role method exists with the same parameters."""

import inspect

from facesift.catalog.base import CATALOG_ROLES, Catalog
from facesift.catalog.sql import SqlCatalog


def protocol_methods(protocol: type) -> dict[str, inspect.Signature]:
    return {
        name: inspect.signature(member)
        for name, member in vars(protocol).items()
        if callable(member) and not name.startswith("_")
    }


def test_every_public_catalog_method_belongs_to_a_role():
    in_roles = {name for role in CATALOG_ROLES for name in protocol_methods(role)}
    public = {
        name
        for name, member in inspect.getmembers(SqlCatalog)
        if callable(member) and not name.startswith("_")
    }
    assert public - in_roles - {"close"} == set()


def test_each_role_method_exists_on_the_catalog_with_the_same_parameters():
    for role in (*CATALOG_ROLES, Catalog):
        for name, signature in protocol_methods(role).items():
            implemented = inspect.signature(getattr(SqlCatalog, name))
            assert list(implemented.parameters) == list(signature.parameters), (role, name)
            for parameter in signature.parameters.values():
                assert implemented.parameters[parameter.name].kind == parameter.kind, (role, name)


def test_roles_do_not_overlap():
    seen: dict[str, str] = {}
    for role in CATALOG_ROLES:
        for name in protocol_methods(role):
            assert name not in seen, f"{name} is in {seen.get(name)} and {role.__name__}"
            seen[name] = role.__name__
