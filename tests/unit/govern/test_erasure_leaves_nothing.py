"""Erased means no copy left in any file of the data directory (issue #12): after a subject's
erasure, every file under the data directory (catalog, its WAL and shared-memory files, index,
tags, caches) is scanned for the erased faces' embeddings and the erased photo's file name."""

from pathlib import Path

import numpy as np
import pytest

from facesift import FaceSift, Settings
from tests.conftest import add_source, operators

# A file name that says who is in the photo, as custody and archive files often do.
NAME = "grace-hopper-custody-1987-0042.jpg"


def files_holding(data_dir: Path, needle: bytes) -> list[str]:
    return sorted(
        str(path.relative_to(data_dir))
        for path in data_dir.rglob("*")
        if path.is_file() and needle in path.read_bytes()
    )


def test_after_erasure_no_file_of_the_data_directory_holds_the_person(photos, tmp_path):
    data = tmp_path / "data"
    folder = tmp_path / "photos"
    folder.mkdir()
    (folder / NAME).write_bytes(photos["hopper"].read_bytes())
    (folder / "collins.png").write_bytes(photos["collins"].read_bytes())
    with FaceSift(Settings(data_dir=data, workers=1)) as engine:
        admin, investigator = operators(engine)
        add_source(engine, admin, "s")
        engine.ingest(admin, [folder], "s")
        engine.search_with_id(investigator, photos["hopper"], purpose="p", case="c")
        report = engine.subject_access(admin, photos["hopper"])
        erased_ids = [face.face_id for face in report.faces]
        assert erased_ids
        vectors = engine._catalog.embeddings(np.asarray(erased_ids, dtype=np.int64))
        kept_id = next(int(i) for i in engine._catalog.face_ids() if i not in erased_ids)
        kept = engine._catalog.embeddings(np.asarray([kept_id], dtype=np.int64))
        needles = {
            f"embedding of face {i}": v.astype("<f4").tobytes()
            for i, v in zip(erased_ids, vectors, strict=True)
        }
        needles["file name"] = NAME.encode()
        before = {what: files_holding(data, needle) for what, needle in needles.items()}
        assert all(before.values()), before  # the scan finds them while they are held

        engine.subject_erase(admin, report, [face.face_id for face in report.faces])

        left = {what: files_holding(data, needle) for what, needle in needles.items()}
        assert left == {what: [] for what in needles}, left
        # The scan is not blind: what was not erased is still found.
        assert files_holding(data, kept[0].astype("<f4").tobytes())


def test_an_access_report_that_showed_erased_faces_is_withdrawn(photos, tmp_path):
    # A person first asks what is held (the report embeds their face), then asks for erasure:
    # the stored report must not outlive the faces it shows.
    data = tmp_path / "data"
    with FaceSift(Settings(data_dir=data, workers=1)) as engine:
        admin, _ = operators(engine)
        add_source(engine, admin, "s")
        engine.ingest(admin, [photos["hopper"], photos["group"], photos["collins"]], "s")
        selfie = photos["hopper"].read_bytes()
        access = engine.open_subject_request(selfie, "access", "grace@example.org")
        candidates = engine.subject_request_candidates(admin, access.id).faces
        engine.fulfil_subject_request(
            admin,
            access.id,
            face_ids=[f.face_id for f in candidates],
            identity_check="ID seen on a call",
        )
        report = engine.subject_request(admin, access.id).report_html
        assert report and "data:image/jpeg;base64," in report
        crop = report.split("data:image/jpeg;base64,")[1][:120].encode()
        assert files_holding(data, crop)  # the stored report holds her face

        erasure = engine.open_subject_request(selfie, "erasure", "grace@example.org")
        chosen = [f.face_id for f in engine.subject_request_candidates(admin, erasure.id).faces]
        engine.fulfil_subject_request(
            admin, erasure.id, face_ids=chosen, identity_check="ID seen on a call"
        )

        assert engine.subject_request(admin, access.id).report_html is None
        assert files_holding(data, crop) == []
        assert engine.subject_request(admin, erasure.id).report_html  # the receipt stays


def test_nothing_is_disclosed_before_the_requesters_identity_is_checked(photos, tmp_path):
    """The portal is no oracle (issue #12): a request is fulfilled only once an administrator
    records how they checked that the requester is the person; without it, the request stays
    open, no report exists, and the status says nothing about what is held."""
    from facesift.errors import InputError

    with FaceSift(Settings(data_dir=tmp_path, workers=1)) as engine:
        admin, _ = operators(engine)
        add_source(engine, admin, "s")
        engine.ingest(admin, [photos["hopper"], photos["collins"]], "s")
        opened = engine.open_subject_request(photos["hopper"].read_bytes(), "access", "g@x.org")
        candidates = engine.subject_request_candidates(admin, opened.id).faces
        for check in (None, "", "   "):
            with pytest.raises(InputError, match="identity_check"):
                engine.fulfil_subject_request(
                    admin, opened.id, face_ids=[c.face_id for c in candidates], identity_check=check
                )
        status = engine.subject_request_by_reference(opened.reference)
        assert status.status == "open" and status.report_html is None
        done = engine.fulfil_subject_request(
            admin, opened.id, face_ids=[candidates[0].face_id], identity_check="ID seen in person"
        )
        assert done.identity_check == "ID seen in person"
        record = engine._audit.records(action="subject-request")[-1]
        assert record.details["identity_check"] == "ID seen in person"
