"""OpenAPI operation ids are the handlers' names, unique and stable: a generated client's method
names do not change when a path or a tag does."""

import pytest

pytest.importorskip("fastapi", reason="the API tests need the 'serve' extra")

from facesift import Settings  # noqa: E402
from facesift.serve.app import create_app  # noqa: E402

# Published ids: renaming one breaks clients, so it is a deliberate change made here too.
PUBLISHED = {
    "add_source": ("post", "/api/v1/sources"),
    "list_sources": ("get", "/api/v1/sources"),
    "ingest": ("post", "/api/v1/sources/{source}/ingest"),
    "search": ("post", "/api/v1/search"),
    "verify": ("post", "/api/v1/verify"),
    "stats": ("get", "/api/v1/stats"),
    "health_unversioned": ("get", "/health"),
}


def test_operation_ids_are_the_handler_names(tmp_path):
    app = create_app(Settings(data_dir=tmp_path / "data", workers=1))
    try:
        spec = app.openapi()
    finally:
        app.state.engine.close()
    ids = {
        operation["operationId"]: (method, path)
        for path, operations in spec["paths"].items()
        for method, operation in operations.items()
    }
    count = sum(len(operations) for operations in spec["paths"].values())
    assert len(ids) == count  # unique
    for name, where in PUBLISHED.items():
        assert ids.get(name) == where, name
    assert all(name.isidentifier() and "api_v1" not in name for name in ids)
