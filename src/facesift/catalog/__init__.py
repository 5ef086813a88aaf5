"""Catalog: the durable record of sources, images and faces (the source of truth)."""

from facesift.catalog.base import Catalog, NewImage, StoredFace
from facesift.catalog.sql import SqlCatalog

__all__ = ["Catalog", "NewImage", "SqlCatalog", "StoredFace"]
