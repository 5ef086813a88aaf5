"""The HTTP edge of facesift: a REST API (and, when installed beside it, a web UI) over the same
engine, roles and audit trail as the CLI. Build the app with ``create_app``; run it with
``facesift serve``."""
