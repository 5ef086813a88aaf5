"""Request limits: body size (refused before the body is read) and a token bucket per caller,
shared by the server's processes."""

from __future__ import annotations

import json
import math
import sqlite3
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from facesift.serve.problems import PROBLEM_JSON
from facesift.sqlite_files import write_transaction


class BodySizeLimit:
    """ASGI middleware: a request declaring more than ``limit`` bytes is answered 413 at once,
    without reading its body; one that sends more than it declared (or declares nothing, as
    chunked uploads do) is cut off as soon as it passes the limit."""

    def __init__(self, app: ASGIApp, limit: int):
        self.app, self.limit = app, limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = dict(scope.get("headers") or ()).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.limit:
            await self._refuse(scope, send)
            return
        seen = 0

        async def limited_receive() -> Message:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.limit:
                    # An HTTPException passes through FastAPI's body parsing unchanged and
                    # becomes a 413 problem (serve/problems.py).
                    raise HTTPException(413, self._detail())
            return message

        await self.app(scope, limited_receive, send)

    def _detail(self) -> str:
        return (
            f"request body is over the limit of {self.limit:,} bytes "
            "(FACESIFT_API_MAX_REQUEST_BYTES); send fewer or smaller files per request"
        )

    async def _refuse(self, scope: Scope, send: Send) -> None:
        body = json.dumps(
            {
                "type": "urn:facesift:problem:request-too-large",
                "title": "Content Too Large",
                "status": 413,
                "detail": self._detail(),
                "instance": scope.get("path", ""),
            }
        ).encode()
        await send(
            {
                "type": "http.response.start",
                "status": 413,
                "headers": [
                    (b"content-type", PROBLEM_JSON.encode()),
                    (b"content-length", str(len(body)).encode()),
                    (b"connection", b"close"),
                ],
            }
        )
        await send({"type": "http.response.body", "body": body})


class TokenBuckets:
    """A token bucket per caller: ``per_minute`` requests a minute on average, bursts of
    ``burst``. ``take`` returns 0 when a request may go ahead, else the seconds to wait.

    The buckets live in a SQLite file (``path``) that every process of the server shares, so a
    caller gets ``per_minute`` from the server, not from each of its ``--workers`` (a client's
    connection stays with one process, so a limit split between them would not do). Buckets of
    different limits (``scope``) share the file. The clock is the system's monotonic clock, the
    same for every process of one machine; a bucket stamped later than now (a reboot) starts
    full. The state is small and may be lost (no fsync): a lost bucket starts full.
    """

    def __init__(
        self,
        path: Path,
        per_minute: int,
        burst: int | None = None,
        *,
        scope: str = "requests",
        clock=time.monotonic,
    ):
        self.path, self.scope, self.clock = Path(path), scope, clock
        self.rate = per_minute / 60.0
        self.burst = float(burst if burst is not None else max(1, per_minute // 10))
        self._local = threading.local()
        self._takes = 0
        with self._transaction() as db:
            db.execute(
                "CREATE TABLE IF NOT EXISTS buckets (scope TEXT NOT NULL, caller TEXT NOT NULL, "
                "tokens REAL NOT NULL, updated REAL NOT NULL, PRIMARY KEY (scope, caller))"
            )

    def take(self, caller: str) -> int:
        with self._transaction() as db:
            now = self.clock()
            tokens = self._tokens(db, caller, now)
            wait = 0 if tokens >= 1 else max(1, math.ceil((1 - tokens) / self.rate))
            db.execute(
                "INSERT OR REPLACE INTO buckets VALUES (?, ?, ?, ?)",
                (self.scope, caller, tokens - 1 if tokens >= 1 else tokens, now),
            )
            self._takes += 1
            if self._takes % 1000 == 0:  # forget idle callers rather than grow forever
                db.execute(
                    "DELETE FROM buckets WHERE scope = ? AND tokens + (? - updated) * ? >= ?",
                    (self.scope, now, self.rate, self.burst),
                )
        return wait

    def waiting(self, caller: str) -> int:
        """Seconds until ``caller`` may go ahead, without taking a token (0: now)."""
        # One SELECT, atomic by itself: no write lock (every API request asks this first).
        tokens = self._tokens(self._connection(), caller, self.clock())
        return 0 if tokens >= 1 else max(1, math.ceil((1 - tokens) / self.rate))

    def _tokens(self, db: sqlite3.Connection, caller: str, now: float) -> float:
        row = db.execute(
            "SELECT tokens, updated FROM buckets WHERE scope = ? AND caller = ?",
            (self.scope, caller),
        ).fetchone()
        if row is None or row[1] > now:
            return self.burst
        tokens, updated = row
        return min(self.burst, tokens + (now - updated) * self.rate)

    def _connection(self) -> sqlite3.Connection:
        db = getattr(self._local, "db", None)
        if db is None:  # one connection per thread (requests run on the server's thread pool)
            db = sqlite3.connect(self.path, timeout=30, isolation_level=None)
            db.execute("PRAGMA journal_mode=WAL")
            db.execute("PRAGMA synchronous=OFF")
            self._local.db = db
        return db

    @contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        with write_transaction(self._connection()) as db:
            yield db
