"""Human work on identities is never destroyed or polluted (issue #13): merging an identity into
itself, merging two differently named people, a split that empties a named identity or mixes
two named people, and re-clustering next to a named identity are each tried here."""

import pytest

from facesift import FaceSift, InputError, Settings
from tests.conftest import add_source, operators


@pytest.fixture()
def gallery(photos, tmp_path):
    with FaceSift(Settings(data_dir=tmp_path / "data", workers=1)) as engine:
        admin, investigator = operators(engine)
        add_source(engine, admin, "archive")
        engine.ingest(
            admin,
            [photos["collins"], photos["collins_mirrored"], photos["hopper"], photos["group"]],
            "archive",
        )
        face_ids = sorted(int(f) for f in engine._catalog.face_ids())
        yield engine, investigator, face_ids


def faces_by_photo(engine, face_ids):
    stored = engine._catalog.stored_faces(face_ids)
    return {f: stored[f].image_path.rsplit("/", 1)[-1] for f in face_ids}


def named_identity(engine, actor, faces, name):
    identity = engine.move_faces(actor, faces, None)
    engine.name_identity(actor, identity, name)
    return identity


def test_an_identity_merged_into_itself_is_refused_and_kept(gallery):
    engine, investigator, face_ids = gallery
    collins = named_identity(engine, investigator, face_ids[:2], "Eileen Collins")
    with pytest.raises(InputError, match="cannot be merged into itself"):
        engine.merge_identities(investigator, collins, collins)
    assert engine.identity_faces(investigator, collins) == face_ids[:2]
    assert {s.id: s.name for s in engine.identities(investigator)}[collins] == "Eileen Collins"


def test_two_differently_named_people_are_not_merged(gallery):
    engine, investigator, face_ids = gallery
    a = named_identity(engine, investigator, face_ids[:1], "Eileen Collins")
    b = named_identity(engine, investigator, face_ids[1:2], "Grace Hopper")
    with pytest.raises(InputError, match="named as different people"):
        engine.merge_identities(investigator, a, b)
    names = {s.id: s.name for s in engine.identities(investigator)}
    assert names[a] == "Eileen Collins" and names[b] == "Grace Hopper"
    # The same name twice (two halves of one person) may be merged.
    c = named_identity(engine, investigator, face_ids[2:3], "Eileen Collins")
    engine.merge_identities(investigator, a, c)
    assert engine.identity_faces(investigator, a) == [face_ids[0], face_ids[2]]


def test_a_split_never_empties_a_named_identity_or_mixes_two_named_people(gallery):
    engine, investigator, face_ids = gallery
    a = named_identity(engine, investigator, face_ids[:2], "Eileen Collins")
    b = named_identity(engine, investigator, face_ids[2:4], "Grace Hopper")
    with pytest.raises(InputError, match="would empty identity"):
        engine.move_faces(investigator, face_ids[:2], None)
    with pytest.raises(InputError, match="would empty identity"):
        engine.move_faces(investigator, face_ids[:2], b)
    with pytest.raises(InputError, match="named as different people"):
        engine.move_faces(investigator, [face_ids[0], face_ids[2]], None)
    assert engine.identity_faces(investigator, a) == face_ids[:2]
    assert engine.identity_faces(investigator, b) == face_ids[2:4]
    # One face out of one named identity is a split a person may make.
    split = engine.move_faces(investigator, [face_ids[0]], None)
    assert engine.identity_faces(investigator, split) == [face_ids[0]]
    assert engine.identity_faces(investigator, a) == [face_ids[1]]


def test_reclustering_never_adds_to_or_takes_from_a_named_identity(gallery):
    engine, investigator, face_ids = gallery
    engine.cluster(investigator)
    photo_of = faces_by_photo(engine, face_ids)
    collins_faces = [f for f in face_ids if photo_of[f].startswith("collins")]
    assert len(collins_faces) == 2  # the portrait and its mirror image
    # A person names one Collins photo only: the other is left out on purpose.
    named = named_identity(engine, investigator, collins_faces[:1], "Eileen Collins")
    for rebuild in (False, True):
        engine.cluster(investigator, rebuild=rebuild)
        assert engine.identity_faces(investigator, named) == collins_faces[:1], rebuild
    # The mirrored photo, as close to her as a face can be, is grouped apart, not under her name.
    others = [s for s in engine.identities(investigator) if collins_faces[1] in s.face_ids]
    assert others and all(s.id != named and s.name is None for s in others)
