"""The model files inside the package are the published ones, and a changed file is refused."""

from __future__ import annotations

import shutil
from dataclasses import replace

import pytest

from facesift.errors import ConfigError
from facesift.models import shipped
from facesift.models.shipped import ALL_SHIPPED, MODELS_DIR, file_sha256, verified_path


@pytest.mark.parametrize("model_file", ALL_SHIPPED, ids=lambda f: f.relative_path)
def test_shipped_file_has_the_publishers_sha256(model_file):
    assert file_sha256(model_file.path) == model_file.sha256
    assert verified_path(model_file) == model_file.path


@pytest.mark.parametrize("folder", sorted(p for p in MODELS_DIR.iterdir() if p.is_dir()))
def test_every_shipped_model_folder_carries_its_licence(folder):
    if folder.name == "__pycache__":
        pytest.skip("not a model folder")
    assert list(folder.glob("LICENSE*")), f"{folder.name} ships without its licence text"
    assert (MODELS_DIR / "PROVENANCE.md").read_text().count(folder.name) >= 1


def test_a_modified_model_file_is_refused_with_its_path(tmp_path, monkeypatch):
    original = shipped.YUNET_2023MAR
    copy = tmp_path / original.relative_path
    copy.parent.mkdir(parents=True)
    shutil.copyfile(original.path, copy)
    with copy.open("r+b") as stream:  # flip one byte in the middle of the weights
        stream.seek(copy.stat().st_size // 2)
        byte = stream.read(1)
        stream.seek(-1, 1)
        stream.write(bytes([byte[0] ^ 0xFF]))
    monkeypatch.setattr(shipped, "MODELS_DIR", tmp_path)
    tampered = replace(original, relative_path=original.relative_path)
    with pytest.raises(ConfigError, match="is not the published") as refused:
        verified_path(tampered)
    assert str(copy) in str(refused.value)


def test_a_missing_model_file_says_to_reinstall(tmp_path, monkeypatch):
    monkeypatch.setattr(shipped, "MODELS_DIR", tmp_path)
    with pytest.raises(ConfigError, match="reinstall"):
        verified_path(replace(shipped.YUNET_2023MAR, relative_path="nowhere/model.onnx"))
