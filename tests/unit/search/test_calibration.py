import numpy as np
import pytest

from facesift.embed.base import embedding_space_of
from facesift.search.calibration import Calibration, measure_calibration, shipped_calibration
from facesift.types import EmbeddingSpace

SPACE = EmbeddingSpace("test", "v1", 4, "euclidean")


def test_measured_rates_follow_the_histograms():
    edges = np.array([0.0, 0.25, 0.5, 0.75, 1.0])
    genuine = np.array([6, 3, 1, 0])  # 10 genuine pairs
    impostor = np.array([0, 1, 9, 90])  # 100 impostor pairs
    calibration = measure_calibration(genuine, impostor, edges, SPACE, "toy")
    assert calibration.false_match_rate(0.5) == 0.01
    assert calibration.false_non_match_rate(0.5) == pytest.approx(0.1)
    assert calibration.threshold_for(0.01) == 0.5
    assert calibration.threshold_for(0.1) == 0.75
    # Below anything measured the rate is floored at the resolution, never reported as zero.
    assert calibration.false_match_rate(0.1) == calibration.resolution == 0.01
    again = Calibration.from_json(calibration.to_json())
    assert again.false_match_rate(0.6) == calibration.false_match_rate(0.6)


def test_shipped_calibration_is_consistent():
    calibration = shipped_calibration(embedding_space_of("dlib-resnet"))
    assert calibration.space == "dlib-resnet/v1/128/euclidean"
    assert calibration.impostor_pairs > 1_000_000 and calibration.genuine_pairs > 100_000
    assert np.all(np.diff(calibration.false_match_rates) >= 0)
    assert np.all(np.diff(calibration.false_non_match_rates) <= 0)
    # dlib documents 0.6 as its "same person" distance on LFW; a 1e-3 FMR should sit below it.
    assert 0.35 < calibration.threshold_for(1e-3) < 0.6
    assert calibration.false_match_rate(0.6) > 1e-3


def test_the_cluster_link_distance_comes_from_the_calibration_or_its_fmr():
    from facesift.search.calibration import CLUSTER_LINK_FMR, Calibration

    dlib = shipped_calibration(embedding_space_of("dlib-resnet"))
    assert dlib.default_cluster_threshold == 0.40  # measured best on LFW (docs/accuracy.md)
    text = dlib.to_json()
    assert Calibration.from_json(text).cluster_threshold == 0.40
    without = Calibration.from_json(text.replace('"cluster_threshold": 0.4,', ""))
    assert without.cluster_threshold is None
    assert without.default_cluster_threshold == without.threshold_for(CLUSTER_LINK_FMR)
    assert abs(without.default_cluster_threshold - 0.40) < 0.02  # where dlib's 0.40 lies
