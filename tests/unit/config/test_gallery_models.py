"""Which models a gallery uses: the ones it was built with, unless the operator names others."""

from __future__ import annotations

from facesift.config import DEFAULT_DETECTOR, DEFAULT_EMBEDDER, PAIRED_DETECTOR, Settings

ARCFACE_SPACE = "onnx-arcface/sha256-0123456789ab/512/euclidean"


def test_a_new_gallery_gets_the_default_pipeline():
    settings = Settings().for_gallery(None)
    assert (settings.detector, settings.embedder) == (DEFAULT_DETECTOR, DEFAULT_EMBEDDER)


def test_a_gallery_keeps_the_embedder_it_was_built_with_and_its_paired_detector():
    settings = Settings().for_gallery(ARCFACE_SPACE)
    assert settings.embedder == "onnx-arcface"
    assert settings.detector == PAIRED_DETECTOR["onnx-arcface"]


def test_models_the_operator_names_win_over_the_gallerys(monkeypatch):
    named = Settings(embedder="dlib-resnet", detector="dlib-cnn").for_gallery(ARCFACE_SPACE)
    assert (named.detector, named.embedder) == ("dlib-cnn", "dlib-resnet")
    monkeypatch.setenv("FACESIFT_EMBEDDER", "dlib-resnet")
    from_environment = Settings().for_gallery(ARCFACE_SPACE)
    assert from_environment.embedder == "dlib-resnet"


def test_a_named_detector_is_kept_when_only_the_embedder_comes_from_the_gallery():
    settings = Settings(detector="dlib-cnn").for_gallery(ARCFACE_SPACE)
    assert (settings.detector, settings.embedder) == ("dlib-cnn", "onnx-arcface")


def test_everything_else_is_carried_over(tmp_path):
    settings = Settings(data_dir=tmp_path, workers=3, min_face_size=55).for_gallery(ARCFACE_SPACE)
    assert (settings.data_dir, settings.workers, settings.min_face_size) == (tmp_path, 3, 55)
