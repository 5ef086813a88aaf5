"""Vector index: nearest-neighbour search over gallery embeddings, derived from the catalog."""

from facesift.index.base import VectorIndex
from facesift.index.faiss_disk import FaissDiskIndex

__all__ = ["FaissDiskIndex", "VectorIndex"]
