"""Accuracy on a slice of the real LFW protocol, through the product's own pipeline."""

import numpy as np
import pytest

from facesift import Settings
from facesift.embed.base import embedding_space_of
from facesift.eval import lfw
from facesift.search.calibration import shipped_calibration

pytestmark = pytest.mark.lfw


# Each pipeline's published LFW figure, less a margin for a 200-pair slice at a threshold fixed in
# advance: Intel publishes 99.47% for face-reidentification-retail-0095, dlib 99.38% for its ResNet
# (our HOG misses some turned heads, docs/accuracy.md).
PIPELINES = {
    "default": ({}, 0.98),
    "dlib": ({"detector": "dlib-hog", "embedder": "dlib-resnet"}, 0.97),
}


@pytest.mark.parametrize("pipeline", sorted(PIPELINES))
def test_first_fold_of_lfw_pairs(lfw_root, tmp_path, pipeline):
    models, floor = PIPELINES[pipeline]
    if "dlib-resnet" in models.values():
        pytest.importorskip("dlib", reason="the dlib extra is not installed")
    settings = Settings(workers=2, **models)
    pairs = [p for p in lfw.read_pairs(lfw_root / "pairs.txt") if p.fold == 0]
    pairs = pairs[:100] + pairs[300:400]  # 100 same-person and 100 different-person pairs
    photos = sorted({p.a for p in pairs} | {p.b for p in pairs})
    embeddings = lfw.embed_photos(lfw_root, photos, settings, cache=tmp_path / "c.npz")
    distances = lfw.pair_distances(pairs, embeddings)
    same = np.array([p.same for p in pairs])
    space = embedding_space_of(settings.embedder, settings)
    threshold = shipped_calibration(space).threshold_for(1e-2)
    accuracy = np.mean((distances <= threshold) == same)
    assert accuracy >= floor, accuracy
    # HOG misses some strongly turned faces: ~1% of View-2 pairs have a failure to enrol.
    assert np.isfinite(distances).mean() >= 0.98
    # The cache is reused: a second call computes nothing new and returns the same vectors.
    again = lfw.embed_photos(lfw_root, photos, Settings(workers=1), cache=tmp_path / "c.npz")
    assert all(
        (again[p] is None) == (embeddings[p] is None)
        and (again[p] is None or np.array_equal(again[p], embeddings[p]))
        for p in photos
    )
