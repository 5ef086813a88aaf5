import hashlib

import numpy as np
import pytest
from PIL import Image

pytest.importorskip("onnxruntime", reason="the onnx extra is not installed")

from facesift import Settings  # noqa: E402
from facesift.align.chips import (  # noqa: E402
    ARCFACE_TEMPLATE_112,
    arcface_chip,
    arcface_points,
    similarity_transform,
)
from facesift.embed import create_embedder  # noqa: E402
from facesift.embed.base import embedding_space_of  # noqa: E402
from facesift.errors import ConfigError  # noqa: E402
from facesift.types import Landmarks  # noqa: E402
from tests.conftest import rgb_of, strongest  # noqa: E402
from tests.onnx_models import arcface_like  # noqa: E402


@pytest.fixture(scope="module")
def model_file(tmp_path_factory):
    return arcface_like(tmp_path_factory.mktemp("models") / "arcface-like.onnx")


@pytest.fixture(scope="module")
def embedder(model_file):
    return create_embedder("onnx-arcface", Settings(onnx_embedder_model=model_file))


def chip_of(rgb, left, top, side):
    region = Image.fromarray(rgb).crop((left, top, left + side, top + side))
    return np.asarray(region.resize((112, 112), Image.Resampling.BILINEAR))


def test_space_read_from_the_model_file_without_running_it(model_file, tmp_path, embedder):
    space = embedding_space_of("onnx-arcface", Settings(onnx_embedder_model=model_file))
    digest = hashlib.sha256(model_file.read_bytes()).hexdigest()
    assert space == embedder.space
    assert (space.model, space.version, space.dimension, space.metric) == (
        "onnx-arcface",
        "sha256-" + digest[:12],
        512,
        "euclidean",
    )
    other = arcface_like(tmp_path / "other.onnx", dimension=256, seed=1)
    other_space = embedding_space_of("onnx-arcface", Settings(onnx_embedder_model=other))
    assert other_space.dimension == 256
    assert other_space.version != space.version


def test_vectors_are_unit_length_deterministic_and_of_the_space(embedder, photos, model_file):
    rgb = rgb_of(photos["collins"])
    chips = [chip_of(rgb, 100, 20, 300), chip_of(rgb, 0, 0, 512)]
    vectors = embedder.embed(chips)
    assert vectors.shape == (2, 512) and vectors.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    np.testing.assert_array_equal(embedder.embed(chips), vectors)
    again = create_embedder("onnx-arcface", Settings(onnx_embedder_model=model_file))
    np.testing.assert_allclose(again.embed(chips[:1])[0], vectors[0], atol=1e-6)
    assert embedder.embed([]).shape == (0, 512)


def test_two_crops_of_one_photo_embed_closer_than_another_photo(embedder, photos):
    collins, hopper = rgb_of(photos["collins"]), rgb_of(photos["hopper"])
    first, shifted, other = embedder.embed(
        [
            chip_of(collins, 120, 30, 260),
            chip_of(collins, 128, 36, 260),
            chip_of(hopper, 120, 30, 260),
        ]
    )
    assert np.linalg.norm(first - shifted) < 0.5 * np.linalg.norm(first - other)


def test_arcface_chip_puts_the_landmarks_on_the_template():
    # Landmarks of a face drawn at a known rotation, scale and offset: the chip undoes them.
    angle, scale, offset = np.deg2rad(20), 2.5, np.array([300.0, 140.0])
    rotation = np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
    points = ARCFACE_TEMPLATE_112 @ (scale * rotation).T + offset
    matrix = similarity_transform(points, ARCFACE_TEMPLATE_112)
    mapped = points @ matrix[:, :2].T + matrix[:, 2]
    np.testing.assert_allclose(mapped, ARCFACE_TEMPLATE_112, atol=1e-6)
    # A white dot on the left eye of the big image lands on the template's left eye in the chip.
    rgb = np.zeros((600, 700, 3), np.uint8)
    x, y = np.round(points[0]).astype(int)
    rgb[y - 3 : y + 4, x - 3 : x + 4] = 255
    chip = arcface_chip(rgb, Landmarks(tuple(map(tuple, points)), "arcface-5"))
    bright = np.argwhere(chip[..., 0] > 128)
    np.testing.assert_allclose(bright.mean(axis=0)[::-1], ARCFACE_TEMPLATE_112[0], atol=1.5)


def test_dlib_landmarks_drive_the_arcface_alignment(dlib_analyser, photos):
    detection = strongest(dlib_analyser.detector.detect(rgb_of(photos["collins"])))
    source, target = arcface_points(detection.landmarks)
    matrix = similarity_transform(source, target)
    eyes = source @ matrix[:, :2].T + matrix[:, 2]
    np.testing.assert_allclose(eyes, ARCFACE_TEMPLATE_112[:2], atol=1e-6)
    assert source[0][0] < source[1][0]  # the image-left eye goes to the template's left eye


@pytest.mark.parametrize(
    "build, message",
    [
        (lambda p: p, "model file not found"),
        (lambda p: p.write_text("not a model") and p, "not an ONNX model"),
        (lambda p: arcface_like(p, side=56), "takes (N, 3, 112, 112)"),
        (lambda p: arcface_like(p, output_rank=3), "returns (N, d)"),
    ],
    ids=["missing", "not-onnx", "wrong-input", "wrong-output"],
)
def test_unusable_model_files_are_refused_by_name(tmp_path, build, message):
    path = tmp_path / "model.onnx"
    build(path)
    settings = Settings(onnx_embedder_model=path)
    for attempt in (
        lambda: embedding_space_of("onnx-arcface", settings),
        lambda: create_embedder("onnx-arcface", settings),
    ):
        with pytest.raises(ConfigError) as error:
            attempt()
        assert str(path) in str(error.value) and message in str(error.value)


def test_an_unset_model_names_the_setting():
    with pytest.raises(ConfigError, match="FACESIFT_ONNX_EMBEDDER_MODEL is not set"):
        embedding_space_of("onnx-arcface", Settings(onnx_embedder_model=None))
