"""The web UI: server-rendered pages over the same engine (and so the same permission checks and
audit trail) as the CLI and the REST API, one module per area like the API's:

    signin.py     signing in and out, the home page
    searching.py  search, kept results and lead review (investigators, reviewers)
    portal.py     the data subjects' portal (no account)
    requests.py   administrators answering data subjects' requests
    oversight.py  the audit trail (auditors: paged, filtered, exported) and the gallery overview
    people.py     identities as face grids; naming, merging, splitting (investigators, reviewers)
    investigating.py  duplicates and 1:1 verification (investigators, reviewers)
    sources.py    declared sources and ingest jobs (administrators)
    operators.py  operators and their keys (administrators)

Operators sign in with their API key; each role sees its own pages. Data subjects use the portal
without an account.
"""

from fastapi import APIRouter

from facesift.serve.web import (
    investigating,
    operators,
    oversight,
    people,
    portal,
    requests,
    searching,
    signin,
    sources,
)
from facesift.serve.web.pages import WebRoute

web_router = APIRouter(route_class=WebRoute, include_in_schema=False)
for area in (
    signin,
    searching,
    portal,
    requests,
    oversight,
    people,
    investigating,
    sources,
    operators,
):
    web_router.include_router(area.router)

__all__ = ["web_router"]
