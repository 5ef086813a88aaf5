"""What the web UI's page modules share: the leads notice, the public-caller dependency, and the
signed-in operator where a page works without one too."""

from __future__ import annotations

from fastapi import Depends, Request

from facesift.govern.roles import Actor
from facesift.serve.deps import public_caller
from facesift.serve.web.session import NotSignedIn, signed_in_actor

NOTICE = (
    "Matches are investigative leads, not identifications. A lead may be used only after two "
    "different reviewers have confirmed it; a face search is never, on its own, grounds for action."
)
Public = Depends(public_caller)


def optional_actor(request: Request) -> Actor | None:
    try:
        return signed_in_actor(request)
    except NotSignedIn:
        return None
