"""Alignment: pure functions from (image, landmarks) to the face chip an embedder needs."""

from facesift.align.chips import aligned_chip, sharpness

__all__ = ["aligned_chip", "sharpness"]
