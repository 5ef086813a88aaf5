"""Reads that show people are on the record (issue #12): a face thumbnail, a full photo, a kept
search and the list of subject requests each leave an audit record naming who saw what, and a
read that is refused leaves none (nothing was shown)."""

import pytest

from facesift import FaceSift, Settings
from facesift.errors import NotShown
from tests.conftest import add_source, operators


def test_every_read_of_a_face_photo_search_or_request_list_is_audited(photos, tmp_path):
    with FaceSift(Settings(data_dir=tmp_path, workers=1)) as engine:
        admin, investigator = operators(engine)
        add_source(engine, admin, "s")
        engine.ingest(admin, [photos["hopper"], photos["collins"]], "s")
        record = engine.search_with_id(investigator, photos["hopper"], purpose="p", case="c")
        lead = record.results[0].leads[0]
        before = len(engine._audit.records())

        engine.face_thumbnail(investigator, lead.face_id)
        engine.image_file(investigator, lead.image_id)
        engine.kept_search(investigator, record.search_id)
        engine.subject_requests(admin)
        other = next(f for f in engine._catalog.face_ids().tolist() if f != lead.face_id)
        with pytest.raises(NotShown):
            engine.face_thumbnail(investigator, other)  # never a lead of theirs: refused

        reads = [(r.actor, r.action, r.details) for r in engine._audit.records()[before:]]
    assert reads == [
        ("investigator", "view-face", {"face_id": lead.face_id, "size": 160, "boxed": False}),
        ("investigator", "view-image", {"image_id": lead.image_id}),
        ("investigator", "view-search", {"search_id": record.search_id}),
        ("admin", "view-requests", {"status": None, "requests": []}),
    ]
