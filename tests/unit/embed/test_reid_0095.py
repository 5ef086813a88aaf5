import io
import os
import subprocess
import sys
import threading
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from facesift.align.chips import reid_0095_chip
from facesift.detect import create_detector
from facesift.embed import available_embedders, create_embedder
from facesift.embed.base import embedding_space_of
from facesift.errors import ConfigError, InputError
from facesift.models.shipped import REID_0095_INT8_BIN, REID_0095_INT8_XML, file_sha256
from facesift.pipeline import FaceAnalyser
from tests.conftest import rgb_of, strongest


@pytest.fixture(scope="module")
def embedder():
    return create_embedder("reid-0095")


@pytest.fixture(scope="module")
def detector():
    return create_detector("yunet", min_face_size=40, max_detect_side=1600)


@pytest.fixture(scope="module")
def chips(photos, detector):
    """Aligned chips of Collins, Collins mirrored, Collins re-encoded at JPEG 70, and Hopper."""
    collins = rgb_of(photos["collins"])
    buffer = io.BytesIO()
    Image.fromarray(collins).save(buffer, format="JPEG", quality=70)
    jpeg70 = np.asarray(Image.open(buffer).convert("RGB"))
    images = {
        "collins": collins,
        "mirrored": rgb_of(photos["collins_mirrored"]),
        "jpeg70": jpeg70,
        "hopper": rgb_of(photos["hopper"]),
    }
    return {
        name: reid_0095_chip(rgb, strongest(detector.detect(rgb)).landmarks)
        for name, rgb in images.items()
    }


@pytest.fixture(scope="module")
def raw_request():
    """Intel's IR as published (static 1x3x128x128), straight on OpenVINO, none of our code."""
    import openvino as ov

    core = ov.Core()
    model = core.read_model(str(REID_0095_INT8_XML.path), str(REID_0095_INT8_BIN.path))
    return core.compile_model(
        model, "CPU", {"INFERENCE_PRECISION_HINT": "f32"}
    ).create_infer_request()


def reference_embedding(raw_request, chip_rgb: np.ndarray, channels=(2, 1, 0)) -> np.ndarray:
    """The documented way: 1x3x128x128 BGR float 0..255, no normalisation; output normalised."""
    blob = chip_rgb[..., list(channels)].transpose(2, 0, 1)[None].astype(np.float32)
    raw_request.infer({0: blob})
    output = np.array(raw_request.get_output_tensor(0).data).reshape(-1)
    return output / np.linalg.norm(output)


def test_space_names_the_weights_and_is_known_without_loading():
    space = embedding_space_of("reid-0095")
    digest = file_sha256(REID_0095_INT8_BIN.path)
    assert (space.model, space.version, space.dimension, space.metric) == (
        "reid-0095",
        "int8-" + digest[:12],
        256,
        "euclidean",
    )
    # Galleries record this key; it must not change while the weights stay the same.
    assert space.key == "reid-0095/int8-b422592479d8/256/euclidean"
    assert "reid-0095" in available_embedders()


def test_vectors_are_256d_unit_length_and_deterministic(embedder, chips):
    vectors = embedder.embed([chips["collins"], chips["hopper"]])
    assert vectors.shape == (2, 256) and vectors.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    np.testing.assert_array_equal(embedder.embed([chips["collins"], chips["hopper"]]), vectors)
    again = create_embedder("reid-0095")
    np.testing.assert_allclose(again.embed([chips["collins"]])[0], vectors[0], atol=1e-6)
    assert embedder.embed([]).shape == (0, 256)
    assert embedder.space == embedding_space_of("reid-0095")


def test_same_face_is_much_closer_than_another_person(embedder, chips):
    collins, mirrored, jpeg70, hopper = embedder.embed(
        [chips["collins"], chips["mirrored"], chips["jpeg70"], chips["hopper"]]
    )
    stranger = np.linalg.norm(collins - hopper)
    assert stranger > 1.0  # unit vectors: cosine below 0.5
    assert np.linalg.norm(collins - jpeg70) < 0.25 * stranger
    assert np.linalg.norm(collins - mirrored) < 0.6 * stranger


def test_batch_and_single_give_the_same_vectors(embedder, chips):
    names = ["collins", "mirrored", "jpeg70", "hopper"]
    batch = embedder.embed([chips[n] for n in names] * 5)  # 20 chips, more than one call's worth
    singles = np.stack([embedder.embed([chips[n]])[0] for n in names] * 5)
    np.testing.assert_allclose(batch, singles, atol=1e-5)


def test_chips_are_fed_as_bgr_as_the_publisher_documents(embedder, chips, raw_request):
    for name in ("collins", "hopper"):
        ours = embedder.embed([chips[name]])[0]
        documented = reference_embedding(raw_request, chips[name])
        swapped = reference_embedding(
            raw_request, chips[name], channels=(0, 1, 2)
        )  # RGB fed as if BGR
        np.testing.assert_allclose(ours, documented, atol=1e-5)
        # The swap is not harmless: it moves the vector well beyond the tolerance above.
        assert np.linalg.norm(ours - swapped) > 0.05


def test_concurrent_calls_from_threads_give_the_serial_vectors(embedder, chips):
    names = ["collins", "mirrored", "jpeg70", "hopper"]
    serial = {n: embedder.embed([chips[n]])[0] for n in names}
    results: dict[tuple[int, str], np.ndarray] = {}
    start = threading.Barrier(len(names))

    def work(worker: int, name: str) -> None:
        start.wait()
        for round_number in range(10):
            results[(worker * 100 + round_number, name)] = embedder.embed([chips[name]])[0]

    threads = [threading.Thread(target=work, args=(i, n)) for i, n in enumerate(names)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(results) == 40
    for (_, name), vector in results.items():
        np.testing.assert_allclose(vector, serial[name], atol=1e-6)


def test_the_stream_count_does_not_change_a_vector(chips):
    """Streams only let callers on several threads infer at once (compile_ir): a gallery embedded
    on a machine with more cores must hold the same vectors, bit for bit, as on one with one."""
    from facesift.embed.reid_0095 import Reid0095Embedder, compile_shipped_model

    names = ["collins", "hopper", "mirrored", "jpeg70"] * 5  # one batch of 16, four singles
    embedded = {
        streams: Reid0095Embedder(
            {batch: compile_shipped_model(batch, streams=streams) for batch in (16, 1)}
        ).embed([chips[n] for n in names])
        for streams in (1, 2, 4)
    }
    np.testing.assert_array_equal(embedded[2], embedded[1])
    np.testing.assert_array_equal(embedded[4], embedded[1])


def test_injected_models_are_used_and_batch_one_is_required(chips):
    from facesift.embed.reid_0095 import Reid0095Embedder, shipped_models

    models = shipped_models()
    only_singles = Reid0095Embedder({1: models[1]})
    names = ["collins", "hopper"] * 9  # 18 chips, one call each
    np.testing.assert_array_equal(
        only_singles.embed([chips[n] for n in names]),
        Reid0095Embedder().embed([chips[n] for n in names]),
    )
    with pytest.raises(ConfigError, match="batch size 1"):
        Reid0095Embedder({16: models[16]})


def test_a_compiled_model_loaded_from_the_cache_gives_the_same_vectors(embedder, chips, tmp_path):
    from facesift.embed.reid_0095 import Reid0095Embedder, compile_shipped_model

    cache = tmp_path / "model-cache"
    names = ["collins", "hopper", "mirrored"] * 6  # 18 chips: one batch of 16, two singles
    expected = embedder.embed([chips[n] for n in names])
    for attempt in ("compiled into the cache", "loaded from it"):
        models = {batch: compile_shipped_model(batch, cache_dir=cache) for batch in (16, 1)}
        assert any(cache.iterdir()), attempt
        np.testing.assert_array_equal(
            Reid0095Embedder(models).embed([chips[n] for n in names]), expected, err_msg=attempt
        )


def test_a_cache_folder_that_cannot_be_made_means_no_cache_not_a_failure(chips, tmp_path):
    from facesift.embed.reid_0095 import Reid0095Embedder, compile_shipped_model

    blocked = tmp_path / "a-file"
    blocked.write_bytes(b"")  # the cache would have to be a folder inside a file
    model = compile_shipped_model(1, cache_dir=blocked / "cache")
    vector = Reid0095Embedder({1: model}).embed([chips["collins"]])
    assert vector.shape == (1, 256)
    assert blocked.read_bytes() == b""


def test_a_chip_of_the_wrong_size_is_refused_by_position(embedder, chips):
    with pytest.raises(InputError, match=r"chip 1: shape \(112, 112, 3\)"):
        embedder.embed([chips["collins"], np.zeros((112, 112, 3), np.uint8)])


def test_pipeline_embeds_with_yunet_landmarks_and_refuses_dlib_ones(embedder, detector, photos):
    analyser = FaceAnalyser(detector, embedder, max_image_pixels=50_000_000)
    faces = analyser.analyse_file(Path(photos["group"])).faces
    assert len(faces) >= 2
    vectors = np.stack([face.embedding for face in faces])
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    hog = create_detector("dlib-hog", min_face_size=40, max_detect_side=1600)
    with pytest.raises(ConfigError, match="embedder reid-0095 aligns on 5 landmarks") as refused:
        FaceAnalyser(hog, embedder, max_image_pixels=50_000_000)
    assert "dlib-5" in str(refused.value) and "yunet" in str(refused.value)


@pytest.mark.lfw
def test_on_lfw_a_persons_other_photo_is_nearer_than_ten_strangers(lfw_root, embedder, detector):
    people = sorted(
        p.name for p in lfw_root.iterdir() if p.is_dir() and len(list(p.glob("*.jpg"))) >= 4
    )
    chosen, strangers = people[:: len(people) // 5][:5], people[7::50][:10]

    def vectors(person: str, wanted: int) -> list[np.ndarray]:
        """The central face of the person's first ``wanted`` photos where a face is found."""
        found = []
        for path in sorted((lfw_root / person).glob("*.jpg")):
            rgb = rgb_of(path)
            centre = np.array(rgb.shape[1::-1]) / 2
            faces = detector.detect(rgb)
            if faces:
                face = min(faces, key=lambda f: np.sum((_centre(f.box) - centre) ** 2))
                found.append(embedder.embed([reid_0095_chip(rgb, face.landmarks)])[0])
            if len(found) == wanted:
                return found
        pytest.fail(f"{person}: fewer than {wanted} photos with a face")

    others = {name: vectors(name, 1)[0] for name in strangers}
    for person in chosen:
        probe, mate = vectors(person, 2)
        nearest_stranger = min(
            np.linalg.norm(probe - v) for name, v in others.items() if name != person
        )
        assert np.linalg.norm(probe - mate) < nearest_stranger, person


def _centre(box) -> np.ndarray:
    return np.array([box.left + box.right, box.top + box.bottom]) / 2


FIRST_USE_ON_THREADS = r"""
import threading, numpy as np
from facesift import Settings
from facesift.pipeline import AnalyserPool
from skimage import data
pool, photo = AnalyserPool(Settings(), size=4), data.astronaut()
start, results = threading.Barrier(4), []
def search():
    start.wait()  # all four threads touch the models for the first time together
    with pool.borrowed() as analyser:
        results.append(len(analyser.analyse_pixels(photo)))
threads = [threading.Thread(target=search) for _ in range(4)]
[t.start() for t in threads]
[t.join() for t in threads]
print(results)
"""


def test_a_servers_first_searches_on_several_threads_at_once_do_not_hang():
    """In a fresh process, four threads build their analysers and embed at the same moment, as a
    server's first concurrent searches do (this once deadlocked inside OpenVINO). The timeout
    only turns a hang into a failure; nothing about speed is asserted."""
    import subprocess
    import sys

    done = subprocess.run(
        [sys.executable, "-c", FIRST_USE_ON_THREADS], capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[1, 1, 1, 1]"


def test_compiled_models_are_cached_for_the_user_and_never_in_a_gallery(tmp_path):
    """One compile serves every gallery of the user (a new gallery's first ingest loads it), and
    the data directory, whose every file erasure must account for, holds no model files."""
    data, cache = tmp_path / "data", tmp_path / "xdg-cache"
    env = {**os.environ, "XDG_CACHE_HOME": str(cache), "FACESIFT_DATA_DIR": str(data)}
    env.pop("FACESIFT_MODEL_CACHE_DIR", None)
    script = (
        "from facesift.config import Settings\n"
        "from facesift.embed.reid_0095 import Reid0095Embedder\n"
        "settings = Settings()\n"
        "print(settings.model_cache_dir)\n"
        "Reid0095Embedder.from_settings(settings)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == str(cache / "facesift" / "models")
    assert list((cache / "facesift" / "models" / "openvino").glob("*.blob"))
    assert not data.exists() or not any(data.rglob("*"))
