"""The People page (issue #13): identities as capped face grids, and naming, splitting, moving
and merging by clicking faces. A gallery of its own: grouping makes faces visible to the
identity-view roles, which the shared site's tests must not see."""

from __future__ import annotations

import re

import pytest
from fastapi.testclient import TestClient

from tests.unit.serve_web.conftest import make_site


@pytest.fixture(scope="module")
def grouped(tmp_path_factory, photos):
    site = make_site(tmp_path_factory.mktemp("people"), photos)
    with TestClient(site.app):
        ina = site.signed_in("ina")
        answer = site.post_form(ina, "/people", "/people/group")
        assert answer.status_code == 303 and answer.headers["location"] == "/people"
        yield site


def identities(text: str) -> list[int]:
    return [int(i) for i in re.findall(r'data-identity="(\d+)"', text)]


def views(site, since: int) -> list[dict]:
    auditor = site.engine.operator(name="aud")
    return [r for r in site.engine.audit_records(auditor)[since:] if r.action == "view-face"]


def test_people_show_capped_face_grids_and_each_face_shown_is_audited(grouped):
    site, reviewer = grouped, grouped.signed_in("rev1")
    text = reviewer.get("/people").text
    people = identities(text)
    assert people, "grouping made no people"
    assert "first 12 faces" in text
    faces = re.findall(r'src="/faces/(\d+)/thumbnail\?size=80"', text)
    assert faces and len(faces) <= 12 * len(people)
    before = len(site.engine.audit_records(site.engine.operator(name="aud")))
    thumbnail = reviewer.get(f"/faces/{faces[0]}/thumbnail?size=80")
    assert thumbnail.status_code == 200 and thumbnail.content[:2] == b"\xff\xd8"
    seen = views(site, before)
    assert [(r.actor, r.details["face_id"]) for r in seen] == [("rev1", int(faces[0]))]


def test_a_person_is_named_split_moved_and_merged_by_clicking_faces(grouped):
    site, ina = grouped, grouped.signed_in("ina")
    biggest = identities(ina.get("/people").text)[0]
    page = f"/people/{biggest}"
    faces = [int(f) for f in re.findall(r'name="face_ids" value="(\d+)"', ina.get(page).text)]
    assert len(faces) >= 2

    named = site.post_form(ina, page, f"{page}/name", {"name": "Grace Hopper"})
    assert named.status_code == 303
    assert "Grace Hopper" in ina.get("/people").text

    split = site.post_form(ina, page, f"{page}/move", {"face_ids": faces[:1], "action": "split"})
    assert split.status_code == 303
    new = int(split.headers["location"].rsplit("/", 1)[1])
    assert new != biggest and f'value="{faces[0]}"' in ina.get(f"/people/{new}").text

    back = site.post_form(
        ina, f"/people/{new}", f"/people/{new}/move", {"face_ids": faces[:1], "to": str(biggest)}
    )
    assert back.status_code == 303 and back.headers["location"] == page
    assert f'value="{faces[0]}"' in ina.get(page).text

    site.post_form(ina, page, f"{page}/move", {"face_ids": faces[:1], "action": "split"})
    other = identities(ina.get("/people").text)
    other = next(
        i for i in other if i != biggest and f'value="{faces[0]}"' in ina.get(f"/people/{i}").text
    )
    merged = site.post_form(ina, page, f"{page}/merge", {"other": str(other)})
    assert merged.status_code == 303
    assert other not in identities(ina.get("/people").text)
    edits = [
        r.details["edit"]
        for r in site.engine.audit_records(site.engine.operator(name="aud"))
        if r.action == "identity-edit"
    ]
    assert edits == ["name", "move", "move", "move", "merge"]


def test_moving_nothing_is_a_clear_error(grouped):
    site, ina = grouped, grouped.signed_in("ina")
    first = identities(ina.get("/people").text)[0]
    answer = site.post_form(ina, f"/people/{first}", f"/people/{first}/move", {"to": "1"})
    assert answer.status_code == 422 and "click the faces" in answer.text


def test_roles_without_identity_view_see_no_people_and_no_faces(grouped):
    site = grouped
    face = re.findall(r"/faces/(\d+)/thumbnail", site.signed_in("rev1").get("/people").text)[0]
    for name in ("aud",):
        client = site.signed_in(name)
        before = len(site.engine.audit_records(site.engine.operator(name="aud")))
        assert client.get("/people").status_code == 403
        assert client.get(f"/faces/{face}/thumbnail").status_code == 403
        assert views(site, before) == []


def test_ungrouped_faces_stay_hidden_from_investigators(tmp_path_factory, photos):
    """Before grouping, the People page is empty and a face id shows nothing."""
    site = make_site(tmp_path_factory.mktemp("ungrouped"), photos)
    with TestClient(site.app):
        ina = site.signed_in("ina")
        text = ina.get("/people").text
        assert "No people yet" in text and "Group the gallery" in text
        face = int(site.engine._catalog.face_ids()[0])
        assert ina.get(f"/faces/{face}/thumbnail").status_code == 403
