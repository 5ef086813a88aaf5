import numpy as np

from facesift.embed import create_embedder
from facesift.embed.base import embedding_space_of
from tests.conftest import rgb_of, strongest


def test_space_is_declared_without_loading_the_model():
    space = embedding_space_of("dlib-resnet")
    assert space.key == "dlib-resnet/v1/128/euclidean"


def test_same_person_is_close_and_different_people_are_far(dlib_analyser, photos):
    collins = strongest(dlib_analyser.analyse_pixels(rgb_of(photos["collins"]))).embedding
    mirrored = strongest(dlib_analyser.analyse_pixels(rgb_of(photos["collins_mirrored"]))).embedding
    hopper = strongest(dlib_analyser.analyse_pixels(rgb_of(photos["hopper"]))).embedding
    assert collins.shape == (128,) and collins.dtype == np.float32
    assert np.linalg.norm(collins - mirrored) < 0.45
    assert np.linalg.norm(collins - hopper) > 0.6  # dlib's documented same-person limit


def test_batch_embedding_equals_one_at_a_time(dlib_analyser, photos):
    embedder = create_embedder("dlib-resnet")
    from facesift.align import aligned_chip

    chips = []
    for key in ("collins", "hopper"):
        rgb = rgb_of(photos[key])
        face = strongest(dlib_analyser.detector.detect(rgb))
        chips.append(aligned_chip(rgb, face.box, face.landmarks, embedder.chip))
    batch = embedder.embed(chips)
    single = np.vstack([embedder.embed([c]) for c in chips])
    assert batch.shape == (2, 128)
    np.testing.assert_allclose(batch, single, atol=1e-5)
    assert embedder.embed([]).shape == (0, 128)
