"""The edges (serve/, cli/) call the engine's permission-checked methods; they never reach past
it into the catalog, the index, the writer or the operator registry (one such reach let
`facesift cluster` print identities to an administrator whom `identity list` refuses). Imports
are checked by the layers contract (`make layers`); attribute reaches, which it cannot see, here."""

import re
from pathlib import Path

import facesift

EDGES = ("serve", "cli")
# The engine keeps these private (``engine._catalog``...); an edge reaching them either way fails.
REACH = re.compile(r"\bengine\._?(catalog|index|keeper|operators|audit|writer)\b")


def test_the_edges_never_reach_past_the_engine():
    root = Path(facesift.__file__).parent
    reaches = [
        f"{path.relative_to(root)}:{number}: {line.strip()}"
        for edge in EDGES
        for path in sorted((root / edge).rglob("*.py"))
        for number, line in enumerate(path.read_text().splitlines(), start=1)
        if REACH.search(line)
    ]
    assert reaches == []


def test_the_check_finds_a_reach():
    assert REACH.search("counts = engine._catalog.source_counts()")
    assert REACH.search("counts = engine.catalog.source_counts()")
    assert not REACH.search("counts = engine.source_sizes(actor)")
