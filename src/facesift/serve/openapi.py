"""The OpenAPI document as client generators read it (openapi-python-client, openapi-typescript).

FastAPI's document is right for the JSON bodies; three things are fixed here, once, for every
route:

- an uploaded file is ``{"type": "string", "format": "binary"}``: FastAPI writes only
  ``contentMediaType`` (OpenAPI 3.1), which generators read as a plain string, so a generated
  client would send a file's name instead of its bytes;
- every error response is ``ProblemDetails`` under ``application/problem+json``, the media type
  it is sent with (serve/problems.py), never under ``application/json``;
- FastAPI's own validation-error schema (``HTTPValidationError``) is never sent (validation
  errors are problems too), so it is replaced where FastAPI adds it and dropped;
- an optional form field is not nullable: a form cannot send null, and a generated client
  told it may would send the text "None". Leaving the field out is how to omit it.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI

from facesift.serve.problems import PROBLEM_JSON

PROBLEM_REF = {"$ref": "#/components/schemas/ProblemDetails"}
UNSENT_SCHEMAS = ("HTTPValidationError", "ValidationError")


def install(app: FastAPI) -> None:
    """Make ``app.openapi()`` (and so /openapi.json) return the fixed document."""
    generate = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            app.openapi_schema = for_generators(generate())
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]


def for_generators(spec: dict[str, Any]) -> dict[str, Any]:
    for operations in spec.get("paths", {}).values():
        for operation in operations.values():
            for status, response in operation.get("responses", {}).items():
                if status[0] in "45":
                    response["content"] = {PROBLEM_JSON: {"schema": PROBLEM_REF}}
    schemas = spec.get("components", {}).get("schemas", {})
    for name in UNSENT_SCHEMAS:
        schemas.pop(name, None)
    for schema in schemas.values():
        _binary_files(schema)
    for name in _form_schemas(spec):
        for field in schemas[name].get("properties", {}).values():
            _not_nullable(field)
    return spec


def _form_schemas(spec: dict[str, Any]) -> set[str]:
    """The component names of multipart request bodies."""
    names = set()
    for operations in spec.get("paths", {}).values():
        for operation in operations.values():
            content = operation.get("requestBody", {}).get("content", {})
            ref = content.get("multipart/form-data", {}).get("schema", {}).get("$ref", "")
            if ref.startswith("#/components/schemas/"):
                names.add(ref.rsplit("/", 1)[1])
    return names


def _not_nullable(field: dict[str, Any]) -> None:
    choices = field.get("anyOf")
    if not choices or {"type": "null"} not in choices:
        return
    rest = [choice for choice in choices if choice != {"type": "null"}]
    del field["anyOf"]
    if len(rest) == 1:
        field.update(rest[0])
    else:
        field["anyOf"] = rest


def _binary_files(node: Any) -> None:
    """Mark every uploaded-file schema (a string with a content media type) as binary."""
    if isinstance(node, dict):
        if node.get("type") == "string" and "contentMediaType" in node:
            node["format"] = "binary"
        for value in node.values():
            _binary_files(value)
    elif isinstance(node, list):
        for value in node:
            _binary_files(value)
