"""The ASGI application: one engine per app, the REST API at /api/v1, the web UI (if installed)
at /, OpenAPI docs at /docs and /redoc (their scripts and styles ship in serve/static/vendor, so
the docs work on a gallery server that reaches no other site)."""

from __future__ import annotations

import logging
from contextlib import asynccontextmanager
from pathlib import Path

from fastapi import FastAPI
from fastapi.openapi.docs import (
    get_redoc_html,
    get_swagger_ui_html,
    get_swagger_ui_oauth2_redirect_html,
)
from fastapi.responses import HTMLResponse
from fastapi.routing import APIRoute
from fastapi.staticfiles import StaticFiles

import facesift
from facesift.config import Settings
from facesift.engine import FaceSift
from facesift.serve import openapi, problems
from facesift.serve.api import api_router
from facesift.serve.api.gallery import health
from facesift.serve.jobs import JobRegistry
from facesift.serve.limits import BodySizeLimit, TokenBuckets
from facesift.serve.schemas import Health

log = logging.getLogger(__name__)

STATIC = Path(__file__).with_name("static")
BACKGROUND_NICENESS = 10
RATE_LIMITS_FILE = "rate-limits.sqlite"  # shared by the server's processes (serve/limits.py)


def operation_id(route: APIRoute) -> str:
    """An operation's id is its handler's name (``list_sources``, ``search``): stable for
    generated clients, unlike FastAPI's default (name, path and method run together)."""
    return route.name


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or Settings()
    if "ingest_worker_niceness" not in settings.model_fields_set:
        # Ingest jobs are background work: searches keep their share of the CPU.
        settings = settings.model_copy(update={"ingest_worker_niceness": BACKGROUND_NICENESS})
    engine = FaceSift(settings)
    jobs = JobRegistry(engine.data_dir)

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        try:
            yield
        finally:
            jobs.shutdown()
            engine.close()

    app = FastAPI(
        title="facesift",
        version=getattr(facesift, "__version__", "0"),
        summary="Lawful-by-design face search: declared sources, audited searches, reviewed "
        "leads, subject rights by face.",
        lifespan=lifespan,
        docs_url=None,  # served by _mount_docs from the vendored assets
        redoc_url=None,
        openapi_url="/openapi.json",
        generate_unique_id_function=operation_id,
    )
    app.state.engine = engine
    app.state.jobs = jobs
    limits = engine.data_dir / RATE_LIMITS_FILE
    app.state.rate_limits = TokenBuckets(limits, settings.api_requests_per_minute)
    app.state.wrong_keys = TokenBuckets(
        limits,
        settings.api_wrong_keys_per_minute,
        burst=settings.api_wrong_keys_per_minute,
        scope="wrong-keys",
    )
    problems.install(app)
    openapi.install(app)
    app.add_middleware(BodySizeLimit, limit=settings.api_max_request_bytes)
    app.add_api_route(
        "/health",
        health,
        methods=["GET"],
        tags=["health"],
        response_model=Health,
        operation_id="health_unversioned",
    )
    app.include_router(api_router, prefix="/api/v1")
    _mount_docs(app)
    _mount_web_ui(app)
    return app


VENDOR = "/static/vendor"


def _mount_docs(app: FastAPI) -> None:
    """/docs (Swagger UI) and /redoc from the copies in serve/static/vendor (their licences
    beside them), never from a CDN: a gallery server may reach no other site, and a page that
    loads scripts from elsewhere would tell that site who reads the docs."""
    title = f"{app.title} API"
    # The UI's stylesheet and script and the docs' vendored assets (mounted with or without
    # the web UI: the docs need them either way).
    app.mount("/static", StaticFiles(directory=STATIC), name="static")

    @app.get("/docs", include_in_schema=False)
    def swagger_ui() -> HTMLResponse:
        return get_swagger_ui_html(
            openapi_url=app.openapi_url or "/openapi.json",
            title=title,
            swagger_js_url=f"{VENDOR}/swagger-ui/swagger-ui-bundle.js",
            swagger_css_url=f"{VENDOR}/swagger-ui/swagger-ui.css",
            swagger_favicon_url=f"{VENDOR}/swagger-ui/favicon-32x32.png",
            oauth2_redirect_url="/docs/oauth2-redirect",
            # Swagger UI would fetch a validity badge from validator.swagger.io for any spec not
            # on localhost: not from a gallery server.
            swagger_ui_parameters={"validatorUrl": None},
        )

    @app.get("/docs/oauth2-redirect", include_in_schema=False)
    def swagger_ui_redirect() -> HTMLResponse:
        return get_swagger_ui_oauth2_redirect_html()

    @app.get("/redoc", include_in_schema=False)
    def redoc() -> HTMLResponse:
        return get_redoc_html(
            openapi_url=app.openapi_url or "/openapi.json",
            title=title,
            redoc_js_url=f"{VENDOR}/redoc/redoc.standalone.js",
            redoc_favicon_url=f"{VENDOR}/swagger-ui/favicon-32x32.png",
            with_google_fonts=False,
        )


def _mount_web_ui(app: FastAPI) -> None:
    """The server-rendered UI lives in facesift.serve.web when it is installed beside the API."""
    try:
        from facesift.serve.web.routes import web_router
    except ModuleNotFoundError as error:
        if not (error.name or "").startswith("facesift.serve.web"):
            raise  # the UI is there but something it needs is not: say so
        return

    app.include_router(web_router)
