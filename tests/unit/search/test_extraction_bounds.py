"""No role can extract the gallery through search (issue #12): a threshold outside the calibrated
operating range is refused, lead lists are bounded, distances and rates come at the precision a
person needs. Each test tries the attack, then checks the honest request still works."""

import pytest

from facesift import FaceSift, Settings
from facesift.errors import InputError
from facesift.search.policy import MAX_LEADS_PER_FACE
from tests.conftest import add_source, operators

CASE = {"purpose": "testing the bounds", "case": "T-9"}


@pytest.fixture(scope="module")
def gallery(photos, tmp_path_factory):
    with FaceSift(Settings(data_dir=tmp_path_factory.mktemp("bounds"), workers=1)) as engine:
        admin, investigator = operators(engine)
        add_source(engine, admin, "s")
        engine.ingest(admin, [photos["collins"], photos["hopper"], photos["group"]], "s")
        yield engine, investigator


def test_a_search_at_a_false_match_rate_of_40_percent_is_refused(gallery, photos):
    engine, investigator = gallery
    wide = engine.calibration.threshold_for(0.4)
    with pytest.raises(InputError, match="allows at most 0.01"):
        engine.search(investigator, photos["collins"], threshold=wide, **CASE)
    with pytest.raises(InputError, match="allows at most 0.01"):
        engine.verify(investigator, photos["collins"], photos["hopper"], threshold=wide, **CASE)
    # Inside the range it is the investigator's choice.
    inside = engine.calibration.threshold_for(0.005)
    results = engine.search(investigator, photos["collins"], threshold=inside, **CASE)
    assert results[0].leads


def test_lead_lists_are_bounded(gallery, photos):
    engine, investigator = gallery
    with pytest.raises(InputError, match=f"from 1 to {MAX_LEADS_PER_FACE} leads"):
        engine.search(investigator, photos["collins"], top_k=MAX_LEADS_PER_FACE + 1, **CASE)
    with pytest.raises(InputError, match="leads per face"):
        engine.search(investigator, photos["collins"], top_k=0, **CASE)


def test_distances_and_rates_are_reported_at_a_persons_precision(gallery, photos):
    engine, investigator = gallery
    leads = [
        lead for face in engine.search(investigator, photos["group"], **CASE) for lead in face.leads
    ]
    assert leads
    for lead in leads:
        assert lead.distance == round(lead.distance, 3)
        assert lead.false_match_rate == float(f"{lead.false_match_rate:.2g}")
    verified = engine.verify(investigator, photos["collins"], photos["collins_mirrored"], **CASE)
    assert verified.distance == round(verified.distance, 3)
    assert verified.same_person
