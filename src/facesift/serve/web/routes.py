"""The web UI: server-rendered pages over the same engine (and so the same permission checks and
audit trail) as the CLI and the REST API, one module per area like the API's:

    signin.py     signing in and out, the home page
    searching.py  search, kept results and lead review (investigators, reviewers)
    portal.py     the data subjects' portal (no account)
    requests.py   administrators answering data subjects' requests
    oversight.py  the audit trail (auditors) and the gallery's sources and figures

Operators sign in with their API key; each role sees its own pages. Data subjects use the portal
without an account.
"""

from fastapi import APIRouter

from facesift.serve.web import oversight, portal, requests, searching, signin
from facesift.serve.web.pages import WebRoute

web_router = APIRouter(route_class=WebRoute, include_in_schema=False)
for area in (signin, searching, portal, requests, oversight):
    web_router.include_router(area.router)

__all__ = ["web_router"]
