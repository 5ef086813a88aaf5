"""Web sessions: who is signed in, and the CSRF token every form posts back.

The session lives in one cookie, signed with itsdangerous (so it cannot be forged or edited),
HttpOnly (scripts cannot read it), SameSite=Lax (other sites' forms do not carry it) and Secure
when served over HTTPS. It holds the operator's name and the SHA-256 of the API key they signed in
with, never the key itself: a stolen cookie does not leak a permanent credential, and the session
ends as soon as the operator is disabled or given a new key. Anonymous visitors (the data
subjects' portal) get a session too, holding only a CSRF token, so their forms are protected the
same way.

The signing secret is generated on first use and kept in ``data_dir/web-session.key`` (mode 0600),
so sessions survive a restart and every worker of one gallery shares them.

Signing out ends the session on the server too, not only in the browser: each signed-in session
has a random id, and signing out records it in ``data_dir/web-sessions-ended`` (shared by every
worker of the gallery), so a copy of the cookie taken before is refused afterwards.
"""

from __future__ import annotations

import fcntl
import os
import secrets
import tempfile
import time
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Annotated

from fastapi import Depends, Form, Request
from fastapi.responses import Response
from itsdangerous import BadSignature, URLSafeTimedSerializer

from facesift.errors import AuthenticationError, CsrfRefused, NotSignedIn
from facesift.govern.operators import key_digest
from facesift.govern.roles import Actor
from facesift.serve.deps import operator_of_key

COOKIE = "facesift_session"
MAX_AGE_SECONDS = 12 * 3600  # a working day; signing in again after that is cheap
SECRET_FILE = "web-session.key"
ENDED_FILE = "web-sessions-ended"
PRUNE_BYTES = 256 * 1024  # ~6,000 sign-outs; then those older than a session's life are dropped


@dataclass(frozen=True)
class WebSession:
    csrf: str
    operator: str | None = None
    key_sha256: str | None = None
    sid: str | None = None  # a signed-in session's id, recorded when it is signed out
    changed: bool = False  # must be written back to the cookie

    @classmethod
    def fresh(cls) -> WebSession:
        return cls(csrf=secrets.token_urlsafe(24), changed=True)


def session_secret(data_dir: Path) -> str:
    """The gallery's cookie-signing secret, created on first use. It is written to a private
    temporary file and then hard-linked into place, so the secret file only ever appears whole,
    and when two workers start at once the first link wins and both use its secret."""
    path = data_dir / SECRET_FILE
    if not path.exists():
        fd, temporary = tempfile.mkstemp(dir=data_dir, prefix=".web-session-")  # mode 0600
        try:
            with os.fdopen(fd, "w") as handle:
                handle.write(secrets.token_urlsafe(48) + "\n")
                handle.flush()
                os.fsync(handle.fileno())
            os.link(temporary, path)
        except FileExistsError:
            pass  # another worker made it first
        finally:
            os.unlink(temporary)
    return path.read_text().strip()


def _serializer(request: Request) -> URLSafeTimedSerializer:
    state = request.app.state
    serializer = getattr(state, "web_session_serializer", None)
    if serializer is None:
        secret = session_secret(state.engine.data_dir)
        serializer = URLSafeTimedSerializer(secret, salt="facesift-web-session")
        state.web_session_serializer = serializer
    return serializer


def current_session(request: Request) -> WebSession:
    """This request's session: from its cookie if valid and unexpired, else a new anonymous one."""
    cached = getattr(request.state, "web_session", None)
    if cached is not None:
        return cached
    session = WebSession.fresh()
    raw = request.cookies.get(COOKIE)
    if raw:
        try:
            data = _serializer(request).loads(raw, max_age=MAX_AGE_SECONDS)
            session = WebSession(
                csrf=str(data["csrf"]),
                operator=data.get("op"),
                key_sha256=data.get("key"),
                sid=data.get("sid"),
            )
        except (BadSignature, KeyError, TypeError):
            pass  # expired, forged or from another gallery: start afresh
    request.state.web_session = session
    return session


def replace_session(request: Request, session: WebSession) -> WebSession:
    session = replace(session, changed=True)
    request.state.web_session = session
    return session


def sign_in(request: Request, api_key: str) -> Actor:
    """Check the API key and bind the session to its operator (a new CSRF token too, so a token
    seen before signing in is worthless after)."""
    actor = operator_of_key(request, api_key.strip())  # wrong keys count against the address
    replace_session(
        request,
        WebSession(
            csrf=secrets.token_urlsafe(24),
            operator=actor.name,
            key_sha256=key_digest(api_key.strip()),
            sid=secrets.token_urlsafe(18),
        ),
    )
    return actor


def sign_out(request: Request) -> None:
    """End this session here and on the server: its id is recorded as ended, so the same
    cookie (a copy an attacker took) no longer signs anyone in."""
    ended = current_session(request).sid
    if ended:
        _record_ended(request.app.state.engine.data_dir, ended)
    replace_session(request, WebSession.fresh())


def _record_ended(data_dir: Path, sid: str) -> None:
    """Append the ended session's id, under a lock shared by the gallery's workers; past
    ``PRUNE_BYTES`` the entries older than a session's life are dropped first."""
    path = data_dir / ENDED_FILE
    with open(path, "a+", encoding="ascii") as handle:
        os.chmod(path, 0o600)
        fcntl.flock(handle, fcntl.LOCK_EX)
        if handle.tell() > PRUNE_BYTES:
            handle.seek(0)
            oldest = time.time() - MAX_AGE_SECONDS
            kept = [line for line in handle.read().splitlines() if _at(line) >= oldest]
            handle.seek(0)
            handle.truncate()
            handle.write("".join(f"{line}\n" for line in kept))
        handle.write(f"{sid} {int(time.time())}\n")


def _at(line: str) -> int:
    at = line.partition(" ")[2]
    return int(at) if at.isdigit() else 0


def _ended(data_dir: Path, sid: str) -> bool:
    """Whether session ``sid`` was signed out (entries older than a session's life no longer
    matter: such a cookie has expired anyway)."""
    try:
        lines = (data_dir / ENDED_FILE).read_text().splitlines()
    except FileNotFoundError:
        return False
    oldest = time.time() - MAX_AGE_SECONDS
    return any(line.partition(" ")[0] == sid and _at(line) >= oldest for line in lines)


def save_session(request: Request, response: Response) -> None:
    """Write the session cookie if this request created or changed the session."""
    session = getattr(request.state, "web_session", None)
    if session is None or not session.changed:
        return
    payload = {"csrf": session.csrf}
    if session.operator:
        payload |= {"op": session.operator, "key": session.key_sha256, "sid": session.sid}
    response.set_cookie(
        COOKIE,
        _serializer(request).dumps(payload),
        max_age=MAX_AGE_SECONDS,
        httponly=True,
        samesite="lax",
        secure=request.url.scheme == "https",
        path="/",
    )


def signed_in_actor(request: Request) -> Actor:
    """The signed-in operator, re-checked against the registry on every request."""
    session = current_session(request)
    if not (session.operator and session.key_sha256):
        raise NotSignedIn("please sign in with your API key")
    if not session.sid or _ended(request.app.state.engine.data_dir, session.sid):
        replace_session(request, WebSession.fresh())
        raise NotSignedIn("this session was signed out; please sign in again")
    try:
        actor = request.app.state.engine.operator_by_key_digest(session.key_sha256)
    except AuthenticationError:
        sign_out(request)
        raise NotSignedIn(
            "your session has ended (the operator was disabled or given a new key); "
            "please sign in again"
        ) from None
    if actor.name != session.operator:
        sign_out(request)
        raise NotSignedIn("please sign in again")
    request.state.actor = actor
    return actor


def csrf_checked(request: Request, csrf_token: Annotated[str, Form()] = "") -> None:
    """Every POST form carries the session's CSRF token in a hidden field."""
    expected = current_session(request).csrf
    if not csrf_token or not secrets.compare_digest(csrf_token, expected):
        raise CsrfRefused(
            "this form has expired or did not come from this site (missing or wrong CSRF "
            "token); reload the page and try again"
        )


SignedIn = Annotated[Actor, Depends(signed_in_actor)]
CsrfChecked = Depends(csrf_checked)
