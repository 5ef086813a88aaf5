"""facesift: self-hosted, lawful-by-design face search.

from facesift import FaceSift, Settings
with FaceSift(Settings(data_dir="gallery")) as fs:
    fs.add_source("archive", "consent", "GB", 365)
    fs.ingest([Path("photos")], "archive")
    for face in fs.search(Path("probe.jpg")):
        print(face.leads)
"""

from facesift.config import Settings
from facesift.engine import FaceSift
from facesift.errors import (
    AmbiguousFaceError,
    BackendNotFound,
    CatalogError,
    ConfigError,
    FaceSiftError,
    ImageError,
    IndexError_,
    InputError,
    NoFaceError,
    SourceError,
    SpaceMismatchError,
)
from facesift.types import LawfulBasis, Lead, ProbeFaceResult, Source, Verification

__all__ = [
    "AmbiguousFaceError",
    "BackendNotFound",
    "CatalogError",
    "ConfigError",
    "FaceSift",
    "FaceSiftError",
    "ImageError",
    "IndexError_",
    "InputError",
    "LawfulBasis",
    "Lead",
    "NoFaceError",
    "ProbeFaceResult",
    "Settings",
    "Source",
    "SourceError",
    "SpaceMismatchError",
    "Verification",
]
__version__ = "0.1.0"
