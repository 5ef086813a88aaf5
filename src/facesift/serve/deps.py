"""Dependencies every API route uses: the engine, the acting operator (by API key), rate limits.

Every request with an API key acts as that key's operator, with that operator's role, through the
same engine methods (and so the same permission checks and audit trail) as the CLI. Only health
and the data subjects' portal (submitting a request, following it by reference) are anonymous;
those are rate-limited per client address instead of per key.
"""

from __future__ import annotations

import hashlib
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import APIKeyHeader

from facesift.engine import FaceSift
from facesift.errors import AuthenticationError
from facesift.govern.roles import Actor
from facesift.serve.problems import Problem

API_KEY_HEADER = "X-API-Key"
api_key_header = APIKeyHeader(
    name=API_KEY_HEADER,
    auto_error=False,
    description="An operator's API key, shown once when an administrator adds the operator "
    "(POST /api/v1/operators) or rotates their key.",
)


def get_engine(request: Request) -> FaceSift:
    return request.app.state.engine


def _rate_limited(request: Request, caller: str) -> None:
    wait = request.app.state.rate_limits.take(caller)
    if wait:
        raise Problem(
            429,
            f"too many requests from this {'API key' if caller.startswith('key:') else 'address'}"
            f"; try again in {wait} s",
            kind="rate-limited",
            headers={"Retry-After": str(wait)},
        )


def current_actor(
    request: Request, key: Annotated[str | None, Depends(api_key_header)] = None
) -> Actor:
    """The operator whose API key the request carries (401 without a valid one)."""
    if not key:
        raise Problem(
            401,
            f"this endpoint needs an API key in the {API_KEY_HEADER} header",
            kind="unauthenticated",
            headers={"WWW-Authenticate": API_KEY_HEADER},
        )
    return operator_of_key(request, key, per_key_limit=True)


def operator_of_key(request: Request, key: str, *, per_key_limit: bool = False) -> Actor:
    """The operator of ``key``, counting a wrong key against the client's address. An address
    that sent too many wrong keys waits, whatever key it sends now: each guess is a new key, so
    a per-key limit alone would never slow a guesser down. The API and the web sign-in both
    check keys here."""
    address = "addr:" + (request.client.host if request.client else "unknown")
    wrong_keys = request.app.state.wrong_keys
    wait = wrong_keys.waiting(address)
    if wait:
        raise Problem(
            429,
            f"too many wrong API keys from this address; try again in {wait} s",
            kind="rate-limited",
            headers={"Retry-After": str(wait)},
        )
    if per_key_limit:
        _rate_limited(request, "key:" + hashlib.sha256(key.encode()).hexdigest())
    try:
        actor = get_engine(request).operator(key=key)
    except AuthenticationError:
        wrong_keys.take(address)
        raise
    request.state.actor = actor
    return actor


def public_caller(request: Request) -> str:
    """Anonymous endpoints: rate-limited per client address."""
    address = request.client.host if request.client else "unknown"
    _rate_limited(request, "addr:" + address)
    return address


Engine = Annotated[FaceSift, Depends(get_engine)]
CurrentActor = Annotated[Actor, Depends(current_actor)]
PublicCaller = Annotated[str, Depends(public_caller)]
