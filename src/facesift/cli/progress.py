"""The progress bar of the long image jobs (ingest, re-embed): images done of the total, the
rate, and the faces found so far, fed by the engine's ``on_total`` / ``on_progress`` callbacks."""

from __future__ import annotations

from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    ProgressColumn,
    Task,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.text import Text

from facesift.cli.common import errors


class RateColumn(ProgressColumn):
    def render(self, task: Task) -> Text:
        speed = task.finished_speed or task.speed
        return Text(f"{speed:.1f} img/s" if speed else "– img/s", style="cyan")


class FacesColumn(ProgressColumn):
    def render(self, task: Task) -> Text:
        return Text(f"{task.fields.get('faces', 0)} faces", style="magenta")


class ImageJobProgress:
    """``with ImageJobProgress("ingest") as bar: engine.ingest(..., on_total=bar.on_total,
    on_progress=bar.on_progress)``. Drawn on stderr, so --json output stays clean."""

    def __init__(self, label: str):
        self.progress = Progress(
            TextColumn(f"[bold]{label}"),
            BarColumn(),
            MofNCompleteColumn(),
            RateColumn(),
            FacesColumn(),
            TimeElapsedColumn(),
            TimeRemainingColumn(),
            console=errors,
        )
        self.task = self.progress.add_task(label, total=None, faces=0)
        self.faces = 0

    def on_total(self, total: int) -> None:
        self.progress.update(self.task, total=total)

    def on_progress(self, images: int, faces: int) -> None:
        self.faces += faces
        self.progress.update(self.task, advance=images, faces=self.faces)

    def __enter__(self) -> ImageJobProgress:
        self.progress.__enter__()
        return self

    def __exit__(self, *exc) -> None:
        self.progress.__exit__(*exc)
