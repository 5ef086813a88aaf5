"""Shared fixtures: real models, real public-domain photos, and LFW from ../shared when present."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from facesift import FaceSift, Settings
from facesift.demo import astronaut, grace_hopper, group_photo

# Session-wide servers, defined once here: a fixture imported into several test modules is a
# separate fixture in each, and each started a server of its own.
from tests.contract.milvus_server import milvus_server  # noqa: F401
from tests.contract.pgvector_server import pgvector_server  # noqa: F401

REPO = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("FACESIFT_SHARED", REPO.parent / "shared")).resolve()
LFW = SHARED / "datasets" / "lfw"


@pytest.fixture(scope="session")
def lfw_root() -> Path:
    if not (LFW / "pairs.txt").exists():
        pytest.skip(
            f"LFW not found at {LFW} (set FACESIFT_SHARED to the folder holding datasets/lfw)"
        )
    return LFW


@pytest.fixture(scope="session")
def photos(tmp_path_factory) -> dict[str, Path]:
    """Public-domain photos written to disk: Collins (NASA), Hopper (US Navy), both, and no face."""
    folder = tmp_path_factory.mktemp("photos")
    collins, hopper = astronaut(), grace_hopper()
    paths = {
        "collins": folder / "collins.png",
        "collins_mirrored": folder / "collins-mirrored.jpg",
        "hopper": folder / "hopper.jpg",
        "group": folder / "group.jpg",
        "blank": folder / "blank.png",
    }
    collins.save(paths["collins"])
    collins.transpose(Image.Transpose.FLIP_LEFT_RIGHT).save(paths["collins_mirrored"], quality=90)
    hopper.save(paths["hopper"], quality=95)
    group_photo(hopper, collins).save(paths["group"], quality=92)
    Image.fromarray(np.full((300, 300, 3), 127, np.uint8)).save(paths["blank"])
    return paths


@pytest.fixture(scope="session")
def postgres_server():
    """A throwaway PostgreSQL server for the session (see tests/postgres.py); its
    ``new_database()`` gives each test an empty database."""
    from tests.postgres import start_server

    server = start_server()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def shared_engine_settings(tmp_path_factory) -> Settings:
    return Settings(data_dir=tmp_path_factory.mktemp("unused"), workers=1)


@pytest.fixture(scope="session")
def analyser(shared_engine_settings):
    from facesift.pipeline import FaceAnalyser

    return FaceAnalyser.from_settings(shared_engine_settings)


@pytest.fixture(scope="session")
def dlib_analyser(shared_engine_settings):
    """The dlib pipeline (HOG + ResNet), the default before YuNet + reid-0095, for its own tests."""
    from facesift.pipeline import FaceAnalyser

    return FaceAnalyser.from_settings(
        shared_engine_settings.model_copy(
            update={"detector": "dlib-hog", "embedder": "dlib-resnet"}
        )
    )


@pytest.fixture
def engine(tmp_path) -> FaceSift:
    with FaceSift(Settings(data_dir=tmp_path / "data", workers=1)) as fs:
        yield fs


def rgb_of(path: Path) -> np.ndarray:
    return np.asarray(Image.open(path).convert("RGB"))


def strongest(faces):
    """The most confident detection. HOG also fires weakly on, e.g., the flag patch on Collins's
    suit; tests about "the" face of a portrait look at the strongest one."""
    return max(faces, key=lambda face: getattr(face, "score", None) or face.detection.score)


def operators(engine: FaceSift):
    """An administrator and an investigator for ``engine`` (created on first call)."""
    engine.create_first_admin("admin")
    admin = engine.operator(name="admin")
    try:
        investigator = engine.operator(name="investigator")
    except Exception:
        engine.add_operator(admin, "investigator", "investigator")
        investigator = engine.operator(name="investigator")
    return admin, investigator


def add_source(
    engine: FaceSift,
    admin,
    name: str,
    basis: str = "legitimate-interest",
    jurisdiction: str = "GB",
    retention_days: int = 30,
):
    return engine.add_source(
        admin,
        name,
        basis,
        jurisdiction,
        retention_days,
        purpose="testing facesift",
        controller="dpo@example.org",
    )
