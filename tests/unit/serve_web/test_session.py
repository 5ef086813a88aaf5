"""Signing in and out, the session cookie's protections, and CSRF refusal on every form."""

from __future__ import annotations

import pytest

from tests.unit.serve_web.conftest import csrf_of


def test_sign_in_sets_a_protected_cookie_without_the_key(site):
    client = site.browser()
    token = csrf_of(client.get("/login").text)
    answer = client.post("/login", data={"api_key": site.keys["ina"], "csrf_token": token})
    assert answer.status_code == 303 and answer.headers["location"] == "/search"
    cookie = answer.headers["set-cookie"]
    assert "HttpOnly" in cookie and "SameSite=lax" in cookie
    assert site.keys["ina"] not in cookie
    page = client.get("/search")
    assert page.status_code == 200 and "ina" in page.text and "Sign out" in page.text


def test_wrong_key_is_refused_with_a_message(site):
    client = site.browser()
    token = csrf_of(client.get("/login").text)
    answer = client.post("/login", data={"api_key": "fs_not-a-key", "csrf_token": token})
    assert answer.status_code == 401
    assert "API key not recognised" in answer.text
    assert client.get("/search").status_code == 303  # still not signed in


def test_sign_in_returns_to_the_page_asked_for_but_never_off_site(site):
    client = site.browser()
    answer = client.get("/audit?action=search")
    assert answer.status_code == 303
    assert answer.headers["location"] == "/login?next=/audit%3Faction%3Dsearch"
    token = csrf_of(client.get(answer.headers["location"]).text)
    back = client.post(
        "/login",
        data={"api_key": site.keys["aud"], "csrf_token": token, "next": "/audit?action=search"},
    )
    assert back.headers["location"] == "/audit?action=search"
    other = site.browser()
    token = csrf_of(other.get("/login").text)
    offsite = other.post(
        "/login",
        data={"api_key": site.keys["aud"], "csrf_token": token, "next": "//evil.example/x"},
    )
    assert offsite.headers["location"] == "/audit"


def test_sign_out_ends_the_session(site):
    client = site.signed_in("aud")
    assert client.get("/audit").status_code == 200
    answer = site.post_form(client, "/audit", "/logout")
    assert answer.status_code == 303
    assert client.get("/audit").status_code == 303


def test_a_copy_of_a_signed_out_cookie_signs_nobody_in(site):
    # Signing out must end the session on the server, not only forget the cookie in the
    # browser: someone who copied the cookie before (a shared computer, a stolen backup) must
    # not carry on with it.
    client = site.signed_in("aud")
    copied = client.cookies.get("facesift_session")
    thief = site.browser()
    thief.cookies.set("facesift_session", copied)
    assert thief.get("/audit").status_code == 200  # the copy works while the session lives
    site.post_form(client, "/audit", "/logout")
    refused = thief.get("/audit")
    assert refused.status_code == 303 and refused.headers["location"].startswith("/login")
    again = site.signed_in("aud")  # the operator signs in again: a new session, which works
    assert again.get("/audit").status_code == 200


def test_a_tampered_cookie_is_an_anonymous_visitor(site):
    client = site.signed_in("aud")
    value = client.cookies.get("facesift_session")
    assert client.get("/audit").status_code == 200
    client.cookies.clear()
    client.cookies.set("facesift_session", value[:-3] + ("aaa" if value[-3:] != "aaa" else "bbb"))
    assert client.get("/audit").status_code == 303


@pytest.mark.parametrize(
    ("who", "action", "data"),
    [
        (None, "/login", {"api_key": "whatever"}),
        ("ina", "/logout", {}),
        ("ina", "/search", {"purpose": "p", "case": "c"}),
        ("rev1", "/searches/1/leads/1/review", {"decision": "confirm"}),
        ("admin", "/admin/requests/1/fulfil", {}),
        ("admin", "/admin/requests/1/decline", {"reason": "no"}),
        (None, "/subject", {"kind": "access", "contact": "me@example.org"}),
        (None, "/subject/status", {"reference": "x"}),
        (None, "/subject/report", {"reference": "x"}),
    ],
)
def test_every_form_refuses_a_post_without_the_sessions_csrf_token(site, who, action, data):
    client = site.signed_in(who) if who else site.browser()
    seq_before = site.engine._audit.records()[-1].seq
    for token in (None, "forged-token"):
        fields = dict(data, **({"csrf_token": token} if token else {}))
        answer = client.post(action, data=fields)
        assert answer.status_code == 403, (action, answer.text)
        assert "CSRF" in answer.text and "Traceback" not in answer.text
    assert site.engine._audit.records()[-1].seq == seq_before  # nothing happened


def test_a_token_from_another_session_is_refused(site):
    mine, theirs = site.signed_in("ina"), site.browser()
    their_token = csrf_of(theirs.get("/login").text)
    answer = mine.post("/logout", data={"csrf_token": their_token})
    assert answer.status_code == 403
    assert mine.get("/search").status_code == 200  # still signed in


def test_pages_are_not_cached_framed_or_scripted_from_elsewhere(site):
    answer = site.signed_in("ina").get("/search")
    assert answer.headers["cache-control"] == "no-store"
    policy = answer.headers["content-security-policy"]
    assert "default-src 'self'" in policy and "frame-ancestors 'none'" in policy


def test_the_signing_secret_is_private_to_the_gallery(site):
    secret = site.engine.data_dir / "web-session.key"
    assert secret.stat().st_mode & 0o777 == 0o600
    assert len(secret.read_text().strip()) >= 64
    assert not list(site.engine.data_dir.glob(".web-session-*"))  # no temporary file left


def test_disabling_an_operator_ends_their_sessions(tmp_path, photos):
    from datetime import UTC, datetime

    from sqlalchemy import update

    from facesift.catalog.tables import operators
    from tests.unit.serve_web.conftest import make_site

    own = make_site(tmp_path, photos, ingest=False)
    client = own.signed_in("aud")
    assert client.get("/audit").status_code == 200
    with own.engine._catalog.db.begin() as connection:
        connection.execute(
            update(operators).where(operators.c.name == "aud").values(disabled_at=datetime.now(UTC))
        )
    answer = client.get("/audit")
    assert answer.status_code == 303 and answer.headers["location"].startswith("/login")
    own.engine.close()
