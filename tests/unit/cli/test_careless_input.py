"""Careless and hostile input at the command line (issue #12): special files named like photos,
names that carry terminal escapes or markup, and a gallery others on the machine could read."""

import json
import os
import stat
import threading
from pathlib import Path

from facesift import FaceSift, Settings
from tests.conftest import add_source, operators
from tests.unit.cli.test_cli import add_source as add_cli_source
from tests.unit.cli.test_cli import run

# An OSC sequence that would retitle the terminal, a cursor move, a bell and Rich markup.
HOSTILE = "evil\x1b]0;pwned\x07\x1b[2J[bold red]x"  # no "/": it is also a file name


def test_a_fifo_or_device_named_like_a_photo_is_skipped_with_a_message(photos, tmp_path):
    folder = tmp_path / "photos"
    folder.mkdir()
    (folder / "real.jpg").write_bytes(photos["hopper"].read_bytes())
    os.mkfifo(folder / "waiting.jpg")  # opened for reading, a FIFO blocks until a writer comes
    with FaceSift(Settings(data_dir=tmp_path / "data", workers=1)) as engine:
        admin, _ = operators(engine)
        add_source(engine, admin, "s")
        outcome: dict = {}

        def ingest() -> None:
            outcome["report"] = engine.ingest(admin, [folder, Path("/dev/zero")], "s")

        worker = threading.Thread(target=ingest, daemon=True)
        worker.start()
        worker.join(timeout=120)
        assert not worker.is_alive(), "the ingest hung on a special file"
        report = outcome["report"]
    assert report.images_ingested == 1
    reasons = dict(report.errors)
    assert len(reasons) == 2, reasons
    for name in (str(folder / "waiting.jpg"), "/dev/zero"):
        assert reasons[name] == "not a regular file (a FIFO, device or socket): skipped"


def test_names_are_shown_as_they_are_never_as_terminal_codes_or_markup(photos, tmp_path):
    data = tmp_path / "data"
    run("init", data_dir=data, operator="")
    add_cli_source(data, "s")
    folder = tmp_path / "photos"
    folder.mkdir()
    (folder / f"{HOSTILE}.jpg").write_bytes(b"not a jpeg")  # its error names the file
    (folder / "hopper.jpg").write_bytes(photos["hopper"].read_bytes())
    (folder / "collins-mirrored.jpg").write_bytes(photos["collins_mirrored"].read_bytes())
    ingest = run("ingest", str(folder), "--source", "s", data_dir=data)
    assert "\x1b" not in ingest.stderr and "\x07" not in ingest.stderr
    assert "evil\\x1b]0;pwned\\x07\\x1b[2J[bold red]x.jpg" in ingest.stderr

    run("cluster", data_dir=data)
    run("user", "add", "ina", "--role", "investigator", data_dir=data)
    listed = run(
        "identity", "list", "--min-faces", "1", "--json", data_dir=data, operator="ina"
    ).stdout
    identity_id = json.loads(listed)[0]["id"]
    named = run("identity", "name", str(identity_id), HOSTILE, data_dir=data, operator="ina")
    table = run("identity", "list", "--min-faces", "1", data_dir=data, operator="ina")
    for output in (named.stdout, table.stdout):
        assert "\x1b" not in output and "\x07" not in output
    assert "evil\\x1b]0;pwned\\x07\\x1b[2J[bold red]x" in table.stdout.replace("\n", "")


def test_the_data_directory_and_its_files_are_private_to_their_owner(tmp_path):
    data = tmp_path / "new" / "data"
    run("init", data_dir=data, operator="")
    assert stat.S_IMODE(data.stat().st_mode) == 0o700
    files = [path for path in data.rglob("*") if path.is_file()]
    assert files
    for path in files:
        assert stat.S_IMODE(path.stat().st_mode) & 0o077 == 0, path


def test_a_gallery_made_from_python_is_in_a_private_folder(tmp_path):
    with FaceSift(Settings(data_dir=tmp_path / "lib", workers=1)) as engine, engine.writer_lock():
        pass
    assert stat.S_IMODE((tmp_path / "lib").stat().st_mode) & 0o077 == 0
    # The writer lock is the library's own file: private whatever the caller's umask.
    assert stat.S_IMODE((tmp_path / "lib" / ".writer.lock").stat().st_mode) == 0o600
