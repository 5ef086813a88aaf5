"""What every command shares: settings from options and environment, the engine, the operator."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from facesift.config import Settings
from facesift.engine import FaceSift
from facesift.govern.roles import Actor

# --workers: threads or processes is chosen by the models (ingest/jobs.py, analysis_in_threads).
WORKERS_HELP = "Workers: threads for the default models, processes for dlib (default: all cores)."

console = Console()
errors = Console(stderr=True)

DataDir = Annotated[
    Path | None,
    typer.Option("--data-dir", envvar="FACESIFT_DATA_DIR", help="Gallery data directory."),
]
AsJson = Annotated[bool, typer.Option("--json", help="Print JSON.")]
FaceNumber = Annotated[
    int | None, typer.Option("--face", help="Use face N of the photo (1-based, left to right).")
]


def settings_for(data_dir: Path | None, **overrides) -> Settings:
    values = {k: v for k, v in overrides.items() if v is not None}
    if data_dir is not None:
        values["data_dir"] = data_dir
    return Settings(**values)


def open_engine(data_dir: Path | None, **overrides) -> FaceSift:
    return FaceSift(settings_for(data_dir, **overrides))


def acting_operator(engine: FaceSift) -> Actor:
    """The CLI acts as the operator named by FACESIFT_API_KEY or FACESIFT_OPERATOR."""
    return engine.operator(
        key=os.environ.get("FACESIFT_API_KEY") or None,
        name=os.environ.get("FACESIFT_OPERATOR") or None,
    )
