"""Settings: created by whoever builds the engine (CLI, API, tests), never imported as a global."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Literal

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

# The default pipeline for new galleries (docs/accuracy.md has its measured figures). A gallery
# already built with other models keeps using them until `facesift reembed` moves it.
DEFAULT_DETECTOR = "yunet"
DEFAULT_EMBEDDER = "reid-0095"
# The detector whose landmarks each embedder's chips are aligned from, used when a gallery's
# recorded embedder is chosen and the operator named no detector.
PAIRED_DETECTOR = {
    "reid-0095": "yunet",
    "dlib-resnet": "dlib-hog",
    "onnx-arcface": "onnx-scrfd",
}


def usable_cores() -> int:
    """The cores this process may run on (its CPU affinity, which containers and taskset set)."""
    return max(1, len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else 1)


def _user_model_cache() -> Path:
    """This user's cache folder for compiled models (XDG's, as on Linux desktops and servers)."""
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "facesift" / "models"


def is_milvus_lite(uri: str) -> bool:
    """A Milvus URI naming a local file is Milvus Lite, which pymilvus starts in-process."""
    return uri.endswith(".db")


class Settings(BaseSettings):
    """facesift configuration. Environment variables use the prefix ``FACESIFT_``."""

    model_config = SettingsConfigDict(env_prefix="FACESIFT_", env_nested_delimiter="__")

    data_dir: Path = Field(
        default=Path("facesift-data"), description="Where catalog and index live."
    )
    catalog_url: str | None = Field(
        default=None,
        description="SQLAlchemy URL: a SQLite file in data_dir by default, or PostgreSQL "
        "(postgresql+psycopg://..., see docs/scaling-postgres.md).",
    )
    # Unset, a gallery keeps the models it was built with (new galleries: the defaults above);
    # set, they are what the operator asks for, and a gallery of another space refuses them
    # until `facesift reembed` has moved it.
    detector: str = DEFAULT_DETECTOR
    embedder: str = DEFAULT_EMBEDDER
    # Operator-supplied ONNX models (docs/models.md): FACESIFT_EMBEDDER=onnx-arcface and
    # FACESIFT_DETECTOR=onnx-scrfd read these files; facesift ships and downloads none.
    onnx_embedder_model: Path | None = None
    onnx_detector_model: Path | None = None
    # SCRFD exports with a dynamic input size are run at this square size (insightface's 640).
    onnx_detector_input_size: int = Field(default=640, ge=64, le=4096)
    onnx_detector_score_threshold: float = Field(default=0.5, gt=0, lt=1)
    # Faces smaller than this (box side, in pixels of the original image) are not searched for:
    # below ~40 px the dlib embedding degrades sharply and detection becomes unreliable.
    min_face_size: int = Field(default=40, ge=20)
    # Large photos are shrunk for detection only (boxes are mapped back; landmarks and chips use
    # the full image), which bounds detection time without losing faces above min_face_size.
    # The yunet detector shrinks by min_face_size alone and uses this as its largest tile side
    # (at least 384), so small faces in big photos are still found (docs/accuracy.md).
    max_detect_side: int = Field(default=1600, ge=320)
    # Decompression-bomb guard: refuse images with more pixels than this.
    max_image_pixels: int = Field(default=80_000_000, ge=1_000_000)
    # Files larger than this are refused before being read (no photo needs more).
    max_file_bytes: int = Field(default=200 * 2**20, ge=2**20)
    # The anonymous subject-request portal takes selfies up to this size and this many pixels:
    # a phone photo fits, and nobody can make the server decode or store big files unasked.
    portal_max_selfie_bytes: int = Field(default=15 * 2**20, ge=2**20)
    portal_max_selfie_pixels: int = Field(default=50_000_000, ge=1_000_000)
    workers: int = Field(default_factory=usable_cores, ge=1)
    # How ingest, re-embed and evaluation run their ``workers``: "threads" (one analyser per
    # thread in this process: no start-up per worker, models compiled once) or "processes"
    # (spawned workers: a crash in a native decoder or model takes only its worker down).
    # "auto" takes threads when the detector and embedder both declare they release the GIL
    # (yunet, reid-0095, the onnx backends) and processes otherwise (dlib holds the GIL).
    analysis_workers: Literal["auto", "threads", "processes"] = "auto"
    # Keep compiled models (OpenVINO's, for reid-0095) in model_cache_dir, so the next process
    # loads them instead of compiling: 0.5 s instead of 2.8 s on the 2-core machine, for every
    # CLI command, server start and ingest worker that analyses a photo. They are derived from
    # the shipped weights alone (no personal data), so one per user serves every gallery; a
    # folder that cannot be written means compiling every time, not a failure.
    model_cache: bool = True
    model_cache_dir: Path = Field(default_factory=_user_model_cache)
    # The longest retention a source may declare. Data kept without end is what regulators fined
    # Clearview for; ten years covers the review periods of police custody images (e.g. the
    # UK's six-year MoPI review) and KYC record keeping (five years after the relationship), and
    # an operator whose law requires longer must raise this deliberately (up to 100 years).
    max_retention_days: int = Field(default=3653, ge=1, le=36_500)
    # Galleries up to this many faces use exact search; above it an IVF index (docs/benchmarks.md).
    exact_search_max_faces: int = Field(default=200_000, ge=1)
    # Vector index backend: "faiss" (a file beside the catalog), "milvus" (extra `milvus`) or
    # "pgvector" (PostgreSQL with the pgvector extension; extra `pgvector`).
    vector_index: str = "faiss"
    # Milvus: a server URL (http://host:19530) or a Milvus Lite file ending in .db; default is a
    # Milvus Lite file in data_dir. The token is "user:password" or an API key.
    milvus_uri: str | None = None
    milvus_token: str = ""
    milvus_collection: str = Field(default="facesift_faces", pattern=r"^[A-Za-z_][A-Za-z0-9_]*$")
    # pgvector: a PostgreSQL URL (postgresql://... or postgresql+psycopg://...); unset, the
    # catalog's own database when the catalog is on PostgreSQL, so one store holds both.
    pgvector_url: str | None = None
    pgvector_table: str = Field(default="facesift_vectors", pattern=r"^[a-z_][a-z0-9_]{0,47}$")
    # HNSW candidates per search (pgvector's hnsw.ef_search, raised to k for larger k).
    pgvector_ef_search: int = Field(default=100, ge=1, le=1000)
    # Above this many faces, IVF-PQ codes in memory with exact re-ranking from a memory-mapped
    # embeddings file (~40 bytes of memory per face instead of ~530; docs/scaling.md).
    compressed_search_min_faces: int = Field(default=2_000_000, ge=1)
    # Operating point for "match": the distance whose false-match rate on the shipped
    # calibration (LFW impostor pairs) is this value.
    match_false_match_rate: float = Field(default=1e-3, gt=0, lt=1)
    # Subject access and erasure by selfie. Never stricter than search: a photo a search could
    # return must also be shown to, and erasable by, the person in it. Being wider means some
    # candidates are other people, so candidates are reviewed before release or erasure.
    subject_false_match_rate: float = Field(default=1e-3, gt=0, lt=1)
    # The loosest false-match rate (per comparison) a search or verification may be widened to
    # with an explicit threshold. At 1% a search of 100k faces already shows ~1,000 strangers
    # per probe before top-k; wider would page through the gallery (docs/governance.md).
    max_search_false_match_rate: float = Field(default=1e-2, gt=0, lt=1)
    # Deployment policy: every search and verification states a purpose and a case reference.
    require_purpose_and_case: bool = True
    # `facesift serve`: requests larger than this are refused before their body is read, and each
    # API key (or, for the public subject-request portal, each client address) may make this many
    # requests per minute, in bursts of up to a tenth of it.
    # Ingest worker processes run at this niceness (0 = as the caller). `facesift serve` defaults
    # it to 10: ingest is background work, and searches must keep their share of the CPU.
    ingest_worker_niceness: int = Field(default=0, ge=0, le=19)
    api_max_request_bytes: int = Field(default=256 * 2**20, ge=2**16)
    api_requests_per_minute: int = Field(default=600, ge=1)
    # Wrong API keys a client address may send a minute (in bursts of as many): a guesser sends
    # a new key each time, so the per-key limit alone would never slow them down.
    api_wrong_keys_per_minute: int = Field(default=10, ge=1)

    @field_validator("data_dir")
    @classmethod
    def _expand(cls, value: Path) -> Path:
        return value.expanduser()

    def for_gallery(self, recorded_space: str | None) -> Settings:
        """These settings with the gallery's own models wherever the operator named none.

        ``recorded_space`` is the embedding-space key the catalog records (None for a gallery that
        holds no faces yet). An embedder's name is its space's model name."""
        if recorded_space is None or "embedder" in self.model_fields_set:
            return self
        embedder = recorded_space.split("/", 1)[0]
        if embedder == self.embedder:
            return self
        update = {"embedder": embedder}
        if "detector" not in self.model_fields_set:
            update["detector"] = PAIRED_DETECTOR.get(embedder, self.detector)
        return self.model_copy(update=update)

    @property
    def resolved_milvus_uri(self) -> str:
        return self.milvus_uri or str((self.data_dir / "milvus.db").resolve())

    @property
    def index_is_one_process_only(self) -> bool:
        """Milvus Lite (a local file) is opened by one process at a time."""
        return self.vector_index == "milvus" and is_milvus_lite(self.resolved_milvus_uri)

    @property
    def resolved_pgvector_url(self) -> str | None:
        """The pgvector index's database: its own URL, else a PostgreSQL catalog's, else None."""
        if self.pgvector_url:
            return self.pgvector_url
        catalog = self.resolved_catalog_url
        return catalog if catalog.startswith(("postgresql", "postgres:")) else None

    @property
    def resolved_catalog_url(self) -> str:
        if self.catalog_url:
            return self.catalog_url
        return f"sqlite:///{(self.data_dir / 'catalog.sqlite').resolve()}"
