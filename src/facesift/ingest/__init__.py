"""Ingest: declared sources, readers of folders and files, and resumable parallel ingest jobs."""
