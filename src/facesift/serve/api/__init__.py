"""The REST API, version 1, mounted at /api/v1."""

from fastapi import APIRouter

from facesift.serve.api import gallery, operators, oversight, searching, subjects

api_router = APIRouter()
for module in (gallery, searching, subjects, oversight, operators):
    api_router.include_router(module.router)

__all__ = ["api_router"]
