"""``facesift reembed`` as an operator runs it."""

import pytest

pytest.importorskip("onnxruntime", reason="the onnx extra is not installed")

from tests.onnx_models import arcface_like  # noqa: E402
from tests.unit.cli.test_cli import TERMS, run  # noqa: E402


def test_reembed_command_switches_models_with_a_summary(tmp_path, monkeypatch, photos):
    data = tmp_path / "data"
    monkeypatch.setenv("FACESIFT_MIN_FACE_SIZE", "80")
    run("init", data_dir=data, operator="")
    run("source", "add", "demo", "--basis", "legitimate-interest", "--jurisdiction", "GB",
        "--retention-days", "30", *TERMS, data_dir=data)  # fmt: skip
    run("ingest", str(photos["hopper"]), "--source", "demo", "--workers", "1", data_dir=data)

    monkeypatch.setenv("FACESIFT_EMBEDDER", "onnx-arcface")
    monkeypatch.setenv("FACESIFT_ONNX_EMBEDDER_MODEL", str(tmp_path / "missing.onnx"))
    missing = run("reembed", data_dir=data, check=False)
    assert missing.returncode == 2 and "missing.onnx: model file not found" in missing.stderr

    model = arcface_like(tmp_path / "arcface-like.onnx")
    monkeypatch.setenv("FACESIFT_ONNX_EMBEDDER_MODEL", str(model))

    done = run("reembed", "--workers", "1", data_dir=data)
    assert "to space" in done.stdout and "onnx-arcface/sha256-" in done.stdout
    assert "switched" in done.stdout and "yes" in done.stdout
    stats = run("stats", "--json", data_dir=data)
    assert '"embedding_space": "onnx-arcface/sha256-' in stats.stdout
    assert '"match_threshold": null' in stats.stdout  # not calibrated yet: no match decisions
