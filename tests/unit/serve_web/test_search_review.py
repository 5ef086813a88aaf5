"""Search through the web UI (picking a face, refusing bad input), its leads, and their review by
two different reviewers."""

from __future__ import annotations

import re

from tests.unit.serve_web.conftest import csrf_of


def search_id_of(answer) -> int:
    assert answer.status_code == 303, answer.text
    return int(re.fullmatch(r"/searches/(\d+)", answer.headers["location"]).group(1))


def test_probe_faces_are_returned_for_picking(site):
    client = site.signed_in("ina")
    token = csrf_of(client.get("/search").text)
    answer = client.post(
        "/search/faces",
        data={"csrf_token": token},
        files=site.upload("group", "probe"),
        headers={"Accept": "application/json"},
    )
    assert answer.status_code == 200
    found = answer.json()
    numbers = [f["number"] for f in found["faces"]]
    assert len(numbers) >= 2 and numbers == list(range(1, len(numbers) + 1))
    for face in found["faces"]:
        left, top, right, bottom = face["box"]
        assert 0 <= left < right <= found["width"] and 0 <= top < bottom <= found["height"]


def test_a_photo_with_several_faces_asks_which_one(site):
    client = site.signed_in("ina")
    answer = site.web_search(client, "group")
    assert answer.status_code == 422
    assert re.search(r"\d faces are in this photo: click the one to search for", answer.text)
    assert 'value="testing the web UI"' in answer.text  # what was typed is kept


def test_search_shows_leads_with_provenance_and_the_notice(site):
    client = site.signed_in("ina")
    search_id = search_id_of(site.web_search(client, "hopper"))
    page = client.get(f"/searches/{search_id}")
    assert page.status_code == 200
    assert "investigative leads, not identifications" in page.text
    assert "WEB-1" in page.text and "testing the web UI" in page.text
    leads = re.findall(r'data-face-id="(\d+)"', page.text)
    assert len(leads) == 2  # Hopper's portrait and Hopper in the group photo
    assert "source <b>press</b> (legitimate-interest, GB)" in page.text
    # One plain format for rates: "1 in N", or "fewer than 1 in N" below what was measured.
    assert re.search(r"false-match rate (fewer than )?1 in [\d,]+( million)?", page.text)
    assert "hopper.jpg" in page.text
    # What to expect in this gallery: its size, and the false leads a stranger would get.
    assert re.search(r"Compared with \d+ gallery faces", page.text)
    assert "chance that at least one lead is a stranger" in page.text
    assert "strangers this close expected here" in page.text
    thumbnail = client.get(f"/faces/{leads[0]}/thumbnail?size=160&boxed=true")
    assert thumbnail.status_code == 200 and thumbnail.content[:2] == b"\xff\xd8"
    image_id = re.search(r'href="/images/(\d+)"', page.text).group(1)
    full = client.get(f"/images/{image_id}")
    assert full.status_code == 200 and full.headers["content-type"].startswith("image/")
    record = site.engine._audit.records(action="search")[-1]
    assert record.actor == "ina" and record.case_ref == "WEB-1"
    assert record.details["search_id"] == search_id


def test_chosen_face_of_a_group_photo_is_searched(site):
    client = site.signed_in("ina")
    search_id = search_id_of(site.web_search(client, "group", face="2"))
    record = site.engine._audit.records(action="search")[-1]
    assert record.details["search_id"] == search_id
    assert {number for number, _, _ in record.details["leads"]} <= {2}


def test_bad_inputs_get_clear_messages_and_search_nothing(site, tmp_path):
    client = site.signed_in("ina")
    searches_before = len(site.engine._audit.records(action="search"))
    not_image = {"probe": ("notes.jpg", b"this is not a photo", "image/jpeg")}
    answer = site.post_form(
        client, "/search", "/search", {"purpose": "p", "case": "c"}, files=not_image
    )
    assert answer.status_code == 422 and "not an image" in answer.text
    answer = site.web_search(client, "blank")
    assert answer.status_code == 422 and "no face found" in answer.text
    answer = site.web_search(client, "hopper", case="  ")
    assert answer.status_code == 422 and "purpose and case are both required" in answer.text
    answer = site.post_form(client, "/search", "/search", {"purpose": "p", "case": "c"})
    assert answer.status_code == 422 and "choose or drop a photo" in answer.text
    answer = site.web_search(client, "group", face="7")
    assert answer.status_code == 422
    for text in (answer.text,):
        assert "Traceback" not in text
    assert len(site.engine._audit.records(action="search")) == searches_before


def test_a_lead_is_confirmed_only_by_two_different_reviewers(site):
    investigator = site.signed_in("ina")
    search_id = search_id_of(site.web_search(investigator, "hopper"))
    page = investigator.get(f"/searches/{search_id}").text
    face_id = int(re.findall(r'data-face-id="(\d+)"', page)[0])
    assert "Confirm</button>" not in page  # the investigator cannot review their own search
    action = f"/searches/{search_id}/leads/{face_id}/review"
    refused = site.post_form(
        investigator, f"/searches/{search_id}", action, {"decision": "confirm"}
    )
    assert refused.status_code == 403

    first, second = site.signed_in("rev1"), site.signed_in("rev2")
    queue = first.get("/review").text
    assert f'href="/searches/{search_id}"' in queue
    assert "Confirm</button>" in first.get(f"/searches/{search_id}").text
    done = site.post_form(first, f"/searches/{search_id}", action, {"decision": "confirm"})
    assert done.status_code == 303
    assert statuses(site, search_id)[face_id] == "pending"
    again = site.post_form(first, f"/searches/{search_id}", action, {"decision": "confirm"})
    assert again.status_code == 409 and "already reviewed" in again.text
    assert statuses(site, search_id)[face_id] == "pending"
    site.post_form(second, f"/searches/{search_id}", action, {"decision": "confirm", "note": "ok"})
    assert statuses(site, search_id)[face_id] == "confirmed"
    lead = lead_html(investigator.get(f"/searches/{search_id}").text, face_id)
    assert "confirmed</span>" in lead and "confirmed by rev1, rev2" in lead

    reviews = [
        r
        for r in site.engine._audit.records(action="review")
        if r.details["search_id"] == search_id
    ]
    assert [(r.actor, r.details["decision"]) for r in reviews] == [
        ("rev1", "confirm"),
        ("rev2", "confirm"),
    ]


def test_a_rejection_is_recorded_and_shown(site):
    investigator, reviewer = site.signed_in("ina"), site.signed_in("rev1")
    search_id = search_id_of(site.web_search(investigator, "hopper"))
    face_id = int(
        re.findall(r'data-face-id="(\d+)"', reviewer.get(f"/searches/{search_id}").text)[0]
    )
    site.post_form(
        reviewer,
        f"/searches/{search_id}",
        f"/searches/{search_id}/leads/{face_id}/review",
        {"decision": "reject", "note": "different person"},
    )
    assert statuses(site, search_id)[face_id] == "rejected"
    lead = lead_html(investigator.get(f"/searches/{search_id}").text, face_id)
    assert "rejected by rev1" in lead
    record = site.engine._audit.records(action="review")[-1]
    assert record.details["decision"] == "reject" and record.details["note"] == "different person"


def test_investigators_see_only_their_own_searches_and_leads(site):
    mine = search_id_of(site.web_search(site.signed_in("ina"), "hopper"))
    admin = site.engine.operator(name="admin")
    site.keys["ina2"] = site.engine.add_operator(admin, "ina2", "investigator")
    other = site.signed_in("ina2")
    answer = other.get(f"/searches/{mine}")
    assert answer.status_code == 403 and "may not review" in answer.text
    face_id = site.engine.lead_reviews(site.engine.operator(name="rev1"), mine)[0].face_id
    assert other.get(f"/faces/{face_id}/thumbnail").status_code == 403
    assert f'href="/searches/{mine}"' in site.signed_in("ina").get("/search").text
    assert "Your recent searches" not in other.get("/search").text


def statuses(site, search_id) -> dict[int, str]:
    reviewer = site.engine.operator(name="rev1")
    return {s.face_id: s.status for s in site.engine.lead_reviews(reviewer, search_id)}


def lead_html(page: str, face_id: int) -> str:
    return page.split(f'data-face-id="{face_id}"')[1].split("</li>")[0]
