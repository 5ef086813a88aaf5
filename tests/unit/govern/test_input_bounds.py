"""Careless input to governance (issue #12): places that do not exist, retention without end,
free text that is really bulk data. Each is refused with the field named, and nothing is kept."""

import pytest

from facesift import FaceSift, Settings
from facesift.errors import InputError, SourceError
from tests.conftest import add_source, operators


@pytest.fixture
def engine(tmp_path):
    with FaceSift(Settings(data_dir=tmp_path, workers=1)) as opened:
        yield opened


@pytest.mark.parametrize(
    ("jurisdiction", "says"),
    [
        ("XX", "not an assigned ISO 3166-1"),
        ("UK", "the United Kingdom is GB"),
        ("G1", "not an assigned ISO 3166-1"),
        ("GBR", "not an assigned ISO 3166-1"),
        ("", "not an assigned ISO 3166-1"),
    ],
)
def test_a_jurisdiction_must_be_an_assigned_country_code(engine, jurisdiction, says):
    admin, _ = operators(engine)
    with pytest.raises(SourceError, match=says):
        add_source(engine, admin, "s", jurisdiction=jurisdiction)
    assert engine.sources() == []


def test_lower_case_and_spaces_are_normalised(engine):
    admin, _ = operators(engine)
    assert add_source(engine, admin, "s", jurisdiction=" fr ").jurisdiction == "FR"


def test_retention_is_bounded_by_the_deployment(engine, tmp_path):
    admin, _ = operators(engine)
    with pytest.raises(SourceError, match="over this deployment's limit of 3653"):
        add_source(engine, admin, "forever", retention_days=10**6)
    with pytest.raises(SourceError, match="at least 1 day"):
        add_source(engine, admin, "never", retention_days=0)
    assert add_source(engine, admin, "ten-years", retention_days=3653).retention_days == 3653
    engine.close()
    # An operator whose law needs longer raises the limit deliberately.
    settings = Settings(data_dir=tmp_path, workers=1, max_retention_days=36_500)
    with FaceSift(settings) as longer:
        admin = longer.operator(name="admin")
        assert add_source(longer, admin, "census", retention_days=36_500).retention_days == 36_500


@pytest.mark.parametrize(
    ("field", "limit"), [("purpose", 500), ("controller", 200), ("description", 2000)]
)
def test_source_text_is_bounded(engine, field, limit):
    admin, _ = operators(engine)
    terms = {"purpose": "testing", "controller": "dpo@example.org", "description": ""}

    def declare(text: str):
        return engine.add_source(
            admin, "s", "legitimate-interest", "GB", 30, **{**terms, field: text}
        )

    with pytest.raises(SourceError, match=f"{field} is {limit + 1} characters"):
        declare("x" * (limit + 1))
    assert declare("x" * limit).name == "s"


def test_search_purpose_and_case_are_bounded(engine, photos):
    admin, investigator = operators(engine)
    add_source(engine, admin, "s")
    engine.ingest(admin, [photos["hopper"]], "s")
    for purpose, case, field in [("p" * 501, "C-1", "purpose"), ("lawful", "c" * 201, "case")]:
        with pytest.raises(InputError, match=f"{field}: .* characters, over the"):
            engine.search(investigator, photos["hopper"], purpose=purpose, case=case)
    searches = engine._audit.records(action="search")
    assert searches == []  # a refused search is not run, so it leaves no search record
