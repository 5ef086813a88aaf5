"""The public operations of ``FaceSift`` by area, each on the services it uses (engine.py wires
them): what the CLI, the API, the web UI and the tests call. Every method checks its actor's
permission in the service it delegates to."""

from facesift.facade.casework import CaseworkOperations
from facesift.facade.gallery import GalleryOperations
from facesift.facade.oversight import OversightOperations
from facesift.facade.searching import SearchOperations
from facesift.facade.subjects import SubjectOperations

__all__ = [
    "CaseworkOperations",
    "GalleryOperations",
    "OversightOperations",
    "SearchOperations",
    "SubjectOperations",
]
