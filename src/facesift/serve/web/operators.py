"""Administrators' operator pages: who may use the gallery, in which role; a new operator's or a
rotated API key is shown once, on the page that made it (never in a URL, never stored)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request

from facesift.errors import InputError
from facesift.govern.roles import OPERATOR_ROLES, Action
from facesift.serve.deps import Engine
from facesift.serve.web.pages import WebRoute, page, see_other
from facesift.serve.web.session import CsrfChecked, SignedIn

router = APIRouter(route_class=WebRoute, include_in_schema=False)


def _operators_page(request: Request, engine: Engine, actor, status_code: int = 200, **context):
    return page(
        request,
        "operators.html",
        actor,
        status_code=status_code,
        operators=engine.list_operators(actor),  # USER_LIST
        roles=[r.value for r in OPERATOR_ROLES],
        sources=[s.name for s in engine.sources()],
        **context,
    )


@router.get("/admin/operators")
def operators(request: Request, engine: Engine, actor: SignedIn):
    return _operators_page(request, engine, actor)


@router.post("/admin/operators", dependencies=[CsrfChecked])
def add(
    request: Request,
    engine: Engine,
    actor: SignedIn,
    name: Annotated[str, Form()] = "",
    role: Annotated[str, Form()] = "",
):
    actor.require(Action.USER_ADD)
    try:
        key = engine.add_operator(actor, name.strip(), role)
    except InputError as error:
        return _operators_page(
            request, engine, actor, 422, error=str(error), form={"name": name, "role": role}
        )
    return _operators_page(request, engine, actor, new_key=(name.strip(), key, "added"))


@router.post("/admin/operators/{name}/disable", dependencies=[CsrfChecked])
def disable(engine: Engine, actor: SignedIn, name: str):
    if name == actor.name:
        raise InputError("you cannot disable yourself: another administrator must")
    engine.disable_operator(actor, name)
    return see_other("/admin/operators")


@router.post("/admin/operators/{name}/rotate", dependencies=[CsrfChecked])
def rotate(request: Request, engine: Engine, actor: SignedIn, name: str):
    _, key = engine.rotate_operator_key(actor, name)
    # Rotating one's own key ends one's session (it holds the old key's digest): the page says
    # so, and the next page asks to sign in with the new key.
    return _operators_page(request, engine, actor, new_key=(name, key, "given a new key"))


@router.post("/admin/operators/{name}/scope", dependencies=[CsrfChecked])
def scope(
    engine: Engine,
    actor: SignedIn,
    name: str,
    sources: Annotated[list[str] | None, Form()] = None,
    every_source: Annotated[str, Form()] = "",
):
    """Which sources the operator's searches may return faces from (all, or those ticked)."""
    engine.scope_operator(actor, name, None if every_source else list(sources or []))
    return see_other("/admin/operators")
