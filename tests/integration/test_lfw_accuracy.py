"""Accuracy on a slice of the real LFW protocol, through the product's own pipeline."""

import numpy as np
import pytest

from facesift import Settings
from facesift.embed.base import embedding_space_of
from facesift.eval import lfw
from facesift.search.calibration import shipped_calibration

pytestmark = pytest.mark.lfw


def test_first_fold_of_lfw_pairs(lfw_root, tmp_path):
    pairs = [p for p in lfw.read_pairs(lfw_root / "pairs.txt") if p.fold == 0]
    pairs = pairs[:100] + pairs[300:400]  # 100 same-person and 100 different-person pairs
    photos = sorted({p.a for p in pairs} | {p.b for p in pairs})
    embeddings = lfw.embed_photos(lfw_root, photos, Settings(workers=2), cache=tmp_path / "c.npz")
    distances = lfw.pair_distances(pairs, embeddings)
    same = np.array([p.same for p in pairs])
    threshold = shipped_calibration(embedding_space_of("dlib-resnet")).threshold_for(1e-2)
    accuracy = np.mean((distances <= threshold) == same)
    # dlib reports 99.38% for this model on all of View 2; a 200-pair slice at a threshold fixed
    # in advance should stay within a couple of points of it.
    assert accuracy >= 0.97, accuracy
    # HOG misses some strongly turned faces: ~1% of View-2 pairs have a failure to enrol.
    assert np.isfinite(distances).mean() >= 0.98
    # The cache is reused: a second call computes nothing new and returns the same vectors.
    again = lfw.embed_photos(lfw_root, photos, Settings(workers=1), cache=tmp_path / "c.npz")
    assert all(
        (again[p] is None) == (embeddings[p] is None)
        and (again[p] is None or np.array_equal(again[p], embeddings[p]))
        for p in photos
    )
