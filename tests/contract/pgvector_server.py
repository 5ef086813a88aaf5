"""A PostgreSQL server with the pgvector extension for the pgvector index's tests.

Debian bookworm packages no pgvector, so the server is the PostgreSQL 16 that the PyPI package
pgserver bundles with pgvector built in (extra ``pgvector``; ``make test`` installs it), started
by ``scripts/postgres.sh start --pgvector`` as a throwaway cluster on a unix socket. An existing
server with pgvector can be named by FACESIFT_TEST_PGVECTOR_URL instead. Each test gets a new
database (``new_database()``), so one test's tables never meet another's.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from facesift.types import EmbeddingSpace
from tests.postgres import SCRIPT, PostgresServer


def start_pgvector_server() -> PostgresServer:
    """Start (or reach) the server; skip the calling tests with the reason when there is none."""
    for module, package in (("psycopg", "psycopg"), ("pgvector", "pgvector")):
        pytest.importorskip(
            module, reason=f"{package} is not installed: pip install -e '.[pgvector]' (make test)"
        )
    external = os.environ.get("FACESIFT_TEST_PGVECTOR_URL")
    if external:
        return PostgresServer(external)
    pytest.importorskip(
        "pgserver",
        reason="pgserver (PostgreSQL with pgvector for the tests) is not installed: "
        "pip install -e '.[pgvector]' (make test does), or set FACESIFT_TEST_PGVECTOR_URL",
    )
    started = subprocess.run(
        ["bash", str(SCRIPT), "start", "--pgvector"],
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "FACESIFT_PG_PYTHON": sys.executable},
    )
    if started.returncode != 0:
        pytest.skip(f"no PostgreSQL server with pgvector for these tests: {started.stderr.strip()}")
    values = dict(line.split("=", 1) for line in started.stdout.splitlines() if "=" in line)
    return PostgresServer(values["FACESIFT_CATALOG_URL"], values["FACESIFT_PG_DIR"])


@pytest.fixture(scope="session")
def pgvector_server():
    server = start_pgvector_server()
    yield server
    server.stop()


_databases: dict[Path, str] = {}


def pgvector_index(folder: Path, space: EmbeddingSpace, server: PostgresServer):
    """A PgVectorIndex in the database of ``folder`` (one test): the same database each time
    it is opened again, so reopening sees what was stored."""
    from facesift.index.pgvector import PgVectorIndex

    if folder not in _databases:
        _databases[folder] = server.new_database()
    return PgVectorIndex(_databases[folder], space, table="contract")
