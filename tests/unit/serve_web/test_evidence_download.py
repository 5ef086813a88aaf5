"""The web UI's evidence-pack button (issue #15) and the probe crop on the results page (#13):
the investigator who searched and any auditor download a pack that verifies on its own; nobody
else gets one, and a probe crop is shown only to those who may view its search."""

from __future__ import annotations

import io
import re
import zipfile

from facesift.govern import chain
from tests.unit.serve_web.test_search_review import search_id_of


def test_the_investigator_and_the_auditor_download_a_pack_that_verifies(site, tmp_path):
    investigator = site.signed_in("ina")
    search_id = search_id_of(site.web_search(investigator, "hopper", case="WEB-PACK"))
    page = investigator.get(f"/searches/{search_id}").text
    assert "Download the evidence pack of case WEB-PACK" in page
    probe = investigator.get(f"/searches/{search_id}/probe-faces/1")
    assert probe.status_code == 200 and probe.content[:3] == b"\xff\xd8\xff"
    assert f'src="/searches/{search_id}/probe-faces/1"' in page

    for name, origin in (("ina", f"/searches/{search_id}"), ("aud", "/audit")):
        client = investigator if name == "ina" else site.signed_in(name)
        answer = site.post_form(client, origin, "/cases/evidence-pack", {"case": "WEB-PACK"})
        assert answer.status_code == 200, answer.text
        assert answer.headers["content-type"] == "application/zip"
        assert re.match(r'attachment; filename="evidence-WEB-PACK-\d{8}T\d{6}Z\.zip"',
                        answer.headers["content-disposition"])  # fmt: skip
        folder = tmp_path / name
        zipfile.ZipFile(io.BytesIO(answer.content)).extractall(folder)
        (pack,) = folder.iterdir()
        problems, facts = chain.verify_pack(pack)
        assert problems == [] and any(answer.headers["x-pack-seal"] in f for f in facts)
        last = site.engine._audit.records()[-1]
        assert (last.actor, last.action, last.case_ref) == (name, "case-export", "WEB-PACK")


def test_others_get_no_pack_and_no_probe_crop(site):
    investigator = site.signed_in("ina")
    search_id = search_id_of(site.web_search(investigator, "hopper", case="WEB-PRIVATE"))
    before = len(site.engine._audit.records())
    for name, page in (("admin", "/gallery"), ("rev1", "/review")):
        client = site.signed_in(name)
        answer = site.post_form(client, page, "/cases/evidence-pack", {"case": "WEB-PRIVATE"})
        assert answer.status_code == 403, (name, answer.status_code)
    admin = site.signed_in("admin")
    assert admin.get(f"/searches/{search_id}/probe-faces/1").status_code == 403
    assert site.signed_in("aud").get(f"/searches/{search_id}/probe-faces/1").status_code == 403
    assert site.browser().get(f"/searches/{search_id}/probe-faces/1").status_code in (303, 401)
    # A reviewer may view the search, so sees the probe face the leads are compared with.
    assert site.signed_in("rev1").get(f"/searches/{search_id}/probe-faces/1").status_code == 200
    assert site.signed_in("rev1").get(f"/searches/{search_id}/probe-faces/9").status_code == 404
    exports = [r for r in site.engine._audit.records()[before:] if r.action == "case-export"]
    assert exports == []


def test_a_closed_case_shows_no_probe_crop(site):
    investigator = site.signed_in("ina")
    search_id = search_id_of(site.web_search(investigator, "hopper", case="WEB-CLOSED"))
    assert investigator.get(f"/searches/{search_id}/probe-faces/1").status_code == 200
    site.engine.close_case(site.engine.operator(name="ina"), "WEB-CLOSED")
    page = investigator.get(f"/searches/{search_id}").text
    assert "data-no-crop" in page and f"/searches/{search_id}/probe-faces/1" not in page
    assert investigator.get(f"/searches/{search_id}/probe-faces/1").status_code == 404
