"""docs/cli.md, generated from the commands' own ``--help`` (``make docs`` writes it;
tests/unit/cli/test_cli_docs.py fails when it is stale)."""

from __future__ import annotations

import sys
from typing import Any

import typer

from facesift.cli.app import app

WIDTH = 100
HEADER = """# Command-line reference

Generated from `facesift --help` by `make docs` (`python -m facesift.cli.docs > docs/cli.md`);
a test fails when this file and the commands disagree. Every command acts as the operator named
by `FACESIFT_OPERATOR` (or `FACESIFT_API_KEY`) on the gallery in `FACESIFT_DATA_DIR`.
"""


def _plain_help(command: Any, context: Any) -> str:
    """The command's help as click formats it (Typer's Rich panels depend on the terminal)."""
    if hasattr(command, "rich_markup_mode"):
        command.rich_markup_mode = None
    formatter = context.make_formatter()
    command.format_help(context, formatter)
    return str(formatter.getvalue()).rstrip()


def _walk(command: Any, context: Any, path: list[str]) -> list[str]:
    sections = [f"## `{' '.join(path)}`\n\n```text\n{_plain_help(command, context)}\n```\n"]
    if hasattr(command, "list_commands"):  # a group (Typer vendors click: duck-typed)
        for name in sorted(command.list_commands(context)):
            sub = command.get_command(context, name)
            if sub is None or sub.hidden:
                continue
            child = sub.context_class(sub, info_name=name, parent=context)
            sections += _walk(sub, child, [*path, name])
    return sections


def cli_reference() -> str:
    root = typer.main.get_command(app)
    context = root.context_class(
        root, info_name="facesift", terminal_width=WIDTH, max_content_width=WIDTH
    )
    return HEADER + "\n" + "\n".join(_walk(root, context, ["facesift"]))


if __name__ == "__main__":
    sys.stdout.write(cli_reference())
