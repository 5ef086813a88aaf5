"""Searches stay within the sources an administrator allows an operator (issue #13): a police
investigator scoped to custody photos never gets a trust-and-safety account photo as a lead,
even when the account photos are the nearest faces, and cannot reach them through duplicates."""

import pytest

from facesift import FaceSift, InputError, Settings
from facesift.errors import NotShown, OutOfScope, PermissionDenied
from tests.conftest import add_source, operators

CASE = {"purpose": "robbery inquiry", "case": "CR-1"}


@pytest.fixture()
def gallery(photos, tmp_path):
    with FaceSift(Settings(data_dir=tmp_path / "data", workers=1)) as engine:
        admin, investigator = operators(engine)
        add_source(engine, admin, "custody")
        add_source(engine, admin, "accounts", basis="contract")
        # The account photos are Hopper's portrait itself and its mirror image: nearer to a
        # Hopper probe than the custody group photo, which holds her too.
        engine.ingest(admin, [photos["hopper"]], "accounts")
        engine.ingest(admin, [photos["group"], photos["collins"]], "custody")
        yield engine, admin, investigator


def test_a_scoped_search_returns_only_its_sources_even_past_nearer_faces(gallery, photos):
    engine, admin, investigator = gallery
    everywhere = engine.search_with_id(investigator, photos["hopper"], top_k=1, **CASE)
    assert everywhere.results[0].leads[0].source == "accounts"  # the nearest face overall
    engine.scope_operator(admin, "investigator", ["custody"])
    scoped_actor = engine.operator(name="investigator")
    assert scoped_actor.sources == frozenset({"custody"})
    record = engine.search_with_id(scoped_actor, photos["hopper"], top_k=1, **CASE)
    leads = record.results[0].leads
    assert leads and {lead.source for lead in leads} == {"custody"}
    assert record.odds is not None
    assert record.odds.compared_with == engine._catalog.source_counts()["custody"][1]
    audited = engine._audit.records(action="search")[-1].details
    assert audited["sources"] == ["custody"] and audited["compared_with"] == 3
    # Widened again by an administrator, and every change is on the record.
    engine.scope_operator(admin, "investigator", None)
    assert engine.operator(name="investigator").sources is None
    changes = [r.details for r in engine._audit.records(action="user-scope")]
    assert changes == [
        {"operator": "investigator", "sources": ["custody"]},
        {"operator": "investigator", "sources": None},
    ]


def test_scopes_are_set_by_administrators_over_declared_sources_only(gallery):
    engine, admin, investigator = gallery
    with pytest.raises(PermissionDenied):
        engine.scope_operator(investigator, "investigator", None)  # widening one's own scope
    with pytest.raises(InputError, match="no source named 'nowhere'"):
        engine.scope_operator(admin, "investigator", ["custody", "nowhere"])
    assert engine.operator(name="investigator").sources is None


def test_duplicates_refuse_a_source_outside_the_scope(gallery):
    engine, admin, _ = gallery
    engine.scope_operator(admin, "investigator", ["custody"])
    scoped = engine.operator(name="investigator")
    with pytest.raises(OutOfScope, match="'accounts'"):
        engine.duplicates(scoped, "accounts")
    with pytest.raises(OutOfScope, match="'accounts'"):
        engine.duplicates(scoped, "custody", against="accounts")
    assert engine.duplicates(scoped, "custody") is not None


def test_an_empty_scope_searches_nothing(gallery, photos):
    engine, admin, _ = gallery
    engine.scope_operator(admin, "investigator", [])
    record = engine.search_with_id(engine.operator(name="investigator"), photos["hopper"], **CASE)
    assert all(not r.leads for r in record.results) and record.odds is None


def test_the_people_page_rule_keeps_to_the_scope_too(gallery):
    """Faces grouped into people may be viewed by identity roles, but not those of sources
    outside an operator's scope: the scope that keeps them out of leads keeps them out of view."""
    engine, admin, investigator = gallery
    engine.cluster(investigator)
    accounts_face = next(
        f.face_id
        for f in engine._catalog.stored_faces(engine._catalog.face_ids().tolist()).values()
        if f.source == "accounts"
    )
    assert engine.face_thumbnail(investigator, accounts_face)  # unscoped: grouped faces show
    engine.scope_operator(admin, "investigator", ["custody"])
    with pytest.raises(NotShown):
        engine.face_thumbnail(engine.operator(name="investigator"), accounts_face)


def test_an_identity_lists_only_the_faces_within_the_scope(gallery):
    engine, admin, investigator = gallery
    engine.cluster(investigator)
    hopper = next(s for s in engine.identities(investigator) if s.faces >= 2)
    every = engine.identity_faces(investigator, hopper.id)
    engine.scope_operator(admin, "investigator", ["custody"])
    scoped = engine.identity_faces(engine.operator(name="investigator"), hopper.id)
    stored = engine._catalog.stored_faces(every)
    assert scoped == [f for f in every if stored[f].source == "custody"] and len(scoped) < len(
        every
    )


def test_a_scoped_operator_cannot_move_a_face_they_may_not_see(gallery):
    engine, admin, investigator = gallery
    stored = engine._catalog.stored_faces(engine._catalog.face_ids().tolist())
    accounts_face = next(f for f, s in stored.items() if s.source == "accounts")
    engine.scope_operator(admin, "investigator", ["custody"])
    with pytest.raises(OutOfScope, match=f"face {accounts_face}"):
        engine.move_faces(engine.operator(name="investigator"), [accounts_face], None)
