from pathlib import Path

import pytest

from facesift.errors import InputError
from facesift.read.folders import display_path, iter_image_files


def test_walks_folders_recursively_in_order_skipping_hidden_and_non_images(tmp_path):
    (tmp_path / "b").mkdir()
    (tmp_path / ".hidden").mkdir()
    for name in ("b/2.jpg", "b/1.PNG", "a.jpeg", "notes.txt", ".secret.jpg", ".hidden/x.jpg"):
        (tmp_path / name).write_bytes(b"x")
    found = [p.relative_to(tmp_path).as_posix() for p in iter_image_files([tmp_path])]
    assert found == ["a.jpeg", "b/1.PNG", "b/2.jpg"]


def test_a_named_file_is_taken_whatever_its_suffix(tmp_path):
    named = tmp_path / "scan.dat"
    named.write_bytes(b"x")
    assert list(iter_image_files([named])) == [named]


def test_symlink_loops_do_not_trap_the_walk(tmp_path):
    (tmp_path / "photo.jpg").write_bytes(b"x")
    (tmp_path / "loop").symlink_to(tmp_path, target_is_directory=True)
    assert [p.name for p in iter_image_files([tmp_path])] == ["photo.jpg"]


def test_missing_path_is_named(tmp_path):
    with pytest.raises(InputError, match="nowhere: no such file or folder"):
        list(iter_image_files([tmp_path / "nowhere"]))


def test_display_path_survives_undecodable_bytes():
    name = Path(b"caf\xe9.jpg".decode("utf-8", "surrogateescape"))
    assert display_path(name) == "caf\\xe9.jpg"
