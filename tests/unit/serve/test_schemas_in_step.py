"""Each response model read from a domain object (serve/schemas.py BUILT_FROM) agrees with it
field for field: same names, same types (a Literal lists exactly an enum's values), so a domain
change that the API would answer with a 500 fails here instead. The stats of a gallery without
calibration (match_threshold None) once did."""

import enum
import types
import typing
from dataclasses import fields, is_dataclass

import pytest
from pydantic import BaseModel

pytest.importorskip("fastapi", reason="the API tests need the 'serve' extra")

from facesift.serve.schemas import BUILT_FROM, FromDomain  # noqa: E402


def domain_types(domain: type) -> dict[str, object]:
    hints = typing.get_type_hints(domain)
    found = {f.name: hints[f.name] for f in fields(domain)} if is_dataclass(domain) else {}
    for name, member in vars(domain).items():
        if isinstance(member, property) and member.fget is not None:
            found[name] = typing.get_type_hints(member.fget)["return"]
    return found


def members(annotation: object) -> list[object]:
    if typing.get_origin(annotation) in (typing.Union, types.UnionType):
        return list(typing.get_args(annotation))
    return [annotation]


def agree(schema: object, domain: object) -> bool:
    if schema == domain:
        return True
    if isinstance(schema, type) and issubclass(schema, BaseModel):
        # A free-form mapping (audit details) as an open model: the fields every client may rely
        # on are typed, and whatever else the domain records passes through as it is.
        if typing.get_origin(domain) is dict and schema.model_config.get("extra") == "allow":
            return True
        return BUILT_FROM.get(schema) is domain
    if isinstance(domain, type) and issubclass(domain, enum.Enum):
        if typing.get_origin(schema) is typing.Literal:
            return set(typing.get_args(schema)) == {m.value for m in domain}
        return schema is str and issubclass(domain, str)
    schema_members, domain_members = members(schema), members(domain)
    if len(schema_members) > 1 or len(domain_members) > 1:
        return len(schema_members) == len(domain_members) and all(
            any(agree(s, d) for d in domain_members) for s in schema_members
        )
    s_origin, d_origin = typing.get_origin(schema), typing.get_origin(domain)
    if s_origin is list and d_origin in (list, tuple):
        s_args, d_args = typing.get_args(schema), typing.get_args(domain)
        return agree(s_args[0], d_args[0])
    if s_origin is dict and d_origin is dict:
        return typing.get_args(schema) == typing.get_args(domain)
    return False


@pytest.mark.parametrize("schema", list(BUILT_FROM), ids=lambda s: s.__name__)
def test_a_response_model_agrees_with_its_domain_object(schema: type[FromDomain]):
    domain = BUILT_FROM[schema]
    known = domain_types(domain)
    for name, field in schema.model_fields.items():
        assert name in known, f"{schema.__name__}.{name}: {domain.__name__} has no {name}"
        assert agree(field.annotation, known[name]), (
            f"{schema.__name__}.{name} is {field.annotation}, "
            f"{domain.__name__}.{name} is {known[name]}"
        )


def test_the_check_catches_a_drift():
    assert not agree(float, float | None)  # the stats of an uncalibrated gallery: a 500
    assert agree(float | None, float | None)
    assert not agree(typing.Literal["open", "closed"], str)


def test_audit_details_pass_through_what_they_do_not_name():
    from facesift.serve.schemas import AuditDetails

    recorded = {"search_id": 7, "leads": [[1, 3, 0.31]], "cut_at_top_k": []}
    details = AuditDetails.model_validate(recorded)
    assert details.search_id == 7
    assert details.model_dump() == recorded  # nothing added as null, nothing dropped
