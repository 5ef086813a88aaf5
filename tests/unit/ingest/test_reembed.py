"""Switching models: re-embed the demo gallery from dlib's ResNet into an ONNX embedder's space."""

import itertools
import shutil
import sqlite3
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("onnxruntime", reason="the onnx extra is not installed")

from facesift import FaceSift, Settings  # noqa: E402
from facesift.demo import build  # noqa: E402
from facesift.errors import ConfigError, FaceSiftError, SpaceMismatchError  # noqa: E402
from facesift.govern.roles import PermissionDenied  # noqa: E402
from facesift.search.calibration import calibration_filename, measure_calibration  # noqa: E402
from tests.conftest import add_source, operators  # noqa: E402
from tests.onnx_models import arcface_like  # noqa: E402

CASE = {"purpose": "testing", "case": "T-1"}


@pytest.fixture(scope="module")
def demo_photos(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("demo")
    build(folder)
    return folder / "gallery"


@pytest.fixture(scope="module")
def ingested_once(demo_photos, tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("ingested")
    photos = shutil.copytree(demo_photos, folder / "photos")
    with FaceSift(dlib_settings(folder / "data")) as engine:
        admin, _ = operators(engine)
        add_source(engine, admin, "demo")
        engine.ingest(admin, [photos], "demo")
    return folder


@pytest.fixture
def dlib_gallery(ingested_once, tmp_path) -> Path:
    """A gallery ingested with dlib, with its own copy of the photos (tests delete some)."""
    photos = shutil.copytree(ingested_once / "photos", tmp_path / "photos")
    data = shutil.copytree(ingested_once / "data", tmp_path / "data")
    # The copy's catalog names the copied photos (as if the folder had been moved there).
    with sqlite3.connect(data / "catalog.sqlite") as connection:
        connection.execute(
            "UPDATE images SET path = replace(path, ?, ?)",
            (str(ingested_once / "photos"), str(photos)),
        )
    return data


@pytest.fixture(scope="module")
def onnx_model(tmp_path_factory) -> Path:
    return arcface_like(tmp_path_factory.mktemp("models") / "arcface-like.onnx")


def dlib_settings(data: Path) -> Settings:
    # The demo's faces are 72 px and larger: from 64 px up, HOG scans the photos at their own
    # scale (no upsampling), and still finds the smallest Collins.
    return Settings(
        data_dir=data, workers=1, min_face_size=64, detector="dlib-hog", embedder="dlib-resnet"
    )


def onnx_settings(data: Path, model: Path) -> Settings:
    return dlib_settings(data).model_copy(
        update={"embedder": "onnx-arcface", "onnx_embedder_model": model}
    )


def main_face(results):
    """The portrait's face (HOG also fires weakly on the flag patch of Collins's suit)."""
    return max(results, key=lambda r: r.box.width * r.box.height)


def calibrate_on_the_gallery(engine: FaceSift) -> None:
    """The operator's calibration for the new space, measured on the gallery's own labelled
    faces (Collins vs Hopper; the group photo is left out) as `eval calibrate` does on LFW."""
    ids, vectors = next(engine._catalog.iter_embeddings())
    paths = {i: Path(f.image_path).name for i, f in engine._catalog.stored_faces(ids).items()}
    labelled = [(v, paths[i].split("-")[0]) for i, v in zip(ids, vectors, strict=True)]
    labelled = [(v, person) for v, person in labelled if person in ("collins", "hopper")]
    edges = np.arange(0.0, 2.0 + 1e-9, 0.0025)
    genuine, impostor = [], []
    for (a, pa), (b, pb) in itertools.combinations(labelled, 2):
        (genuine if pa == pb else impostor).append(float(np.linalg.norm(a - b)))
    calibration = measure_calibration(
        np.histogram(genuine, edges)[0], np.histogram(impostor, edges)[0], edges, engine.space, "t"
    )
    folder = engine.data_dir / "calibration"
    folder.mkdir(exist_ok=True)
    (folder / calibration_filename(engine.space)).write_text(calibration.to_json())


def named_identity_of(engine: FaceSift, reviewer, photo: str, name: str) -> int:
    """The identity holding the (main) face of ``photo``, named ``name``."""
    for summary in engine.identities(reviewer):
        if photo in photos_of_identity(engine, reviewer, summary.id):
            engine.name_identity(reviewer, summary.id, name)
            return summary.id
    raise AssertionError(f"no identity holds a face of {photo}")


def photos_of_identity(engine: FaceSift, reviewer, identity_id: int) -> set[str]:
    face_ids = engine.identity_faces(reviewer, identity_id)
    return {Path(f.image_path).name for f in engine._catalog.stored_faces(face_ids).values()}


def test_reembed_switches_the_gallery_to_the_new_space(dlib_gallery, onnx_model, demo_photos):
    data = dlib_gallery
    with FaceSift(dlib_settings(data)) as old:
        old_space, old_faces = old.space, old._catalog.counts().faces
        admin, investigator = operators(old)
        # Hopper opted out (her faces stay, hidden from searches): the opt-out must follow.
        old.subject_optout(admin, demo_photos / "hopper-original.jpg")
        # A reviewer grouped and named Collins: the grouping must follow her re-found faces.
        old.cluster(investigator)
        collins = named_identity_of(old, investigator, "collins-original.jpg", "Eileen Collins")
        collins_photos = photos_of_identity(old, investigator, collins)
        assert len(collins_photos) >= 2
    (data.parent / "photos" / "collins-small.jpg").unlink()  # no longer readable by its name

    with FaceSift(onnx_settings(data, onnx_model)) as engine:
        admin, investigator = operators(engine)
        new_space = engine.configured_space
        assert engine.space == old_space and new_space.dimension == 512
        # Before re-embedding, the new model is refused: its vectors would be compared with
        # dlib's, and the error names both spaces and the way out.
        with pytest.raises(SpaceMismatchError) as refused:
            engine.search(investigator, demo_photos / "collins-original.jpg", **CASE)
        message = str(refused.value)
        assert old_space.key in message and new_space.key in message
        assert "facesift reembed" in message
        with pytest.raises(SpaceMismatchError):
            engine.ingest(admin, [demo_photos], "demo")
        with pytest.raises(PermissionDenied):
            engine.reembed(investigator)

        totals, advanced = [], []
        report = engine.reembed(
            admin, on_total=totals.append, on_progress=lambda n, f: advanced.append(n)
        )
        assert totals == [11] and sum(advanced) == 11
        assert report.previous_space == old_space.key and report.target_space == new_space.key
        assert [Path(p).name for p, _ in report.unreadable] == ["collins-small.jpg"]
        switch = report.switch
        assert switch.images_switched == 10 and switch.images_held_back == 1
        assert switch.faces_held_back >= 1 and switch.faces_before == old_faces
        assert report.optouts_carried == 1 and report.optouts_dropped == []
        # Every identity assignment of a re-found face is carried to its new face; Collins's
        # photo that could not be read keeps its old face (held back), in her identity too.
        assert switch.identities_carried >= len(collins_photos - {"collins-small.jpg"})
        (carried,) = [i for i in engine.identities(investigator) if i.name == "Eileen Collins"]
        assert photos_of_identity(engine, investigator, carried.id) >= collins_photos - {
            "collins-small.jpg"
        }
        # Same detector: every face is found again, and nothing is lost or added.
        assert report.detections_not_added == 0
        assert switch.faces_after + switch.faces_held_back == switch.faces_before

        # Catalog, index and engine are all in the new space, and agree.
        assert engine.space == new_space and engine._catalog.embedding_space() == new_space.key
        assert engine._index.space == new_space and len(engine._index) == switch.faces_after
        assert engine.check_index().in_agreement
        assert engine._catalog.held_back_count() == switch.faces_held_back
        audit = engine._audit.records(action="reembed")
        assert audit and audit[-1].details["to_space"] == new_space.key

        # No calibration for this space yet: no match decisions, and the error says what to do.
        with pytest.raises(ConfigError, match="no calibration for embedding space .*calibrate"):
            engine.search(investigator, demo_photos / "collins-original.jpg", **CASE)
        calibrate_on_the_gallery(engine)

    with FaceSift(onnx_settings(data, onnx_model)) as engine:
        _, investigator = operators(engine)
        result = main_face(
            engine.search(investigator, demo_photos / "collins-original.jpg", **CASE)
        )
        assert Path(result.leads[0].image_path).name == "collins-original.jpg"
        assert result.leads[0].distance < 1e-3  # the same pixels through the same new pipeline
        # Hopper's opt-out was carried into the new space: none of her photos is a lead.
        hopper = engine.search(investigator, demo_photos / "hopper-original.jpg", **CASE)
        leads = [Path(lead.image_path).name for face in hopper for lead in face.leads]
        assert not any("hopper" in name for name in leads)

    # A process that names dlib now meets a gallery in another space: refused. (One that names
    # no models follows the gallery's.)
    with FaceSift(dlib_settings(data)) as stale:
        with pytest.raises(SpaceMismatchError):
            stale.search(operators(stale)[1], demo_photos / "collins-original.jpg", **CASE)


def test_an_interrupted_reembed_resumes_and_searches_use_the_old_space_meanwhile(
    dlib_gallery, onnx_model, demo_photos
):
    data = dlib_gallery
    with FaceSift(onnx_settings(data, onnx_model)) as engine:
        admin, _ = operators(engine)
        seen = []

        def interrupt_after_four(images, faces):
            seen.append(images)
            if len(seen) == 4:
                raise KeyboardInterrupt

        with pytest.raises(KeyboardInterrupt):
            engine.reembed(admin, on_progress=interrupt_after_four)
        assert engine._catalog.reembed_progress(engine.configured_space.key) == {"done": 4}

    with FaceSift(dlib_settings(data)) as old:
        # Not switched: the gallery is still dlib's and dlib searches still work.
        assert old._catalog.embedding_space() == old.configured_space.key
        result = main_face(
            old.search(operators(old)[1], demo_photos / "collins-original.jpg", **CASE)
        )
        assert Path(result.leads[0].image_path).name == "collins-original.jpg"

    with FaceSift(onnx_settings(data, onnx_model)) as engine:
        report = engine.reembed(operators(engine)[0])
        assert report.images_already_done == 4 and report.images_analysed == 7
        assert report.switch.images_switched == 11 and report.unreadable == []
        assert engine.space == engine.configured_space and engine.check_index().in_agreement


def test_an_optout_that_cannot_be_carried_blocks_the_switch_until_dropped_explicitly(
    tmp_path, onnx_model, photos
):
    data = tmp_path / "data"
    with FaceSift(dlib_settings(data)) as old:
        admin, _ = operators(old)
        add_source(old, admin, "demo")
        old.ingest(admin, [photos["hopper"]], "demo")
        # Collins opts out; no photo of hers is in the gallery to carry her template over.
        old.subject_optout(admin, photos["collins"])
        (reference,), _ = old._catalog.optout_templates()
    with FaceSift(onnx_settings(data, onnx_model)) as engine:
        admin, _ = operators(engine)
        with pytest.raises(FaceSiftError, match=f"opt-outs \\({reference}\\) have no face"):
            engine.reembed(admin)
        assert engine._catalog.embedding_space() != engine.configured_space.key  # not switched
        assert engine._catalog.optout_count() == 1
        report = engine.reembed(admin, drop_uncarried_optouts=True)
        assert report.images_already_done == 1 and report.optouts_dropped == [reference]
        assert engine.space == engine.configured_space and engine._catalog.optout_count() == 0
        assert engine._audit.records(action="reembed")[-1].details["optouts_dropped"] == [reference]
