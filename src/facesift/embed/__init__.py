"""Embedding: aligned face chips → vectors in a declared embedding space."""

from facesift.embed.base import Embedder, available_embedders, create_embedder

__all__ = ["Embedder", "available_embedders", "create_embedder"]
