"""What the API's routers share: documented problem responses."""

from __future__ import annotations

from typing import Any

from facesift.serve.schemas import ProblemDetails

DESCRIBED = {
    400: "The request was refused",
    401: "No valid API key (X-API-Key)",
    403: "The operator's role does not allow this",
    404: "Not found",
    409: "Conflicts with the current state (another writer, a second review)",
    413: "Upload over the size limit",
    415: "Upload is not an accepted image type (judged by content)",
    422: "Invalid input; the detail names it",
    429: "Rate limit reached; see Retry-After",
}

BINARY = {"type": "string", "format": "binary"}


def problems(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI entries for the problem responses an endpoint can give; any request can be
    malformed (400) or too large (413). The body is ``ProblemDetails`` as
    ``application/problem+json`` (serve/openapi.py puts the schema under that media type)."""
    return {
        status: {"description": DESCRIBED[status], "model": ProblemDetails}
        for status in sorted({400, 413, *statuses})
    }


def binary(media_type: str, description: str) -> dict[str, Any]:
    """An OpenAPI response whose body is a file of ``media_type`` (an image, say)."""
    return {"description": description, "content": {media_type: {"schema": BINARY}}}


AUTHED = problems(401, 403, 422, 429)
UPLOADS = problems(400, 401, 403, 413, 415, 422, 429)
