"""docs/cli.md is the commands' own --help: regenerate it with `make docs` when a command or an
option changes, or this test fails."""

from pathlib import Path

from facesift.cli.docs import cli_reference

DOCS = Path(__file__).resolve().parents[3] / "docs" / "cli.md"


def test_the_cli_reference_is_up_to_date():
    assert DOCS.read_text() == cli_reference(), "docs/cli.md is stale: run `make docs`"


def test_the_reference_covers_every_command():
    reference = cli_reference()
    for command in ("facesift search", "facesift subject access", "facesift identity merge"):
        assert f"## `{command}`" in reference
