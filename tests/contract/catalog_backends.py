"""The catalog backends every contract test runs against, and how to get an empty catalog URL."""

from __future__ import annotations

from pathlib import Path

import pytest

CATALOG_BACKENDS = ["sqlite", "postgresql"]


def empty_catalog_url(request: pytest.FixtureRequest, backend: str, folder: Path) -> str:
    if backend == "sqlite":
        return f"sqlite:///{folder / 'catalog.sqlite'}"
    return request.getfixturevalue("postgres_server").new_database()
