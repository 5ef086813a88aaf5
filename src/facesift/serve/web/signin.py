"""Signing in and out, and the home page."""

from __future__ import annotations

from typing import Annotated
from urllib.parse import urlsplit

from fastapi import APIRouter, Form, Request

from facesift.errors import AuthenticationError
from facesift.serve.web.common import Public, optional_actor
from facesift.serve.web.pages import WebRoute, home_of, page, see_other
from facesift.serve.web.session import (
    CsrfChecked,
    sign_in,
    sign_out,
)

router = APIRouter(route_class=WebRoute, include_in_schema=False)


@router.get("/")
def home(request: Request):
    actor = optional_actor(request)
    return see_other(home_of(actor) if actor else "/login")


def _local(target: str | None) -> str | None:
    """Only redirect to paths on this site (never to another host after signing in)."""
    if not target:
        return None
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith("/") or target.startswith("//"):
        return None
    return target


@router.get("/login")
def login_form(request: Request, next: str | None = None):
    return page(request, "login.html", next=_local(next) or "")


@router.post("/login", dependencies=[CsrfChecked, Public])
def login(
    request: Request,
    api_key: Annotated[str, Form()] = "",
    next: Annotated[str, Form()] = "",
):
    try:
        if not api_key.strip():
            raise AuthenticationError("enter your API key")
        actor = sign_in(request, api_key)
    except AuthenticationError as error:
        return page(request, "login.html", status_code=401, error=str(error), next=_local(next))
    return see_other(_local(next) or home_of(actor))


@router.post("/logout", dependencies=[CsrfChecked])
def logout(request: Request):
    sign_out(request)
    return see_other("/login")
