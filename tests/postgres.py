"""A PostgreSQL server for tests: a throwaway cluster from scripts/postgres.sh (which installs
Debian's server when run as root), or an existing server named by FACESIFT_TEST_POSTGRES_URL."""

from __future__ import annotations

import os
import subprocess
import uuid
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

SCRIPT = Path(__file__).resolve().parents[1] / "scripts" / "postgres.sh"
# An odd, non-whole-hour offset: the catalog must return UTC whatever the server's time zone.
SERVER_TIME_ZONE = "Pacific/Chatham"


class PostgresServer:
    def __init__(self, url: str, cluster_dir: str | None = None):
        self.url = url
        self.cluster_dir = cluster_dir
        self._admin = create_engine(url, isolation_level="AUTOCOMMIT")
        self._databases: list[str] = []

    def new_database(self) -> str:
        """The URL of a new, empty database (one per test: catalogs never see each other)."""
        name = f"facesift_test_{uuid.uuid4().hex[:12]}"
        with self._admin.connect() as connection:
            connection.execute(text(f'CREATE DATABASE "{name}"'))
            connection.execute(
                text(f"ALTER DATABASE \"{name}\" SET timezone TO '{SERVER_TIME_ZONE}'")
            )
        self._databases.append(name)
        return make_url(self.url).set(database=name).render_as_string(hide_password=False)

    def stop(self) -> None:
        if self.cluster_dir is None:  # someone else's server: leave it as found
            with self._admin.connect() as connection:
                for name in self._databases:
                    connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        self._admin.dispose()
        if self.cluster_dir is not None:
            subprocess.run(["bash", str(SCRIPT), "stop", self.cluster_dir], check=True)


def start_server() -> PostgresServer:
    """Start (or reach) a server; skip the calling test with the reason when there is none."""
    try:
        import psycopg  # noqa: F401
    except ImportError:
        pytest.skip("psycopg is not installed: pip install -e '.[postgres]' (make test does)")
    external = os.environ.get("FACESIFT_TEST_POSTGRES_URL")
    if external:
        return PostgresServer(external)
    started = subprocess.run(
        ["bash", str(SCRIPT), "start"], capture_output=True, text=True, timeout=900
    )
    if started.returncode != 0:
        pytest.skip(f"no PostgreSQL server for these tests: {started.stderr.strip()}")
    values = dict(line.split("=", 1) for line in started.stdout.splitlines() if "=" in line)
    return PostgresServer(values["FACESIFT_CATALOG_URL"], values["FACESIFT_PG_DIR"])
