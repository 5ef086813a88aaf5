"""Each response model read from a domain object (serve/schemas.py BUILT_FROM) agrees with it
field for field: same names (or the attribute a validation alias names), same types (a Literal
lists exactly an enum's values), so a domain change that the API would answer with a 500 fails
here instead. Only the fields a model names in BESIDE (given beside the object: a rank, a count;
or derived from it: a URL) are not the domain's. The stats of a gallery without
calibration (match_threshold None) once did."""

import enum
import types
import typing
from dataclasses import fields, is_dataclass
from datetime import UTC, datetime

import pytest
from pydantic import AliasPath, BaseModel, ValidationError
from pydantic.fields import FieldInfo

pytest.importorskip("fastapi", reason="the API tests need the 'serve' extra")

from facesift.serve.schemas import BUILT_FROM, FromDomain, LeadOut, ProbeFaceOut  # noqa: E402
from facesift.types import BoundingBox, Lead, ProbeFaceResult  # noqa: E402


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


def attribute_path(name: str, field: FieldInfo) -> list[str]:
    """The attributes a field reads, in turn: its name, or its validation alias."""
    alias = field.validation_alias
    if alias is None:
        return [name]
    if isinstance(alias, str):
        return [alias]
    assert isinstance(alias, AliasPath), f"{name}: a {type(alias).__name__} is not checked here"
    assert all(isinstance(step, str) for step in alias.path), f"{name}: {alias.path}"
    return [str(step) for step in alias.path]


@pytest.mark.parametrize("schema", list(BUILT_FROM), ids=lambda s: s.__name__)
def test_a_response_model_agrees_with_its_domain_object(schema: type[FromDomain]):
    domain = BUILT_FROM[schema]
    for name, field in schema.model_fields.items():
        if name in schema.BESIDE:
            continue  # not the domain object's: given beside it, or derived from it
        owner: object = domain
        for step in attribute_path(name, field):
            known = domain_types(owner)  # type: ignore[arg-type]
            where = f"{getattr(owner, '__name__', owner)}.{step}"
            assert step in known, f"{schema.__name__}.{name}: there is no {where}"
            owner = known[step]
        assert agree(field.annotation, owner), (
            f"{schema.__name__}.{name} is {field.annotation}, {where} is {owner}"
        )


@pytest.mark.parametrize("schema", list(BUILT_FROM), ids=lambda s: s.__name__)
def test_what_is_given_beside_a_domain_object_is_a_field(schema: type[FromDomain]):
    assert set(schema.BESIDE) <= set(schema.model_fields), schema.__name__


def test_a_field_given_beside_is_required_where_it_has_no_default():
    lead = Lead(
        face_id=7,
        distance=0.4123,  # rounded by the search (search/policy.py), never here
        false_match_rate=1.23e-5,
        image_id=3,
        image_path="gallery/a.jpg",
        image_sha256="ab" * 32,
        box=BoundingBox(1, 2, 30, 40),
        source="s",
        lawful_basis="legitimate-interest",
        jurisdiction="GB",
        ingested_at=datetime(2024, 5, 1, tzinfo=UTC),
    )
    with pytest.raises(ValidationError, match="rank"):
        LeadOut.model_validate(lead)
    shown = LeadOut.model_validate(lead, context={"rank": 2}).model_dump(mode="json")
    assert shown["rank"] == 2
    assert shown["thumbnail_url"] == "/api/v1/faces/7/thumbnail"
    assert shown["image_url"] == "/api/v1/images/3"
    assert shown["distance"] == 0.4123 and shown["false_match_rate"] == 1.23e-5
    assert shown["box"] == {"left": 1, "top": 2, "right": 30, "bottom": 40}
    assert set(shown) == set(LeadOut.model_fields)


def test_a_probe_face_ranks_its_leads_in_order():
    leads = tuple(
        Lead(
            i,
            0.1 * i,
            1e-6,
            i,
            "p",
            "s",
            BoundingBox(0, 0, 1, 1),
            "s",
            "b",
            "GB",
            datetime.now(UTC),
        )
        for i in (5, 9, 4)
    )
    out = ProbeFaceOut.model_validate(ProbeFaceResult(1, BoundingBox(0, 0, 9, 9), leads))
    assert [(lead.rank, lead.face_id) for lead in out.leads] == [(1, 5), (2, 9), (3, 4)]


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


def test_a_response_read_by_alias_validates_back_from_its_own_json():
    from facesift.catalog.casework import StoredSearch
    from facesift.serve.schemas import KeptSearchOut

    found = StoredSearch(7, "ana", "missing person", "case-1", datetime.now(UTC), "ab", ())
    out = KeptSearchOut.model_validate(found, context={"leads": []})
    assert (out.search_id, out.case) == (7, "case-1")  # read from StoredSearch.id, .case_ref
    assert KeptSearchOut.model_validate(out.model_dump(mode="json")) == out
