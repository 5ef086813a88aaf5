"""Operators: add, list, disable, rotate keys (administrators; every operator their own key)."""

from __future__ import annotations

from fastapi import APIRouter

from facesift.govern.roles import Role
from facesift.serve.api.common import AUTHED, problems
from facesift.serve.deps import CurrentActor, Engine
from facesift.serve.schemas import OperatorDisabledOut, OperatorIn, OperatorKeyOut, OperatorOut

router = APIRouter()


@router.get("/operators", tags=["operators"], responses=AUTHED)
def list_operators(engine: Engine, actor: CurrentActor) -> list[OperatorOut]:
    """Enabled operators and their roles (administrators)."""
    return [
        OperatorOut.model_validate(operator, context={"created_at": created})
        for operator, created in engine.list_operators(actor)
    ]


@router.post(
    "/operators", tags=["operators"], status_code=201, responses=problems(401, 403, 409, 422, 429)
)
def add_operator(body: OperatorIn, engine: Engine, actor: CurrentActor) -> OperatorKeyOut:
    """Add an operator; the answer holds their API key, shown this once (stored only hashed)."""
    key = engine.add_operator(actor, body.name, body.role)
    return OperatorKeyOut(name=body.name, role=Role(body.role), api_key=key)


@router.post(
    "/operators/{name}/disable", tags=["operators"], responses=problems(401, 403, 404, 422, 429)
)
def disable_operator(name: str, engine: Engine, actor: CurrentActor) -> OperatorDisabledOut:
    """Disable an operator: their key and web sessions stop working at once. The last enabled
    administrator cannot be disabled."""
    disabled = engine.disable_operator(actor, name)
    return OperatorDisabledOut.model_validate(disabled)


@router.post(
    "/operators/{name}/rotate-key",
    tags=["operators"],
    responses=problems(401, 403, 404, 422, 429),
)
def rotate_operator_key(name: str, engine: Engine, actor: CurrentActor) -> OperatorKeyOut:
    """A new API key for the operator, shown this once; the old key stops working at once."""
    operator, key = engine.rotate_operator_key(actor, name)
    return OperatorKeyOut.model_validate(operator, context={"api_key": key})
