"""A gallery whose embedding space has no calibration makes no match decisions, and says so;
its other endpoints work. Regression: GET /api/v1/stats answered 500 there (the response model
required a match threshold)."""

import pytest

pytest.importorskip("fastapi", reason="the API tests need the 'serve' extra")
pytest.importorskip("onnxruntime", reason="extra 'onnx' not installed (make test does)")

from fastapi.testclient import TestClient  # noqa: E402

from facesift import Settings  # noqa: E402
from facesift.serve.app import create_app  # noqa: E402
from tests.onnx_models import arcface_like  # noqa: E402


def test_stats_of_a_gallery_without_calibration(tmp_path):
    model = arcface_like(tmp_path / "arcface-like.onnx")
    settings = Settings(
        data_dir=tmp_path / "data",
        workers=1,
        embedder="onnx-arcface",
        onnx_embedder_model=model,
    )
    app = create_app(settings)
    key = app.state.engine.create_first_admin("admin")
    with TestClient(app) as client:
        answer = client.get("/api/v1/stats", headers={"X-API-Key": key})
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["embedding_space"].startswith("onnx-arcface/") and body["faces"] == 0
    assert body["match_threshold"] is None and body["match_false_match_rate"] == 1e-3
