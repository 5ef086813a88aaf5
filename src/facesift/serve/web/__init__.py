"""The web UI (server-rendered pages): see routes.py."""
